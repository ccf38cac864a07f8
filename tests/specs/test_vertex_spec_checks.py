"""`nasctl validate` on Vertex specs: accelerator types from the proto, training and NAS regions, and a latency
reward nothing would measure inside a NasJob; each a one-line error with field path and YAML line."""
from __future__ import annotations

import pytest

from tests.support.poc_spec import POC, edited_poc, line_of



@pytest.mark.parametrize(("edit", "needle", "field", "message"), [
    (lambda s: s["backend"]["search"].update(acceleratorType="NVIDIA_T4"), "NVIDIA_T4",
     "spec.backend.search.acceleratorType", "unknown accelerator type 'NVIDIA_T4'"),
    (lambda s: s["backend"].update(region="us-centrall1"), "us-centrall1",
     "spec.backend.region", "'us-centrall1' is not a Vertex AI training region; did you mean 'us-central1'?"),
    (lambda s: s["backend"].update(region="asia-south1"), "asia-south1",
     "spec.backend.region", "Vertex AI NAS does not run in 'asia-south1'"),
    (lambda s: s["trainer"]["args"].pop("latency"), "metric: latency_ms",
     "spec.reward.latency.metric", "nothing measures 'latency_ms', so every trial would fail: set "
                                   "spec.trainer.args.latency"),
    (lambda s: (s["reward"].update(metric="top1 accuracy"), s.update(trainer={"module": "poc.trainer:train"})),
     "top1 accuracy", "spec.reward.metric", "a Vertex NasJob's metric id must not contain whitespace"),
    (lambda s: s["backend"]["search"].update(acceleratorType="NVIDIA_TESLA_V100", acceleratorCount=1), "    search:",
     "spec.backend.search", "larger than 1 × NVIDIA_TESLA_V100 allows (at most 12 vCPUs and 78 GB): attach 2, 4 or 8"),
    (lambda s: s["backend"]["search"].update(machineType="a2-highgpu-2g"), "    search:",
     "spec.backend.search", "a2-highgpu-2g comes with 2 × NVIDIA_TESLA_A100: set acceleratorType NVIDIA_TESLA_A100"),
])
def test_validate_rejects_with_one_line(tmp_path, nasctl, edit, needle, field, message) -> None:
    path = edited_poc(tmp_path, edit)
    done = nasctl("validate", "-f", str(path))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    line = line_of(path, needle)
    assert errors[0].startswith(f"error: {path}:{line}: {field}:") and message in errors[0], errors[0]


def test_the_poc_and_a_tpu_custom_job_search_in_any_training_region_are_valid(tmp_path, nasctl) -> None:
    assert nasctl("validate", "-f", str(POC)).returncode == 0

    def tpu_search(spec: dict) -> None:
        spec["backend"].update(region="asia-northeast3")
        spec["backend"]["search"] = {"machineType": "cloud-tpu", "acceleratorType": "TPU_V3", "acceleratorCount": 8,
                                     "hoursPerTrial": 2}
        spec["search"]["algorithm"] = "random"
    assert nasctl("validate", "-f", str(edited_poc(tmp_path, tpu_search))).returncode == 0


def test_the_names_match_the_proto_and_the_emulator() -> None:
    from google.cloud.aiplatform_v1 import AcceleratorType

    from specs.vertex import ACCELERATOR_TYPES, NAS_REGIONS, TRAINING_REGIONS
    from vertex_emulator.validation import NAS_REGIONS as EMULATED_NAS
    from vertex_emulator.validation import TRAINING_REGIONS as EMULATED_TRAINING

    assert set(ACCELERATOR_TYPES) == {a.name for a in AcceleratorType} - {"ACCELERATOR_TYPE_UNSPECIFIED"}
    assert NAS_REGIONS == EMULATED_NAS and TRAINING_REGIONS == EMULATED_TRAINING


def test_a_tensorboard_resource_goes_into_every_custom_job_and_needs_a_service_account(tmp_path, nasctl) -> None:
    from google.protobuf import json_format  # noqa: PLC0415

    from adaptors.gcp import aiplatform  # noqa: PLC0415
    from backends.vertex.requests import custom_job  # noqa: PLC0415
    from specs.loader import load_experiment  # noqa: PLC0415

    board = "projects/p/locations/us-central1/tensorboards/42"
    path = edited_poc(tmp_path, lambda s: (s["backend"].pop("serviceAccount", None), s["backend"].update(tensorboard=board)))
    done = nasctl("validate", "-f", str(path))
    assert done.returncode == 1 and "tensorboard needs serviceAccount" in done.stderr

    path = edited_poc(tmp_path, lambda s: s["backend"].update(tensorboard=board, serviceAccount="nas@p.iam.gserviceaccount.com"))
    backend = load_experiment(path).spec.backend
    job = custom_job(backend, "poc", "search-0000", "search", {"nasctl-exp": "poc"})
    wire = type(job).to_json(job)  # what the REST transport sends, parsed back into the real proto
    parsed = json_format.Parse(wire, aiplatform().CustomJob()._pb, ignore_unknown_fields=False)
    assert parsed.job_spec.tensorboard == board and parsed.job_spec.service_account.startswith("nas@")


@pytest.mark.parametrize("calculator", [True, False])
def test_a_latency_calculator_job_measures_for_nasctls_own_controllers(tmp_path, nasctl, calculator) -> None:
    """With nasctl's controller on Vertex, `backend.latency` jobs write each trial's latency: the reward may name it
    though the trainer measures nothing itself; without them nothing would."""
    def custom_jobs(spec: dict) -> None:
        spec["search"]["algorithm"] = "random"
        spec["trainer"]["args"].pop("latency")
        if calculator:
            spec["backend"]["latency"] = {"machineType": "n1-standard-8"}
    done = nasctl("validate", "-f", str(edited_poc(tmp_path, custom_jobs)))
    assert (done.returncode == 0) == calculator, done.stderr
    assert calculator or "spec.reward.latency.metric: nothing measures 'latency_ms'" in done.stderr
