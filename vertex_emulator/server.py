"""The loopback HTTP front end (JobService v1 REST) and :class:`VertexEmulator`, its public handle."""
from __future__ import annotations

import functools
import json
import logging
import re
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1 import JobServiceClient, types
from google.protobuf import json_format

from trial.fuse import GCS_FUSE_ROOT_ENV  # where a job's /gcs/ paths are served from
from vertex_emulator.capacity import Capacity
from vertex_emulator.clock import Clock
from vertex_emulator.engine import Context, Engine
from vertex_emulator.errors import ApiError, invalid
from vertex_emulator.faults import Faults
from vertex_emulator.jobs import CANCELLED, FAILED
from vertex_emulator.listing import page
from vertex_emulator.nas import CONTINUE, RESTART
from vertex_emulator.quota import Key, Quota
from vertex_emulator.rates import DEFAULT_RATE_LIMITS, RateQuotas
from vertex_emulator.validation import NAS_REGIONS, TRAINING_REGIONS, check_location, not_found, parse

_PARENT = r"projects/[^/]+/locations/([^/]+)"
_PROJECT_REGION = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)")
_COLLECTION = re.compile(rf"^/v1/({_PARENT})/(customJobs|nasJobs)$")
_ITEM = re.compile(rf"^/v1/({_PARENT}/(customJobs|nasJobs)/[^/:]+)(:cancel)?$")
_DETAILS = re.compile(rf"^/v1/({_PARENT}/nasJobs/[^/:]+)/nasTrialDetails(?:/([^/]+))?$")
_KIND = {"customJobs": "CustomJob", "nasJobs": "NasJob"}


@dataclass(frozen=True)
class Request:
    method: str  # HTTP method
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any] | None


def _render(message: Any) -> bytes:
    return json_format.MessageToJson(message).encode()


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a timed-out or cancelled call) is routine, as on the real
    service: nothing is printed for it; any other handler error still is."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset, ...
            super().handle_error(request, client_address)


