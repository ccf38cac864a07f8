"""How the reconcile pass scales with recorded trials: 100, 500 and 2,000 finished stage-1 trials.

Per size, on recorded state built directly (NB201 space, random architectures, finished trials), the
wall time of the real command in its own process, as a user or a cron job runs it (best of 3):

* ``noopPassSeconds``: `nasctl apply --once` with nothing to do (local state);
* ``statusSeconds``: `nasctl status`;
* ``diffSeconds``: `nasctl diff`;
* ``proposePassSeconds``: `nasctl diff` of a spec with 10 more trials: the pass's plan, which proposes them
  (the default controller rebuilt from history), without launching 10 trainings;
* ``passInProcessSeconds``: the no-op pass alone, in process (reading the state is most of it);
* ``gcsRequestsPerNoopPass`` / ``gcsBytesPerNoopPass``: a no-op pass on gs:// state (fake GCS server on
  loopback) after a first one, every HTTP request and byte the storage client sent and received.

    python -m benchmarks.reconcile_scale [--sizes 100 500 2000] --json
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from unittest.mock import patch

import yaml

SIZES = (100, 500, 2000)


def _spec(max_trials: int, state_uri: str) -> dict[str, Any]:
    return {"apiVersion": "nasctl.dev/v1alpha1", "kind": "NASExperiment", "metadata": {"name": "scale"},
            "spec": {"stateUri": state_uri, "searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
                     "search": {"maxTrials": max_trials, "parallelTrials": 10, "maxFailedTrials": max_trials}}}


def _record(store: Any, experiment: Any, trials: int) -> None:
    """A finished search of `trials` trials, written as one pass would have written it."""
    from reconciler.graph import enabled_stages  # noqa: PLC0415
    from search_spaces.nb201 import EDGES, OPERATIONS  # noqa: PLC0415
    from state.records import PHASE_SUCCEEDED, SUCCEEDED, ExperimentRecord, TrialRecord  # noqa: PLC0415
    from state.snapshot import ExperimentState, save_experiment, save_trials  # noqa: PLC0415
    from reconciler.spec_changes import normalised_spec  # noqa: PLC0415
    from specs.loader import spec_generation  # noqa: PLC0415

    rng = random.Random(0)
    state = ExperimentState(ExperimentRecord(name="scale", generation=spec_generation(experiment)))
    for index in range(trials):  # the NB201 cell: one operation per edge, as the space's DNA numbers them
        dna = [rng.randrange(len(OPERATIONS)) for _ in EDGES]
        accuracy = rng.uniform(0.1, 0.95)
        state.add([TrialRecord(id=f"search-{index:04d}", stage="search", index=index, dna=dna,
                               arch={"edges": [OPERATIONS[i] for i in dna]}, status=SUCCEEDED, reward=accuracy,
                               metrics={"accuracy": accuracy}, launched_at=1.0, finished_at=2.0, attempt=1)])
    record = state.experiment
    record.phase, record.observed_generation = PHASE_SUCCEEDED, record.generation
    record.spec = normalised_spec(experiment)
    record.stages = {s.name: {"phase": PHASE_SUCCEEDED, "summary": {"total": trials}} for s in enabled_stages(experiment)}
    save_trials(store, state)
    save_experiment(store, state)


def _seconds(work: Callable[[], Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _session(folder: Path, max_trials: int, state_uri: str) -> Any:
    from reconciler.session import Session  # noqa: PLC0415

    path = folder / f"scale-{max_trials}.yaml"
    path.write_text(yaml.safe_dump(_spec(max_trials, state_uri)))
    return Session.open(path)


def _cli(folder: Path, *args: str) -> Callable[[], None]:
    command = [sys.executable, "-m", "nasctl.cli", *args]
    return lambda: subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def measure_local(trials: int, folder: Path) -> dict[str, float]:
    session = _session(folder, trials, str(folder / "state"))
    _record(session.store, session.experiment, trials)
    reconciler = session.reconciler(acting=True)
    reconciler.run_pass()  # records the stage summaries as a pass writes them
    assert not reconciler.preview().plan.has_changes, "the recorded state must need nothing"
    proposing = _session(folder, trials + 10, str(folder / "state"))
    proposed = proposing.reconciler(acting=True).preview().plan
    assert sum(a.now and a.record is not None for a in proposed.actions) == 10, "ten proposals"
    spec, more = str(session.path), str(proposing.path)
    return {
        "noopPassSeconds": _seconds(_cli(folder, "apply", "-f", spec, "--once", "--yes", "--no-progress")),
        "statusSeconds": _seconds(_cli(folder, "status", "-f", spec)),
        "diffSeconds": _seconds(_cli(folder, "diff", "-f", spec)),
        "proposePassSeconds": _seconds(_cli(folder, "diff", "-f", more)),
        "passInProcessSeconds": _seconds(reconciler.run_pass),
    }


@contextmanager
def _counting(client: Any) -> Iterator[dict[str, int]]:
    """Every request the storage client's HTTP session makes, and the bytes both ways."""
    counts = {"requests": 0, "bytes": 0}

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        counts["requests"] += 1
        body = response.request.body or b""
        counts["bytes"] += len(body if isinstance(body, bytes) else str(body).encode()) + len(response.content)

    client._http.hooks["response"].append(hook)  # noqa: SLF001 - the client's own requests session
    try:
        yield counts
    finally:
        client._http.hooks["response"].remove(hook)  # noqa: SLF001


def measure_gcs(trials: int, folder: Path, bucket: str) -> dict[str, int]:
    from adaptors.gcp import storage_client  # noqa: PLC0415
    from reconciler.apply import Reconciler  # noqa: PLC0415
    from backends.factory import make_backend  # noqa: PLC0415
    from state.gcs import GcsStore  # noqa: PLC0415

    session = _session(folder, trials, f"gs://{bucket}/state-{trials}")
    client = storage_client()
    store = GcsStore(session.store.uri, client=client)
    _record(store, session.experiment, trials)
    reconciler = Reconciler(session.experiment, store, make_backend(session.experiment, store))
    reconciler.run_pass()  # the first pass records the stage summaries; the steady state is what repeats
    with _counting(client) as counts:
        reconciler.run_pass()
    return {"gcsRequestsPerNoopPass": counts["requests"], "gcsBytesPerNoopPass": counts["bytes"]}


def main(argv: list[str] | None = None) -> int:
    from local_cloud.gcs_server import fake_gcs_server  # noqa: PLC0415 - the loopback GCS of the tests

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--json", action="store_true", help="Print only the JSON line.")
    args = parser.parse_args(argv)
    sizes: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch, fake_gcs_server(Path(scratch)) as url, \
            patch.dict(os.environ, {"STORAGE_EMULATOR_HOST": url}):  # restored after: a caller's env is its own
        from adaptors.gcp import storage_client  # noqa: PLC0415

        storage_client().create_bucket("scale")
        for trials in args.sizes:
            folder = Path(scratch) / str(trials)
            folder.mkdir()
            sizes[str(trials)] = {**measure_local(trials, folder), **measure_gcs(trials, folder, "scale")}
            if not args.json:
                print(trials, json.dumps(sizes[str(trials)]), file=sys.stderr)
    print(json.dumps({"sizes": sizes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
