"""GCS-specific behaviour: routing, retries only where a precondition makes them safe, lazy import."""
from __future__ import annotations

import http.client
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError

from adaptors.gcp import parse_gs_uri
from state.gcs import GcsStore
from state.store import PreconditionFailed
from state.uri import open_store
from specs.model import NASExperiment


OUTAGE = "We encountered an internal error. Please try again."  # GCS's words for a 503


class FlakyProxy:
    """Forwards to the GCS server, answering 503 to the next `failures` requests of `method`
    (before forwarding them, or after when `forward_failures`)."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.failures = 0
        self.method = "POST"
        self.forward_failures = False  # True: the request reaches the server, only the answer is lost
        self.seen: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _fail(self) -> None:
                """Answer 503 as GCS does (a JSON error body) and count one injected failure."""
                proxy.failures -= 1
                proxy.seen.append((self.command, self.path, 503))
                body = json.dumps({"error": {"code": 503, "message": OUTAGE}}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == proxy.method and proxy.failures > 0 and not proxy.forward_failures:
                    self._fail()
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                if self.command == proxy.method and proxy.failures > 0:  # applied, but answer lost
                    self._fail()
                    return
                proxy.seen.append((self.command, self.path, response.status))
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky(gcs_bucket: str, gcs_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FlakyProxy, str]]:
    proxy = FlakyProxy(gcs_url)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    yield proxy, gcs_bucket
    proxy.close()


def test_parse_gs_uri() -> None:
    assert parse_gs_uri("gs://bkt/a/b/") == ("bkt", "a/b")
    assert parse_gs_uri("gs://bkt") == ("bkt", "")
    with pytest.raises(ValueError):
        parse_gs_uri("gs:///nobucket")
    with pytest.raises(ValueError):
        parse_gs_uri("/tmp/x")


def test_open_store_routes_gs_to_gcs(gcs_bucket: str) -> None:
    store = open_store(f"gs://{gcs_bucket}/nas/", "exp-1")
    assert isinstance(store, GcsStore)
    assert store.uri == f"gs://{gcs_bucket}/nas/exp-1"
    store.put("experiment.json", {"ok": True}, if_generation=0)
    other = open_store(f"gs://{gcs_bucket}/nas", "exp-2")
    assert other.list() == [] and store.list() == ["experiment.json"]


def _spec(state_uri: str) -> str:
    return f"""
kind: NASExperiment
metadata: {{name: demo}}
spec:
  stateUri: {state_uri}
  searchSpace: {{prebuilt: nb201}}
  trainer: {{prebuilt: nb201-tabular}}
  search: {{maxTrials: 2}}
"""


def test_spec_accepts_gs_and_rejects_bucketless_uri() -> None:
    assert NASExperiment.model_validate(yaml.safe_load(_spec("gs://bkt/prefix"))).spec.state_uri == "gs://bkt/prefix"
    with pytest.raises(ValidationError) as info:
        NASExperiment.model_validate(yaml.safe_load(_spec("gs:///prefix")))
    assert "needs a bucket" in str(info.value)


def _retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "state.gcs" and record.levelno == logging.WARNING]


def test_conditional_write_is_retried_after_503(flaky: tuple[FlakyProxy, str], caplog: pytest.LogCaptureFixture) -> None:
    proxy, bucket = flaky
    store = GcsStore(f"gs://{bucket}/p")
    proxy.failures = 1
    generation = store.put("trials.json", {"n": 1}, if_generation=0)
    statuses = [status for method, _, status in proxy.seen if method == "POST"]
    assert statuses == [503, 200]
    assert _retry_warnings(caplog) == [f"GCS answered ServiceUnavailable: {OUTAGE} (retrying)"]
    got = store.get("trials.json")
    assert got is not None and got.generation == generation


def test_unconditional_write_is_not_retried(flaky: tuple[FlakyProxy, str]) -> None:
    from google.api_core import exceptions

    proxy, bucket = flaky
    store = GcsStore(f"gs://{bucket}/p")
    proxy.failures = 1
    with pytest.raises(exceptions.ServiceUnavailable):
        store.put("trials.json", {"n": 1})
    assert [status for method, _, status in proxy.seen if method == "POST"] == [503]


def test_reads_are_retried(flaky: tuple[FlakyProxy, str], caplog: pytest.LogCaptureFixture) -> None:
    proxy, bucket = flaky
    store = GcsStore(f"gs://{bucket}/p")
    store.put("experiment.json", {"phase": "Running"})
    assert not _retry_warnings(caplog)
    proxy.method, proxy.failures = "GET", 2
    got = store.get("experiment.json")
    assert got is not None and got.data == {"phase": "Running"}
    # Each retry of ours is said, so a long outage does not look like a hang. (The storage client's own
    # background fetch of the bucket's metadata may take one of the 503s; it is not a state request.)
    object_outages = [path for _, path, status in proxy.seen if status == 503 and "/o/" in path]
    assert object_outages and len(_retry_warnings(caplog)) == len(object_outages)
    assert set(_retry_warnings(caplog)) == {f"GCS answered ServiceUnavailable: {OUTAGE} (retrying)"}


def test_lock_acquire_survives_a_lost_response(flaky: tuple[FlakyProxy, str]) -> None:
    """The create lands but its answer is lost, so the retry sees 412: the lock is still ours."""
    proxy, bucket = flaky
    store = GcsStore(f"gs://{bucket}/p")
    proxy.failures, proxy.forward_failures = 1, True
    lease = store.acquire_lock("alice:1", lease_seconds=60)
    assert [status for method, _, status in proxy.seen if method == "POST"] == [503, 412]
    assert lease.holder == "alice:1"
    assert store.renew_lock(lease).holder == "alice:1"


def test_lost_answer_to_a_document_write_is_reported_not_hidden(flaky: tuple[FlakyProxy, str]) -> None:
    """Without a nonce the store cannot tell its own write from a rival's: it says so (412)."""
    proxy, bucket = flaky
    store = GcsStore(f"gs://{bucket}/p")
    proxy.failures, proxy.forward_failures = 1, True
    with pytest.raises(PreconditionFailed):
        store.put("trials.json", {"n": 1}, if_generation=0)
    got = store.get("trials.json")
    assert got is not None and got.data == {"n": 1}


