"""The MnasNet POC rehearsal: ``specs/examples/mnasnet-poc-vertex.yaml``, scaled down, run end to end by the
real ``nasctl apply`` against the Vertex emulator and the fake GCS server, in both shapes.

The scale-down (:data:`OVERRIDE`, documented in docs/vertex.md): digits at 16×16 instead of ImageNet,
width 0.25, 30 training steps per search trial and 60 per stage-2 trial, 3 search trials (all at once)
and the top 1 trained, a latency term every trial measures on its own machine (5 runs), job time 10×
faster than wall time. ``custom-jobs`` runs nasctl's own controller (``random``), one CustomJob per
trial; ``nas-job`` runs Vertex's ``REINFORCEMENT_LEARNING`` in one NasJob.

``--faults``: 503s on 20 % of Vertex calls, the long-running apply killed (SIGKILL) once at a random
moment and started again, and a "cron" apply started every few seconds beside it (refused by the lock).

    python -m benchmarks.vertex_rehearsal [--faults] [--shape nas-job] --json

The last line of ``--json`` is ``{"runs": [{"shape", "phase", "trials", "stage2Trials", "topN",
"latencyMeasured", "duplicateJobs", "lostResults", "seconds"}, ...], "callsMade", "faultsInjected", "rateLimited"}``
(``rateLimited``: calls the emulator refused for Vertex's request rate quotas, 429s nasctl retried).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
POC = REPO / "specs" / "examples" / "mnasnet-poc-vertex.yaml"
SHAPES = {"custom-jobs": "random", "nas-job": "REINFORCEMENT_LEARNING"}
PROJECT, REGION = "rehearsal", "us-central1"
TIME_SCALE = 10.0
FAULT_FRACTION = 0.2
CRON_SECONDS = 4.0
APPLY_LIMIT_SECONDS = 1800.0
# The jobs run on this machine's CPU: XLA's backend optimisations off make the tiny models compile much faster.
JOB_ENV = {"STORAGE_EMULATOR_HOST": "", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"}

# What the rehearsal changes in the POC spec (besides where state, trials and the API are).
OVERRIDE: dict[str, Any] = {
    "trainer": {"args": {"dataset": "digits", "imageSize": 16, "batchSize": 64, "steps": 30, "evalEvery": 15,
                         "width": 0.25, "latency": {"batchSize": 1, "warmup": 2, "runs": 5}}},
    "reward": {"latency": {"metric": "latency_ms", "target": 5}},
    "search": {"maxTrials": 3, "parallelTrials": 3, "maxFailedTrials": 1, "trainerArgs": {"steps": 30}},
    "train": {"topN": 1, "parallelTrials": 1, "trainerArgs": {"steps": 60}},
    "backend": {"pollSeconds": 0.5, "search": {"acceleratorCount": 1, "hoursPerTrial": 1},
                "train": {"acceleratorCount": 1, "hoursPerTrial": 1},
                "retry": {"callTimeoutSeconds": 20, "initialBackoffSeconds": 0.1, "maxBackoffSeconds": 1,
                          "totalSeconds": 120}},
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def rehearsal_spec(shape: str, bucket: str, endpoint: str) -> dict[str, Any]:
    """The POC spec with :data:`OVERRIDE` applied, for one shape, on `bucket` and the emulator at `endpoint`."""
    data = yaml.safe_load(POC.read_text())
    data["metadata"]["name"] = f"poc-{shape}"
    where = {"stateUri": f"gs://{bucket}/nasctl", "search": {"algorithm": SHAPES[shape]},
             "backend": {"project": PROJECT, "region": REGION, "apiEndpoint": endpoint,
                         "stagingUri": f"gs://{bucket}/nasctl-trials"}}
    data["spec"] = _merge(_merge(data["spec"], OVERRIDE), where)
    return data


@dataclass
class RunReport:
    shape: str
    phase: str
    trials: int
    stage2Trials: int  # noqa: N815 - the documented JSON key
    topN: int  # noqa: N815
    latencyMeasured: int  # noqa: N815
    duplicateJobs: int  # noqa: N815
    lostResults: int  # noqa: N815
    seconds: float


class Applies:
    """`nasctl apply` processes: the long-running one (killed once with faults) and the cron ones beside it."""

    def __init__(self, spec: Path, env: dict[str, str], log_dir: Path, faults: bool, rng: random.Random):
        self.spec, self.env, self.log_dir, self.faults, self.rng = spec, env, log_dir, faults, rng
        self.started = 0
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def running(self) -> list[subprocess.Popen[bytes]]:
        return [process for process in self.processes if process.poll() is None]

    def _start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.log_dir / f"apply-{self.started}.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "nasctl.cli", "apply", "-f", str(self.spec), "--yes"],
                                   cwd=self.log_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def run_to_end(self) -> int:
        """Apply until one apply exits 0 (the experiment ended); returns its exit code."""
        deadline = time.monotonic() + APPLY_LIMIT_SECONDS
        kill_at = time.monotonic() + self.rng.uniform(5, 20) if self.faults else None
        main, cron, next_cron = self._start(), None, time.monotonic() + CRON_SECONDS
        try:
            return self._supervise(main, cron, next_cron, kill_at, deadline)
        finally:
            for process in self.running:
                process.kill()

    def _supervise(self, main: subprocess.Popen[bytes], cron: subprocess.Popen[bytes] | None, next_cron: float,
                   kill_at: float | None, deadline: float) -> int:
        while time.monotonic() < deadline:
            code = main.poll()
            if code == 0:
                break
            if code is not None:  # refused (the killed one's lease has not expired yet) or failed: try again
                time.sleep(2)
                main = self._start()
            if kill_at is not None and time.monotonic() >= kill_at:
                main.kill()
                main.wait()
                kill_at = None
            if self.faults and time.monotonic() >= next_cron and (cron is None or cron.poll() is not None):
                cron, next_cron = self._start(), time.monotonic() + CRON_SECONDS
            time.sleep(0.2)
        else:
            main.kill()
        for process in (main, cron):
            if process is not None and process.poll() is None:
                process.wait(timeout=APPLY_LIMIT_SECONDS)
        return main.returncode


def _duplicates(vertex: Any, shape: str) -> int:
    """Jobs beyond one per nasctl key (a trial's CustomJob, or the search's NasJob)."""
    client, parent = vertex.client(), f"projects/{PROJECT}/locations/{REGION}"
    jobs = (client.list_custom_jobs(parent=parent) if shape == "custom-jobs" else client.list_nas_jobs(parent=parent))
    keys = Counter(job.labels.get("nasctl-key") for job in jobs if job.labels.get("nasctl-exp") == f"poc-{shape}")
    return sum(count - 1 for count in keys.values()) if shape == "custom-jobs" else max(0, sum(keys.values()) - 1)


def _lost(vertex: Any, shape: str, records: list[Any]) -> int:
    """Trials that succeeded on Vertex but are not recorded as succeeded."""
    client, parent = vertex.client(), f"projects/{PROJECT}/locations/{REGION}"
    succeeded = {r.id for r in records if r.status == "succeeded"}
    if shape == "custom-jobs":
        done = {job.labels["nasctl-key"] for job in client.list_custom_jobs(parent=parent)
                if job.state.name == "JOB_STATE_SUCCEEDED" and job.labels.get("nasctl-stage") in ("search", "train")}
        return sum(1 for key in done if key.removeprefix(f"poc-{shape}-") not in succeeded)
    lost = 0
    for job in client.list_nas_jobs(parent=parent):
        for detail in client.list_nas_trial_details(parent=job.name):
            for stage, trial in (("search", detail.search_trial), ("train", detail.train_trial)):
                if trial.id and trial.state.name == "SUCCEEDED" and f"{stage}-{int(trial.id):04d}" not in succeeded:
                    lost += 1
    return lost


def rehearse(shape: str, *, faults: bool, vertex: Any, bucket: str, work_dir: Path, seed: int = 0) -> RunReport:
    """One shape end to end; `vertex` is a running VertexEmulator whose image runs nasctl (gcs_mount)."""
    from specs.loader import load_experiment  # noqa: PLC0415
    from state.snapshot import load_state  # noqa: PLC0415
    from state.uri import open_store  # noqa: PLC0415

    work_dir.mkdir(parents=True, exist_ok=True)
    spec_path = work_dir / f"poc-{shape}.yaml"
    spec_path.write_text(yaml.safe_dump(rehearsal_spec(shape, bucket, vertex.endpoint), sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    started = time.monotonic()
    if faults:
        vertex.faults.fail_fraction(FAULT_FRACTION, http=503)
    try:
        Applies(spec_path, env, work_dir, faults, random.Random(seed)).run_to_end()
    finally:
        vertex.faults.clear()
    experiment = load_experiment(spec_path)
    state = load_state(open_store(experiment.spec.state_uri, experiment.metadata.name), experiment.metadata.name, "")
    records = list(state.trials.values())
    search = [r for r in records if r.stage == "search"]
    train = [r for r in records if r.stage == "train"]
    measured = sum(1 for r in records if r.status == "succeeded" and "latency_ms" in _metrics(r))
    return RunReport(shape, state.experiment.phase, len(search), len(train), experiment.spec.train.top_n, measured,
                     _duplicates(vertex, shape), _lost(vertex, shape, records), round(time.monotonic() - started, 1))


def _metrics(record: Any) -> dict[str, float]:
    """A trial's final metrics: recorded ones (CustomJobs), else its result.json in its folder (NasJob trials)."""
    if record.metrics:
        return record.metrics
    from trial.dirs import GcsTrialDir  # noqa: PLC0415

    result = GcsTrialDir(record.backend_ref["folder"]).read_result()
    return result.metrics if result else {}


