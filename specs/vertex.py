"""Names Vertex AI accepts, kept as data so `validate` checks them without importing the Google SDK.

* ``ACCELERATOR_TYPES``: the ``google.cloud.aiplatform_v1.AcceleratorType`` enum (less UNSPECIFIED);
  a test asserts the list equals the installed proto's.
* ``TRAINING_REGIONS``: where Vertex AI custom training (CustomJobs) runs
  (https://cloud.google.com/vertex-ai/docs/general/locations).
* ``NAS_REGIONS``: where Vertex AI NAS (NasJobs) runs: the seed's overview says 8 regions and names
  us-central1 and europe-west4; the other six are the Vertex emulator's assumption, kept identical to it.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

ACCELERATOR_TYPES = (
    "NVIDIA_TESLA_K80", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P4", "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_L4", "NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB",
    "NVIDIA_H200_141GB", "NVIDIA_B200", "NVIDIA_GB200", "NVIDIA_RTX_PRO_6000",
    "TPU_V2", "TPU_V3", "TPU_V4_POD", "TPU_V5_LITEPOD",
)
TPU_PREFIX = "TPU_"

TRAINING_REGIONS = frozenset({
    "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast3", "asia-south1", "asia-southeast1",
    "australia-southeast1", "europe-central2", "europe-north1", "europe-southwest1", "europe-west1",
    "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9", "me-west1",
    "northamerica-northeast1", "northamerica-northeast2", "southamerica-east1", "us-central1", "us-east1",
    "us-east4", "us-east5", "us-south1", "us-west1", "us-west2", "us-west3", "us-west4",
})
NAS_REGIONS = frozenset({"asia-east1", "asia-northeast1", "europe-west1", "europe-west4", "us-central1", "us-east1",
                         "us-east4", "us-west1"})

# Vertex's limits on one job: a NasJob stops after 14 days; Google's NAS client gives every trial 14 days.
MAX_JOB_SECONDS = 14 * 24 * 3600


def _did_you_mean(value: str, known: Iterable[str]) -> str:
    """A suggestion: a known name with the same last part (``T4``), else the closest spelling."""
    known = sorted(known)
    tail = value.rsplit("_", 1)[-1].upper()
    close = [k for k in known if k.rsplit("_", 1)[-1] == tail] or difflib.get_close_matches(value, known, n=1,
                                                                                           cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_accelerator(name: str | None) -> str | None:
    if name is not None and name not in ACCELERATOR_TYPES:
        raise ValueError(f"unknown accelerator type {name!r} (not in aiplatform_v1.AcceleratorType)"
                         f"{_did_you_mean(name, ACCELERATOR_TYPES)}")
    return name


def check_region(region: str) -> str:
    if region not in TRAINING_REGIONS:
        raise ValueError(f"{region!r} is not a Vertex AI training region{_did_you_mean(region, TRAINING_REGIONS)}")
    return region


def check_nas_region(region: str) -> str | None:
    """The problem with running a NasJob in `region`, if any."""
    if region in NAS_REGIONS:
        return None
    return f"Vertex AI NAS does not run in {region!r}; NAS regions: {', '.join(sorted(NAS_REGIONS))}"