def test_opening_a_store_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate and the cost preview open the store; only reading or writing needs a client."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
    store = open_store("gs://bkt/prefix", "exp")
    assert store.uri == "gs://bkt/prefix/exp"


def test_state_modules_do_not_import_storage_eagerly() -> None:
    code = ("import sys, state.uri, state.gcs; "
            "print('google.cloud.storage' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("trial_count", [3, 300])
def test_reading_the_state_costs_the_same_requests_whatever_the_trial_count(
        flaky: tuple[FlakyProxy, str], tmp_path, trial_count: int) -> None:
    """A pass reads experiment.json and trials.json, not one object per trial."""
    from state.records import TrialRecord
    from reconciler.session import Session
    from state.snapshot import load_state, save_experiment, save_trials

    proxy, bucket = flaky
    spec = tmp_path / "exp.yaml"
    spec.write_text(_spec(f"gs://{bucket}/state").replace("maxTrials: 2", "maxTrials: 500"))
    session = Session.open(spec)
    state = load_state(session.store, "demo", "g")
    state.add(TrialRecord(id=f"search-{i:04d}", stage="search", index=i, dna=[0], arch={}) for i in range(trial_count))
    save_experiment(session.store, state)  # as apply records it, before any trial
    save_trials(session.store, state)
    proxy.seen.clear()
    assert len(Session.open(spec).state().trials) == trial_count
    downloads = [path.split("?")[0].rsplit("%2F", 1)[1] for _, path, _ in proxy.seen if path.startswith("/download/")]
    assert downloads == ["experiment.json", "trials.json"]
    # everything else is the client looking the bucket up (once per read, more on a retried connection):
    # no request names a trial, however many there are
    others = [path for _, path, _ in proxy.seen if not path.startswith("/download/")]
    assert others and all(path.split("?")[0] == f"/storage/v1/b/{bucket}" for path in others)


def test_a_large_document_is_downloaded_again_only_when_it_changed(flaky: tuple[FlakyProxy, str]) -> None:
    """A long-running apply re-reads the trial index every pass: unchanged, only its metadata is read."""
    proxy, bucket = flaky
    store, other = GcsStore(f"gs://{bucket}/state/demo"), GcsStore(f"gs://{bucket}/state/demo")  # two processes
    index = {"trials": [{"id": f"search-{i:04d}", "arch": "x" * 80} for i in range(500)]}  # about 50 KB
    written = store.put("trials.json", index)

    def downloads() -> list[str]:
        return [path for _, path, _ in proxy.seen if path.startswith("/download/")]

    proxy.seen.clear()
    for _ in range(3):
        read = store.get("trials.json")
        assert (read.data, read.generation) == (index, written)
    assert downloads() == [], "kept from its own write; each read checked the generation only"

    changed = {"trials": index["trials"][:-1]}
    newer = other.put("trials.json", changed, if_generation=written)  # another process writes it
    proxy.seen.clear()
    read = store.get("trials.json")
    assert (read.data, read.generation) == (changed, newer) and len(downloads()) == 1
    proxy.seen.clear()
    assert store.get("trials.json").data == changed and downloads() == []

    store.put("experiment.json", {"phase": "Running"})  # small: always downloaded, never revalidated
    proxy.seen.clear()
    assert store.get("experiment.json").data == {"phase": "Running"} and len(downloads()) == 1
    assert len(proxy.seen) == 1 + sum(path.split("?")[0] == f"/storage/v1/b/{bucket}" for _, path, _ in proxy.seen)

    other.delete("trials.json")
    assert store.get("trials.json") is None
