"""`status` while a stockout turns trials away: one warning line, and where the machine's GPUs allow it, the
hint that FLEX_START would queue for machines instead of being turned away."""
from __future__ import annotations

from typing import Any

import pytest

from nasctl.views import status_view
from reconciler.plan import STOCKOUT_NOTE
from state.records import PENDING, SEARCH, SUCCEEDED, TRAIN, ExperimentRecord, TrialRecord
from state.snapshot import ExperimentState
from tests.support.vertex_emulated import vertex_experiment

A100 = {"machineType": "a2-highgpu-1g", "acceleratorType": "NVIDIA_TESLA_A100", "acceleratorCount": 1,
        "hoursPerTrial": 1}
T4 = {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1, "hoursPerTrial": 1}
HINT = "schedulingStrategy FLEX_START on spec.backend.search would queue for machines instead"


def _state(message: str, status: str = PENDING, stage: str = SEARCH) -> ExperimentState:
    trial = TrialRecord(id=f"{stage}-0001", stage=stage, index=1, dna=[0], arch=None, status=status, message=message)
    return ExperimentState(ExperimentRecord(name="demo", generation="g"), {trial.id: trial})


@pytest.mark.parametrize("machine, hinted", [
    (A100, True),
    ({**A100, "hoursPerTrial": 200}, False),  # longer than a FLEX_START job may run
    ({**A100, "schedulingStrategy": "FLEX_START"}, False),  # already queues
    (T4, False),  # Dynamic Workload Scheduler does not offer T4
])
def test_a_stockout_warns_and_says_when_flex_start_would_queue(machine: dict[str, Any], hinted: bool) -> None:
    experiment = vertex_experiment("http://127.0.0.1:9", "bucket", backend={"search": machine})
    stockout = f"{STOCKOUT_NOTE}: Resources are insufficient in region: us-central1."
    (warning,) = status_view(experiment, _state(stockout))["warnings"]
    assert warning.startswith("1 unfinished trial(s) were relaunched after a stockout")
    assert (HINT in warning) == hinted, warning
    assert status_view(experiment, _state(stockout, SUCCEEDED))["warnings"] == []  # it ran since


def test_the_hint_names_the_machine_a_stage_2_trial_runs_on() -> None:
    stockout = f"{STOCKOUT_NOTE}: Resources are insufficient in region: us-central1."
    shared = vertex_experiment("http://127.0.0.1:9", "bucket", top_n=1, backend={"search": A100})
    (warning,) = status_view(shared, _state(stockout, stage=TRAIN))["warnings"]
    assert HINT in warning, warning  # no `train` machine: stage 2 runs on `search`
    own = vertex_experiment("http://127.0.0.1:9", "bucket", top_n=1, backend={"search": T4, "train": A100})
    (warning,) = status_view(own, _state(stockout, stage=TRAIN))["warnings"]
    assert HINT.replace("backend.search", "backend.train") in warning and HINT not in warning, warning
