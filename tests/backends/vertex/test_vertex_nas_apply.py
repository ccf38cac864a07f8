"""`apply` with a Vertex algorithm drives one NasJob: created once, adopted after, trials recorded."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from reconciler.nas_job import NAS_JOB_ID
from reconciler.session import Session
from nasctl.views import status_view
from tests.support.vertex_server import VertexServer


@pytest.fixture
def server() -> Iterator[VertexServer]:
    with VertexServer() as vertex:
        yield vertex


def _spec_file(tmp_path, endpoint: str, bucket: str):
    spec = {
        "apiVersion": "nasctl.dev/v1alpha1", "kind": "NASExperiment", "metadata": {"name": "nas"},
        "spec": {
            "stateUri": f"gs://{bucket}/state",
            "backend": {"type": "vertex", "project": "proj", "region": "us-central1", "apiEndpoint": endpoint,
                        "containerImage": "img:1", "stagingUri": f"gs://{bucket}/staging"},
            "searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
            "search": {"algorithm": "REINFORCEMENT_LEARNING", "maxTrials": 20, "parallelTrials": 2},
        },
    }
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _trial(trial_id: str, state: str, reward: float | None = None) -> dict:
    trial = {"id": trial_id, "state": state, "startTime": "2026-01-01T00:00:00Z"}
    if reward is not None:
        trial["finalMeasurement"] = {"metrics": [{"metricId": "accuracy", "value": reward}]}
        trial["endTime"] = "2026-01-01T01:00:00Z"
    return trial


def test_apply_creates_the_nas_job_once_then_records_its_trials(server, gcs_bucket, tmp_path):
    import json
    import random

    session = Session.open(_spec_file(tmp_path, server.endpoint, gcs_bucket))
    reconciler = session.reconciler()
    planned = reconciler.preview().plan
    assert [(a.kind, a.trial_id) for a in planned.actions] == [("create", NAS_JOB_ID)]
    assert session.store.get("trials.json") is None, "diff writes nothing"

    first = reconciler.run_pass()
    (body,) = server.creates("nasJobs")
    assert body["labels"]["nasctl-exp"] == "nas"
    assert first.plan.phase == "Running"

    job = first.plan.actions[0].reason
    dna = reconciler.space.random_dna(random.Random(3))
    params = json.dumps(dna.to_dict(key_type="name_or_id", value_type="choice_and_literal"))
    server.trial_details[job] = [
        {"name": f"{job}/nasTrialDetails/1", "parameters": params, "searchTrial": _trial("1", "SUCCEEDED", 0.8)},
        {"name": f"{job}/nasTrialDetails/2", "parameters": params, "searchTrial": _trial("2", "ACTIVE")},
    ]
    again = session.reconciler()
    assert again.preview().plan.actions == [], "an existing job is adopted, not planned again"
    second = again.run_pass()
    assert len(server.creates("nasJobs")) == 1
    view = status_view(session.experiment, second.state)
    assert view["trials"]["succeeded"] == 1 and view["trials"]["running"] == 1
    assert view["best"]["trialId"] == "search-0001" and view["best"]["arch"] == reconciler.space.materialize(dna)

    server.set_state(job, "JOB_STATE_SUCCEEDED")
    final = session.reconciler().run_pass()
    assert final.plan.phase == "Succeeded"
    assert status_view(session.experiment, session.state())["phase"] == "Succeeded"