class VertexEmulator:
    """A JobService v1 emulator on loopback; use as a context manager.

    ``quotas``: ``{(region, accelerator type name): GPUs}``; ``time_scale``: job seconds per wall second;
    ``gcs_root``: local directory standing for ``/gcs`` (``/gcs/<bucket>/x`` is ``<gcs_root>/<bucket>/x``),
    passed to every process as ``NASCTL_GCS_FUSE_ROOT``; ``work_dir``: where process logs and metric files
    go (a temporary directory by default); ``image_entrypoints``: ``{image_uri: command}`` for pools
    without ``container_spec.command``; ``seed``: the random controller's and fault fractions' seed;
    ``nas_limit_state``: the state a NasJob ends in at its 14-day limit, ``JOB_STATE_FAILED`` (with
    DEADLINE_EXCEEDED) or ``JOB_STATE_CANCELLED`` (Google's NAS client says a job past its scheduling
    timeout "gets cancelled"; which one the service uses is not documented); ``nas_resume_numbering``: how
    a resumed NasJob numbers its trials, ``continue`` (it lists the earlier job's trials and numbers new ones
    after them) or ``restart`` (only its own, from 1 again; the service's way is not documented either);
    ``rate_limits`` / ``rate_window_s``: requests per window per project and region (rates.py; the service's
    60 job submissions and 600 other requests a minute by default).
    Attributes for tests: ``endpoint``, ``faults`` (faults.py), ``rates`` (rates.py: ``refused`` counts its
    429s), ``quota`` (its ``limits`` may be changed while running), ``capacity`` (capacity.py: ``stockout(region, accelerator, jobs)``), ``clock``,
    ``requests`` (every request received: HTTP method, path, query, JSON body).
    """

    def __init__(self, *, quotas: dict[Key, int] | None = None, time_scale: float = 1.0,
                 gcs_root: str | Path | None = None, work_dir: str | Path | None = None, seed: int = 0,
                 image_entrypoints: dict[str, list[str]] | None = None,
                 nas_regions: frozenset[str] = NAS_REGIONS, training_regions: frozenset[str] = TRAINING_REGIONS,
                 tick_seconds: float = 0.02, nas_limit_state: str = FAILED, nas_resume_numbering: str = CONTINUE,
                 rate_limits: Mapping[str, int] = DEFAULT_RATE_LIMITS, rate_window_s: float = 60.0):
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="vertex-emulator-")
        self.work_dir = Path(work_dir or self._tmp.name)  # type: ignore[union-attr]
        env = {GCS_FUSE_ROOT_ENV: str(Path(gcs_root).resolve())} if gcs_root else {}
        self.clock = Clock(time_scale)
        self.quota = Quota(quotas)
        self.faults = Faults(seed)
        self.rates = RateQuotas(rate_limits, rate_window_s)
        if nas_limit_state not in (FAILED, CANCELLED):
            raise ValueError(f"nas_limit_state must be {FAILED} or {CANCELLED}, not {nas_limit_state}")
        if nas_resume_numbering not in (CONTINUE, RESTART):
            raise ValueError(f"nas_resume_numbering must be {CONTINUE} or {RESTART}, not {nas_resume_numbering}")
        self.capacity = Capacity()
        self.engine = Engine(Context(self.clock, self.quota, self.work_dir, env, dict(image_entrypoints or {}), seed,
                                     nas_limit_state, nas_resume_numbering, self.capacity), tick_seconds=tick_seconds)
        self.regions = {"customJobs": training_regions, "nasJobs": nas_regions}
        self.requests: list[Request] = []
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> VertexEmulator:
        self.engine.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.engine.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- for tests -----------------------------------------------------------------------------------
    def client(self) -> JobServiceClient:
        """A real ``aiplatform_v1.JobServiceClient`` (REST transport, anonymous) aimed at this emulator."""
        return JobServiceClient(transport="rest", credentials=AnonymousCredentials(),
                                              client_options={"api_endpoint": self.endpoint})

    def preempt(self, job_name: str, pool: int = 0, index: int = 0, trial_id: str | None = None) -> None:
        """Preempt worker `index` of pool `pool` of a running CustomJob (or of NasJob trial `trial_id`)."""
        self.engine.preempt(job_name, pool, index, trial_id)

    def job_dir(self, job_name: str) -> Path:
        """Where a job's process logs (``workerpool<N>-<I>.log``) go; NAS trials under ``<stage>/<trial id>/``."""
        return self.work_dir / job_name.rsplit("/", 1)[1]

    # -- HTTP ----------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> bytes:
        """The JSON answer to one request; raises ApiError for error answers."""
        engine = self.engine
        first = {key: values[0] for key, values in query.items()}
        call = functools.partial(self._call, path=path)
        if match := _COLLECTION.match(path):
            parent, location, collection = match.groups()
            kind = _KIND[collection]
            if method == "POST":
                call(f"Create{kind}")
                check_location(location, self.regions[collection])
                resource = parse(body, getattr(types, kind).pb())
                return engine.read(engine.create(parent, collection, resource), _render)
            if method == "GET":
                call(f"List{kind}s")
                check_location(location, self.regions[collection])
                jobs, token = engine.list(parent, collection, first.get("filter", ""), *_page_args(first))
                items = ",".join(engine.read(job, _render).decode() for job in jobs)
                return f'{{"{collection}": [{items}], "nextPageToken": "{token}"}}'.encode()
        if match := _DETAILS.match(path):
            name, _location, detail_id = match.groups()
            detail_class = types.NasTrialDetail.pb()
            if detail_id is None and method == "GET":
                call("ListNasTrialDetails")
                driver = engine.nas_driver(name)
                with driver.job.lock:
                    details = driver.details(detail_class)
                chunk, token = page(details, *_page_args(first), name)
                items = ",".join(_render(d).decode() for d in chunk)
                return f'{{"nasTrialDetails": [{items}], "nextPageToken": "{token}"}}'.encode()
            if method == "GET":
                call("GetNasTrialDetail")
                driver = engine.nas_driver(name)
                with driver.job.lock:
                    found = [d for d in driver.details(detail_class) if d.name.endswith(f"/{detail_id}")]
                if not found:
                    raise not_found(f"{name}/nasTrialDetails/{detail_id}")
                return _render(found[0])
        if match := _ITEM.match(path):
            name, _location, collection, cancel = match.groups()
            kind = _KIND[collection]
            if cancel and method == "POST":
                call(f"Cancel{kind}")
                engine.cancel(name, collection)
                return b"{}"
            if not cancel and method == "GET":
                call(f"Get{kind}")
                return engine.read(engine.get(name, collection), _render)
        raise ApiError("UNIMPLEMENTED", f"The emulator does not model {method} {path}.")

    def _call(self, rpc: str, path: str) -> None:
        """Apply injected faults to one call of `rpc` (delay, then maybe an error), then its rate quota."""
        delay, error = self.faults.on_call(rpc)
        if delay:
            time.sleep(delay)
        if error is not None:
            raise error
        if match := _PROJECT_REGION.match(path):
            self.rates.admit(rpc, *match.groups())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = parse_qs(url.query)
                try:
                    payload, status = emulator._route(self.command, url.path, query, raw), 200
                except ApiError as error:
                    payload, status = json.dumps(error.body()).encode(), error.http
                except Exception as error:  # noqa: BLE001 - an emulator bug answers 500, visibly
                    logging.getLogger(__name__).exception("%s %s failed", self.command, url.path)
                    failure = ApiError("INTERNAL", f"emulator error: {error!r}")
                    payload, status = json.dumps(failure.body()).encode(), failure.http
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                emulator.requests.append(Request(self.command, url.path, query, body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PATCH = _serve

        return Handler


def _page_args(query: dict[str, str]) -> tuple[int, str]:
    """(page_size, page_token) from a list request's query string."""
    try:
        size = int(query.get("pageSize", 0) or 0)
    except ValueError:
        raise invalid("page_size must be an integer.") from None
    return size, query.get("pageToken", "")
