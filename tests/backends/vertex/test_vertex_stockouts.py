"""A stockout on Vertex (no machines for the accelerator in the region) through the real client and the emulator:
the turned-away CustomJobs are relaunched until machines come back, and no trial fails or loses an attempt."""
from __future__ import annotations

import time

import pytest

from backends.vertex.custom_jobs import VertexCustomJobBackend
from nasctl.views import status_view
from reconciler.apply import Reconciler
from reconciler.plan import RELAUNCH
from state.records import PHASE_FAILED, PHASE_SUCCEEDED, SUCCEEDED
from state.uri import open_store
from tests.support.vertex_emulated import vertex_experiment

pytestmark = pytest.mark.slow  # the emulator runs trial processes


def test_trials_turned_away_by_a_stockout_are_relaunched_and_none_fails(vertex, gcs_bucket) -> None:
    vertex.capacity.stockout("us-central1", "NVIDIA_TESLA_T4", jobs=3, wait_seconds=0.5)
    experiment = vertex_experiment(vertex.endpoint, gcs_bucket, max_trials=3, parallel=2,
                                   search={"maxFailedTrials": 1})
    reconciler = Reconciler(experiment, open_store(experiment.spec.state_uri, experiment.metadata.name),
                            VertexCustomJobBackend(experiment))
    relaunches, warnings, deadline = [], [], time.monotonic() + 120
    while (result := reconciler.run_pass()).state.experiment.phase not in (PHASE_SUCCEEDED, PHASE_FAILED):
        relaunches += [action for action in result.plan.actions if action.kind == RELAUNCH]
        warnings += status_view(experiment, result.state)["warnings"]
        assert time.monotonic() < deadline, "the experiment did not finish"
        time.sleep(0.2)

    assert result.state.experiment.phase == PHASE_SUCCEEDED, result.state.experiment.conditions
    assert len(relaunches) == 3 and all("stockout" in action.reason for action in relaunches)
    assert all("Resources are insufficient in region: us-central1" in action.record.message for action in relaunches)
    assert any("unfinished trial(s) were relaunched after a stockout" in line for line in warnings), warnings
    assert status_view(experiment, result.state)["warnings"] == []  # none once they have finished
    trials = list(result.state.trials.values())
    assert len(trials) == 3 and all(t.status == SUCCEEDED and t.attempt == 1 for t in trials)
    jobs = list(vertex.client().list_custom_jobs(parent="projects/proj/locations/us-central1"))
    turned_away = [job for job in jobs if job.state.name == "JOB_STATE_FAILED"]
    assert len(jobs) == 6 and len(turned_away) == 3 and all(job.error.code == 8 for job in turned_away)
