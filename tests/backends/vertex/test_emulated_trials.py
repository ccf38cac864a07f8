"""nasctl's trial entry points run by the Vertex emulator as Vertex runs them: ``/gcs/`` paths reach the
fake GCS server's buckets (the container's mount, local_cloud/gcs_mount.py, honoured via trial.fuse)."""
from __future__ import annotations

import time

import pytest

from backends.base import FINISHED
from backends.vertex.custom_jobs import VertexCustomJobBackend
from reconciler.nas_job import NasJobReconciler
from state.records import PHASE_SUCCEEDED, SEARCH, SUCCEEDED, TRAIN
from state.uri import open_store
from tests.support.vertex_emulated import vertex_experiment
from trial.protocol import SUCCEEDED as TRIAL_SUCCEEDED

TRIAL_SPEC = {"id": "search-0000", "stage": "search", "experiment": "demo", "arch": None, "dna": [1, 2, 3, 0, 1, 2],
              "args": {"mode": "proxy"}, "seed": 0, "trainer": {"prebuilt": "nb201-tabular"}}


def _until(predicate, timeout: float = 60.0, what: str = "condition"):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


@pytest.mark.slow
def test_a_custom_job_runs_the_trial_runner_on_the_bucket(vertex, gcs_bucket) -> None:
    from search_spaces.registry import build_search_space
    from specs.model import SearchSpaceSpec

    space = build_search_space(SearchSpaceSpec(prebuilt="nb201"))
    dna = space.dna(TRIAL_SPEC["dna"])
    spec = {**TRIAL_SPEC, "arch": space.materialize(dna)}
    backend = VertexCustomJobBackend(vertex_experiment(vertex.endpoint, gcs_bucket))
    backend.launch("search-0000", spec)
    seen = _until(lambda: (o := backend.observe("search-0000")).state == FINISHED and o, what="the job to finish")
    assert seen.result.status == TRIAL_SUCCEEDED and "accuracy" in seen.result.metrics, seen.result
    assert backend.trial_dir("search-0000").read_result() == seen.result  # written through /gcs/, read from GCS


@pytest.mark.slow
def test_a_nas_job_runs_nas_entry_trials_and_stage2_trains_top_n(vertex, gcs_bucket) -> None:
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, algorithm="REINFORCEMENT_LEARNING", max_trials=4,
                                   parallel=2, top_n=2)
    store = open_store(experiment.spec.state_uri, experiment.metadata.name)
    reconciler = NasJobReconciler(experiment, store)
    result = _until(lambda: (r := reconciler.run_pass()).state.experiment.phase == PHASE_SUCCEEDED and r,
                    timeout=120, what="the NasJob to succeed")
    trials = list(result.state.trials.values())
    search = [t for t in trials if t.stage == SEARCH]
    train = [t for t in trials if t.stage == TRAIN]
    assert len(search) == 4 and all(t.status == SUCCEEDED and t.reward is not None for t in search)
    assert len(train) == 2 and all(t.status == SUCCEEDED for t in train)
    best = sorted(search, key=lambda t: -t.reward)[:2]
    assert {t.index for t in train} == {t.index for t in best}
