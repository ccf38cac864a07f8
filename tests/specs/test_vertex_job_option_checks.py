"""The Vertex job options (network, PSC, CMEK, boot disk, scheduling strategy, replicas): `nasctl validate`
refuses bad values with one line naming the field and its YAML line, and accepts a spec using them all."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from specs.model import VertexBackendSpec, VertexResourcesSpec
from tests.support.poc_spec import edited_poc, line_of

KEY = "projects/my-project/locations/us-central1/keyRings/nas/cryptoKeys/jobs"
NETWORK = "projects/123456789/global/networks/nas-vpc"
A100 = {"machineType": "a2-highgpu-4g", "acceleratorType": "NVIDIA_TESLA_A100", "acceleratorCount": 4}


@pytest.mark.parametrize(("edit", "needle", "field", "message"), [
    (lambda b: b["search"].update(schedulingStrategy="PREEMPTIBLE"), "PREEMPTIBLE",
     "spec.backend.search.schedulingStrategy", "unknown scheduling strategy 'PREEMPTIBLE'; expected one of STANDARD"),
    (lambda b: b["train"].update(schedulingStrategy="SPOTT"), "SPOTT",
     "spec.backend.train.schedulingStrategy", "did you mean 'SPOT'?"),
    (lambda b: b.update(encryptionSpec={"kmsKeyName": KEY.replace("us-central1", "europe-west4")}), "encryptionSpec:",
     "spec.backend.encryptionSpec", "the key is in 'europe-west4' but the jobs run in 'us-central1'"),
    (lambda b: b.update(encryptionSpec={"kmsKeyName": "projects/p/keyRings/r/cryptoKeys/k"}), "kmsKeyName",
     "spec.backend.encryptionSpec.kmsKeyName", "expected projects/PROJECT/locations/REGION/keyRings/RING"),
    (lambda b: b["search"].update(bootDiskSizeGb=50), "bootDiskSizeGb",
     "spec.backend.search.bootDiskSizeGb", "greater than or equal to 100"),
    (lambda b: b["train"].update(bootDiskSizeGb=65_000), "bootDiskSizeGb",
     "spec.backend.train.bootDiskSizeGb", "less than or equal to 64000"),
    (lambda b: b["search"].update(bootDiskType="pd-balanced"), "pd-balanced",
     "spec.backend.search.bootDiskType", "unknown boot disk type 'pd-balanced'"),
    (lambda b: b.update(network="projects/my-project/global/networks/nas-vpc"), "network:",
     "spec.backend.network", "must be a project number"),
    (lambda b: b.update(network="nas-vpc"), "network:",
     "spec.backend.network", "expected projects/PROJECT_NUMBER/global/networks/NAME"),
    (lambda b: b.update(reservedIpRanges=["vertex-range"]), "reservedIpRanges:",
     "spec.backend.reservedIpRanges", "set network too"),
    (lambda b: b.update(pscInterfaceConfig={
        "networkAttachment": "projects/p/regions/us-east1/networkAttachments/nas"}), "pscInterfaceConfig:",
     "spec.backend.pscInterfaceConfig", "the network attachment is in 'us-east1'"),
    (lambda b: b["search"].update(maxWaitSeconds=3600), "maxWaitSeconds",
     "spec.backend.search.maxWaitSeconds", "maxWaitSeconds applies to schedulingStrategy FLEX_START only"),
    (lambda b: b.update(latency={"machineType": "n1-standard-8", "replicaCount": 2}), "    latency:",
     "spec.backend.latency", "the latency calculator measures on one machine"),
    (lambda b: b["search"].update(replicaCount=0), "replicaCount",
     "spec.backend.search.replicaCount", "greater than or equal to 1"),
    (lambda b: b["search"].update(schedulingStrategy="FLEX_START"), "schedulingStrategy",
     "spec.backend.search.schedulingStrategy", "queues only for L4, A100, H100, H200 or B200 GPUs"),
    (lambda b: b["train"].update(**A100, schedulingStrategy="FLEX_START"), "schedulingStrategy",
     "spec.backend.train.schedulingStrategy", "a FLEX_START job runs 168 hours (7 days) at most, and hoursPerTrial is 224"),
    (lambda b: b["train"].update(hoursPerTrial=400), "hoursPerTrial: 400",
     "spec.backend.train.hoursPerTrial", "less than or equal to 336"),
])
def test_validate_rejects_bad_job_options_with_one_line(tmp_path, nasctl, edit, needle, field, message) -> None:
    path = edited_poc(tmp_path, lambda spec: edit(spec["backend"]))
    done = nasctl("validate", "-f", str(path))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"error: {path}:{line_of(path, needle)}: {field}:") and message in errors[0], errors[0]


def test_a_spec_with_every_option_is_valid(tmp_path, nasctl) -> None:
    def everything(backend: dict) -> None:
        backend.update(network=NETWORK, reservedIpRanges=["vertex-range"], encryptionSpec={"kmsKeyName": KEY},
                       pscInterfaceConfig={"networkAttachment": "nas-attachment"})
        backend["search"].update(schedulingStrategy="SPOT", bootDiskType="pd-standard", bootDiskSizeGb=200)
        backend["train"].update(**A100, hoursPerTrial=150, schedulingStrategy="FLEX_START", maxWaitSeconds=7200,
                                replicaCount=4, bootDiskType="hyperdisk-balanced", bootDiskSizeGb=64_000)
    assert nasctl("validate", "-f", str(edited_poc(tmp_path, lambda spec: everything(spec["backend"])))).returncode == 0


def test_a_trial_holds_every_replicas_gpus() -> None:
    machine = VertexResourcesSpec(accelerator_type="NVIDIA_TESLA_T4", accelerator_count=2, replica_count=3)
    assert machine.gpus == 6 and VertexResourcesSpec().gpus == 0


def test_the_strategies_are_the_protos_and_a_key_in_the_region_is_accepted() -> None:
    from google.cloud.aiplatform_v1 import Scheduling

    from specs.vertex import SCHEDULING_STRATEGIES

    assert set(SCHEDULING_STRATEGIES) <= set(Scheduling.Strategy.__members__)
    base = {"type": "vertex", "project": "p", "containerImage": "i", "stagingUri": "gs://b/x"}
    assert VertexBackendSpec.model_validate({**base, "encryptionSpec": {"kmsKeyName": KEY}}).encryption_spec
    europe = KEY.replace("us-central1", "europe-west4")
    assert VertexBackendSpec.model_validate({**base, "region": "europe-west4",
                                             "encryptionSpec": {"kmsKeyName": europe}})
    with pytest.raises(ValidationError, match="project number"):
        VertexBackendSpec.model_validate({**base, "network": "projects/my-project/global/networks/n"})
