"""Requests the service rejects are rejected: unknown fields, bad enums, missing required fields, regions."""
from __future__ import annotations

import json

import pytest
from emulator_jobs import PARENT, custom_job, job_spec
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1


def _status(error: exceptions.GoogleAPICallError) -> str:
    return error.response.json()["error"]["status"]


def _post_raw(client: v1.JobServiceClient, endpoint: str, collection: str, body: dict) -> tuple[int, dict]:
    """POST a hand-written body with the client's own HTTP session: the typed client cannot send an
    unknown field or enum name, but an older or newer client (or a hand-written request) can."""
    session = client._transport._session  # noqa: SLF001 - the real client's authorized session
    answer = session.post(f"{endpoint}/v1/{PARENT}/{collection}", data=json.dumps(body),
                          headers={"Content-Type": "application/json"})
    return answer.status_code, answer.json()


def _body() -> dict:
    return json.loads(v1.CustomJob.to_json(custom_job()))


def test_unknown_field_is_invalid_argument(client, emulator) -> None:
    body = _body()
    body["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["gpuCount"] = 2
    status, answer = _post_raw(client, emulator.endpoint, "customJobs", body)
    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT" and "gpuCount" in answer["error"]["message"]


def test_unknown_accelerator_name_is_rejected_by_enum_parsing(client, emulator) -> None:
    body = _body()
    body["jobSpec"]["workerPoolSpecs"][0]["machineSpec"].update(acceleratorType="NVIDIA_TESLA_Z9",
                                                                acceleratorCount=1)
    status, answer = _post_raw(client, emulator.endpoint, "customJobs", body)
    assert (status, answer["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert "NVIDIA_TESLA_Z9" in answer["error"]["message"]


def test_unknown_enum_number_from_the_typed_client_is_rejected(client) -> None:
    job = custom_job()
    job.job_spec.worker_pool_specs[0].machine_spec = v1.MachineSpec(machine_type="n1-standard-4",
                                                                    accelerator_type=999, accelerator_count=1)
    with pytest.raises(exceptions.BadRequest) as error:
        client.create_custom_job(parent=PARENT, custom_job=job)
    assert _status(error.value) == "INVALID_ARGUMENT" and "999" in error.value.message


@pytest.mark.parametrize("breaks, field", [
    (lambda job: setattr(job, "display_name", ""), "display_name"),
    (lambda job: job.job_spec.worker_pool_specs.pop(), "worker_pool_specs"),
    (lambda job: setattr(job.job_spec.worker_pool_specs[0].machine_spec, "machine_type", ""), "machine_type"),
    (lambda job: setattr(job.job_spec.worker_pool_specs[0].container_spec, "image_uri", ""), "image_uri"),
    (lambda job: setattr(job.job_spec.worker_pool_specs[0], "replica_count", 0), "replica_count"),
])
def test_missing_required_field_is_invalid_argument(client, breaks, field: str) -> None:
    job = custom_job()
    breaks(job)
    with pytest.raises(exceptions.BadRequest) as error:
        client.create_custom_job(parent=PARENT, custom_job=job)
    assert _status(error.value) == "INVALID_ARGUMENT" and field in error.value.message


def test_unsupported_location_is_rejected(client) -> None:
    with pytest.raises(exceptions.BadRequest, match="mars-north1"):
        client.create_custom_job(parent="projects/proj/locations/mars-north1", custom_job=custom_job())
    nas = v1.NasJob(display_name="n", nas_job_spec=v1.NasJobSpec(search_space_spec="{}"))
    with pytest.raises(exceptions.BadRequest, match="southamerica-east1"):  # training region, not a NAS one
        client.create_nas_job(parent="projects/proj/locations/southamerica-east1", nas_job=nas)


def _nas_job(**spec_fields) -> v1.NasJob:
    algo = v1.NasJobSpec.MultiTrialAlgorithmSpec
    multi = algo(metric=algo.MetricSpec(metric_id="acc", goal="MAXIMIZE"),
                 search_trial_spec=algo.SearchTrialSpec(search_trial_job_spec=job_spec("pass"), max_trial_count=2,
                                                        max_parallel_trial_count=1))
    return v1.NasJob(display_name="nas", nas_job_spec=v1.NasJobSpec(multi_trial_algorithm_spec=multi, **spec_fields))


def test_nas_job_needs_a_pyglove_search_space(client) -> None:
    with pytest.raises(exceptions.BadRequest, match="search_space_spec is required"):
        client.create_nas_job(parent=PARENT, nas_job=_nas_job())
    with pytest.raises(exceptions.BadRequest, match="PyGlove DNA spec"):
        client.create_nas_job(parent=PARENT, nas_job=_nas_job(search_space_spec='{"not": "a dna spec"}'))


def test_resume_must_not_repeat_the_search_space(client) -> None:
    import pyglove as pg

    space = pg.search_space(pg.Dict(x=pg.oneof([1, 2]))).to_json_str(hide_default_values=True)
    job = _nas_job(search_space_spec=space, resume_nas_job_id="123")
    with pytest.raises(exceptions.BadRequest, match="search_space_spec must not be set"):
        client.create_nas_job(parent=PARENT, nas_job=job)


def test_get_of_an_unknown_job_is_not_found(client) -> None:
    with pytest.raises(exceptions.NotFound):
        client.get_custom_job(name=f"{PARENT}/customJobs/42")
    with pytest.raises(exceptions.NotFound):
        client.get_nas_job(name=f"{PARENT}/nasJobs/42")


def _disk(job: v1.CustomJob, disk_type: str, size_gb: int) -> None:
    job.job_spec.worker_pool_specs[0].disk_spec = v1.DiskSpec(boot_disk_type=disk_type, boot_disk_size_gb=size_gb)


def _machine(job: v1.CustomJob, machine_type: str, accelerator: str | None = None, count: int = 0) -> None:
    job.job_spec.worker_pool_specs[0].machine_spec = v1.MachineSpec(
        machine_type=machine_type, accelerator_type=accelerator or 0, accelerator_count=count)


def _flex_start(job: v1.CustomJob) -> v1.CustomJob:
    """A job Dynamic Workload Scheduler takes: A100s, FLEX_START, a 7-day timeout."""
    _machine(job, "a2-highgpu-1g", "NVIDIA_TESLA_A100", 1)
    job.job_spec.scheduling = v1.Scheduling(strategy="FLEX_START", timeout={"seconds": 7 * 24 * 3600})
    return job


def _second_pool(job: v1.CustomJob, machine: v1.MachineSpec) -> None:
    job.job_spec.worker_pool_specs.append(v1.WorkerPoolSpec(job.job_spec.worker_pool_specs[0]))
    job.job_spec.worker_pool_specs[1].machine_spec = machine


REFUSED_FLEX_START = [  # Vertex AI "Schedule training jobs based on resource availability"
    (lambda job: _machine(job, "n1-standard-8", "NVIDIA_TESLA_T4", 1), "queues only for L4, A100, H100"),
    (lambda job: _machine(job, "n1-standard-8"), "not a machine without GPUs"),
    (lambda job: setattr(job.job_spec.scheduling, "timeout", {"seconds": 7 * 24 * 3600 + 1}), "at most 604800s"),
    (lambda job: _second_pool(job, v1.MachineSpec(machine_type="a2-highgpu-2g", accelerator_type="NVIDIA_TESLA_A100",
                                                  accelerator_count=2)), "the same machine_spec in every worker pool"),
]
REFUSED_MACHINES = [
    (("n1-standard-8", "NVIDIA_TESLA_A100", 1), "NVIDIA_TESLA_A100 does not attach to N1 machines"),
    (("n1-standard-8", "NVIDIA_TESLA_T4", 3), "in groups of 1, 2 or 4, not 3"),
    (("n1-highmem-16", "NVIDIA_TESLA_V100", 1), "larger than 1 × NVIDIA_TESLA_V100 allows"),
    (("a2-highgpu-1g",), "a2-highgpu-1g comes with 1 × NVIDIA_TESLA_A100"),
    (("a2-highgpu-2g", "NVIDIA_TESLA_A100", 1), "a2-highgpu-2g comes with 2 × NVIDIA_TESLA_A100"),
    (("g2-standard-8", "NVIDIA_TESLA_T4", 1), "g2-standard-8 comes with 1 × NVIDIA_L4"),
    (("e2-standard-8", "NVIDIA_L4", 1), "e2-standard-8 takes no accelerators"),
    (("cloud-tpu", "TPU_V3", 32), "cloud-tpu takes TPU_V3 × 8"),
    (("n1-standard-8", "TPU_V2", 8), "TPU_V2 runs on machine type cloud-tpu"),
    (("n1-standard-7",), "n1-standard-7 is not an N1 machine type"),
    (("n9-mystery-4",), 'Machine type "n9-mystery-4" is not supported'),
]


@pytest.mark.parametrize("breaks, message", [
    (lambda job: _disk(job, "pd-ssd", 99), "boot_disk_size_gb must be between 100 and 64000"),
    (lambda job: _disk(job, "pd-ssd", 64_001), "boot_disk_size_gb must be between 100 and 64000"),
    (lambda job: _disk(job, "pd-balanced", 200), "boot_disk_type must be one of"),
    (lambda job: job.job_spec.reserved_ip_ranges.append("range"), "reserved_ip_ranges needs"),
    (lambda job: setattr(job.job_spec, "network", "projects/my-project/global/networks/vpc"), "network must be"),
    (lambda job: setattr(job, "encryption_spec", v1.EncryptionSpec(kms_key_name="key")), "kms_key_name must be"),
    (lambda job: setattr(job, "encryption_spec", v1.EncryptionSpec(
        kms_key_name="projects/p/locations/europe-west4/keyRings/r/cryptoKeys/k")), "the key must be in us-central1"),
    (lambda job: setattr(job, "display_name", "x" * 129), "display_name can be up to 128 characters"),
    (lambda job: job.labels.update({"Experiment": "a"}), "invalid label 'Experiment'"),
    (lambda job: job.labels.update({"1st": "a"}), "invalid label '1st'"),
    (lambda job: job.labels.update({"key": "with space"}), "invalid label 'key'"),
    (lambda job: job.labels.update({"key": "v" * 65}), "invalid label 'key'"),
    (lambda job: job.labels.update({f"k{index}": "v" for index in range(65)}), "at most 64 labels"),
    *[(lambda job, machine=machine: _machine(job, *machine), message) for machine, message in REFUSED_MACHINES],
    *[(lambda job, breaks=breaks: breaks(_flex_start(job)), message) for breaks, message in REFUSED_FLEX_START],
])
def test_job_options_the_service_documents_are_checked(client, breaks, message: str) -> None:
    job = custom_job()
    breaks(job)
    with pytest.raises(exceptions.BadRequest) as error:
        client.create_custom_job(parent=PARENT, custom_job=job)
    assert _status(error.value) == "INVALID_ARGUMENT" and message in error.value.message


def test_a_job_with_every_option_is_accepted_and_read_back(client) -> None:
    job = custom_job()
    _disk(job, "hyperdisk-balanced", 64_000)
    job.job_spec.network = "projects/123/global/networks/vpc"
    job.job_spec.reserved_ip_ranges.append("range")
    job.job_spec.psc_interface_config = v1.PscInterfaceConfig(network_attachment="attachment")
    _flex_start(job).job_spec.scheduling.max_wait_duration = {"seconds": 60}
    job.encryption_spec = v1.EncryptionSpec(kms_key_name="projects/p/locations/us-central1/keyRings/r/cryptoKeys/k")
    read = client.get_custom_job(name=client.create_custom_job(parent=PARENT, custom_job=job).name)
    assert read.job_spec == job.job_spec and read.encryption_spec == job.encryption_spec


@pytest.mark.parametrize("machine", [
    ("n1-highmem-16", "NVIDIA_TESLA_V100", 2), ("n1-standard-96", "NVIDIA_TESLA_T4", 4), ("a2-megagpu-16g",
    "NVIDIA_TESLA_A100", 16), ("a3-highgpu-8g", "NVIDIA_H100_80GB", 8), ("g2-standard-24", "NVIDIA_L4", 2),
    ("cloud-tpu", "TPU_V2", 8), ("ct5lp-hightpu-4t",), ("ct5lp-hightpu-4t", "TPU_V5_LITEPOD", 4), ("e2-standard-4",),
])
def test_a_machine_the_service_offers_is_accepted(client, machine: tuple) -> None:
    job = custom_job()
    _machine(job, *machine)
    assert client.create_custom_job(parent=PARENT, custom_job=job).name


def test_the_longest_name_and_international_lowercase_labels_are_accepted(client) -> None:
    job = custom_job(labels={"équipe": "données-1", "k" * 64: "v" * 64, "empty": ""})
    job.display_name = "é" * 128
    assert client.get_custom_job(name=client.create_custom_job(parent=PARENT, custom_job=job).name).labels == job.labels


def test_a_nas_metric_id_must_not_contain_whitespace(client) -> None:
    import pyglove as pg

    job = _nas_job(search_space_spec=pg.search_space(pg.Dict(x=pg.oneof([1, 2]))).to_json_str(hide_default_values=True))
    job.nas_job_spec.multi_trial_algorithm_spec.metric.metric_id = "top 1 accuracy"
    with pytest.raises(exceptions.BadRequest, match="metric_id must not contain whitespaces"):
        client.create_nas_job(parent=PARENT, nas_job=job)
