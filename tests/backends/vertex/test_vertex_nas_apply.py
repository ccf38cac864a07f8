"""`apply` with a Vertex algorithm drives one NasJob: created once, adopted after, its trials recorded as they
end, the experiment done when the job is. Through the real JobServiceClient against the Vertex emulator,
whose controller proposes the architectures; trials run the scripted image (reward = trial id / 100)."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyglove as pg
import pytest
import yaml

from nasctl.views import status_view
from reconciler import nas_job
from reconciler.nas_job import NAS_JOB_ID
from reconciler.session import Session
from tests.support.scripted_trainer import nas_reward, scripted_entrypoint
from tests.support.vertex_emulated import FAST_RETRY, IMAGE
from vertex_emulator import VertexEmulator

PARENT = "projects/proj/locations/us-central1"
MAX_TRIALS = 4


@pytest.fixture
def vertex(make_emulator: Callable[..., VertexEmulator]) -> VertexEmulator:
    return make_emulator(image_entrypoints={IMAGE: scripted_entrypoint()})


def _spec_file(tmp_path: Path, endpoint: str, bucket: str, **backend: Any) -> Path:
    spec = {
        "apiVersion": "nasctl.dev/v1alpha1", "kind": "NASExperiment", "metadata": {"name": "nas"},
        "spec": {
            "stateUri": f"gs://{bucket}/state",
            "backend": {"type": "vertex", "project": "proj", "region": "us-central1", "apiEndpoint": endpoint,
                        "containerImage": IMAGE, "stagingUri": f"gs://{bucket}/staging", "retry": FAST_RETRY,
                        **backend},
            "searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
            "search": {"algorithm": "REINFORCEMENT_LEARNING", "maxTrials": MAX_TRIALS, "parallelTrials": 2},
        },
    }
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_apply_creates_the_nas_job_once_then_records_its_trials(vertex: VertexEmulator, gcs_bucket: str,
                                                                tmp_path: Path) -> None:
    session = Session.open(_spec_file(tmp_path, vertex.endpoint, gcs_bucket))
    reconciler = session.reconciler()
    planned = reconciler.preview().plan
    assert [(a.kind, a.trial_id) for a in planned.actions] == [("create", NAS_JOB_ID)]
    assert session.store.get("trials.json") is None, "diff writes nothing"

    first = reconciler.run_pass()
    assert first.plan.phase == "Running"
    (job,) = vertex.client().list_nas_jobs(parent=PARENT)
    assert job.labels["nasctl-exp"] == "nas"
    assert session.reconciler().preview().plan.actions == [], "an existing job is adopted, not planned again"

    deadline = time.monotonic() + 60
    while (result := session.reconciler().run_pass()).plan.phase != "Succeeded":  # apply's later passes
        assert time.monotonic() < deadline, f"the experiment is still {result.plan.phase}"
        time.sleep(0.2)
    assert [j.name for j in vertex.client().list_nas_jobs(parent=PARENT)] == [job.name]
    assert vertex.client().get_nas_job(name=job.name).state.name == "JOB_STATE_SUCCEEDED"

    view = status_view(session.experiment, session.state())
    assert view["phase"] == "Succeeded" and view["trials"]["succeeded"] == MAX_TRIALS
    rewards = {t.id: t.reward for t in session.state().trials.values()}
    assert rewards == {f"search-{i:04d}": nas_reward(str(i)) for i in range(1, MAX_TRIALS + 1)}
    details = {d.search_trial.id: d.parameters for d in vertex.client().list_nas_trial_details(parent=job.name)}
    space = reconciler.space
    proposed = space.materialize(pg.DNA.from_parameters(json.loads(details[str(MAX_TRIALS)]), space.dna_spec))
    assert view["best"]["trialId"] == f"search-{MAX_TRIALS:04d}" and view["best"]["arch"] == proposed


def test_a_trial_vertex_holds_for_quota_is_noted_until_it_starts(make_emulator: Callable[..., VertexEmulator],
                                                                 gcs_bucket: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a NasJob a trial short of quota only stays requested (pending): `status` says it waits, and names
    the quotas to request; the note goes once Vertex starts it."""
    monkeypatch.setattr(nas_job, "QUOTA_WAIT_SECONDS", 0.5)  # Vertex queues every job briefly; the test cannot wait
    vertex = make_emulator(image_entrypoints={IMAGE: scripted_entrypoint(nas_seconds=3)},
                           quotas={("us-central1", "NVIDIA_TESLA_T4"): 1})  # one T4 for two parallel trials
    machine = {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1}
    session = Session.open(_spec_file(tmp_path, vertex.endpoint, gcs_bucket, search=machine))
    notes, warnings, deadline = set(), [], time.monotonic() + 90
    while (result := session.reconciler().run_pass()).plan.phase != "Succeeded":
        notes |= {t.message for t in result.state.trials.values() if t.status == "pending" and t.message}
        warnings += status_view(session.experiment, result.state)["warnings"]
        assert time.monotonic() < deadline, f"the experiment is still {result.plan.phase}"
        time.sleep(0.2)
    assert notes and all(note.startswith("queued for quota: Vertex has not started it since ") for note in notes)
    assert any("1 unfinished trial(s) are queued for quota" in line and
               "aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus" in line for line in warnings), warnings
    state = session.state()
    assert status_view(session.experiment, state)["warnings"] == []
    assert all(t.status == "succeeded" and t.message == "" for t in state.trials.values())