def run(shapes: list[str], faults: bool, work_dir: Path | None = None) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from local_cloud.gcs_mount import container_entrypoint  # noqa: PLC0415 - the cloud stand-ins of the tests
    from local_cloud.gcs_server import fake_gcs_server  # noqa: PLC0415
    from vertex_emulator import VertexEmulator  # noqa: PLC0415

    saved = {key: os.environ.get(key) for key in JOB_ENV}
    with tempfile.TemporaryDirectory(prefix="vertex-rehearsal-") as tmp:
        root = work_dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        with fake_gcs_server(root) as gcs_url:
            os.environ.update({**JOB_ENV, "STORAGE_EMULATOR_HOST": gcs_url})  # this process, the applies, the jobs
            try:
                return _run_on(shapes, faults, root, container_entrypoint(), VertexEmulator)
            finally:
                for key, value in saved.items():
                    os.environ.pop(key, None)
                    if value is not None:
                        os.environ[key] = value


def _run_on(shapes: list[str], faults: bool, tmp: Path, entrypoint: list[str], emulator_class: Any) -> dict[str, Any]:
    """The shapes on a fresh bucket and emulator (whose trainer image is `entrypoint`), counting injected faults."""
    from adaptors.gcp import storage_client  # noqa: PLC0415

    bucket = f"rehearsal-{uuid.uuid4().hex[:8]}"
    storage_client().create_bucket(bucket)
    image = yaml.safe_load(POC.read_text())["spec"]["backend"]["containerImage"]
    emulator = emulator_class(time_scale=TIME_SCALE, gcs_root=tmp / "gcs", work_dir=tmp / "vertex",
                              image_entrypoints={image: entrypoint}, quotas={(REGION, "NVIDIA_TESLA_T4"): 4})
    injected = Counter()
    answer = emulator.faults.on_call

    def counting(method: str) -> tuple[float, Any]:
        delay, error = answer(method)
        injected["faults"] += error is not None
        return delay, error

    emulator.faults.on_call = counting  # type: ignore[method-assign] - counts what the harness injects
    with emulator as vertex:
        reports = [rehearse(shape, faults=faults, vertex=vertex, bucket=bucket, work_dir=tmp / shape)
                   for shape in shapes]
        calls, rate_limited = len(vertex.requests), sum(vertex.rates.refused.values())
    return {"runs": [asdict(r) for r in reports], "callsMade": calls, "faultsInjected": injected["faults"],
            "rateLimited": rate_limited}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", action="store_true", help="503s on 20 %% of calls, apply killed, cron applies")
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append", help="default: both")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on the last line")
    parser.add_argument("--work-dir", type=Path, help="keep logs, job outputs and the mounts here (default: a temp dir)")
    args = parser.parse_args(argv)
    result = run(args.shape or list(SHAPES), args.faults, args.work_dir)
    if args.json:
        print(json.dumps(result))
    else:
        for report in result["runs"]:
            print(" ".join(f"{k}={v}" for k, v in report.items()))
        print(f"calls={result['callsMade']} faults={result['faultsInjected']} rate-limited={result['rateLimited']}")
    ok = all(r["phase"] == "Succeeded" and not r["duplicateJobs"] and not r["lostResults"] for r in result["runs"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
