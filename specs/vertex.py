"""Names Vertex AI accepts, kept as data so `validate` checks them without importing the Google SDK.

* ``ACCELERATOR_TYPES``: the ``google.cloud.aiplatform_v1.AcceleratorType`` enum (less UNSPECIFIED);
  a test asserts the list equals the installed proto's.
* ``TRAINING_REGIONS``: where Vertex AI custom training (CustomJobs) runs
  (https://cloud.google.com/vertex-ai/docs/general/locations).
* ``NAS_REGIONS``: where Vertex AI NAS (NasJobs) runs: the seed's overview says 8 regions and names
  us-central1 and europe-west4; the other six are the Vertex emulator's assumption, kept identical to it.
* The job options' formats (``Scheduling.Strategy`` names, ``DiskSpec`` types and bounds, VPC network,
  PSC network attachment and Cloud KMS key names) as the aiplatform_v1 proto docs state them; a key
  or attachment must be in the jobs' region.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from specs.vertex_machines import MAX_FLEX_START_HOURS

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
# A job that queues with Dynamic Workload Scheduler (schedulingStrategy FLEX_START) runs 7 days at most.
MAX_JOB_SECONDS = 14 * 24 * 3600
MAX_FLEX_START_SECONDS = MAX_FLEX_START_HOURS * 3600


def max_job_seconds(scheduling_strategy: str | None) -> int:
    """The longest ``scheduling.timeout`` Vertex accepts for a job with this scheduling strategy."""
    return MAX_FLEX_START_SECONDS if scheduling_strategy == "FLEX_START" else MAX_JOB_SECONDS


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


# ``aiplatform_v1.Scheduling.Strategy`` less UNSPECIFIED and the deprecated ON_DEMAND / LOW_COST (a test
# asserts they are in the installed proto). SPOT VMs can be preempted; FLEX_START queues for capacity
# (Dynamic Workload Scheduler) up to ``Scheduling.max_wait_duration`` (default 24 h, 0 = no limit).
SCHEDULING_STRATEGIES = ("STANDARD", "SPOT", "FLEX_START")
# ``DiskSpec.boot_disk_type``'s documented values; its size bounds are Vertex's (default 100 GB).
BOOT_DISK_TYPES = ("pd-ssd", "pd-standard", "hyperdisk-balanced")
MIN_BOOT_DISK_GB, MAX_BOOT_DISK_GB = 100, 64_000
DEFAULT_BOOT_DISK_TYPE, DEFAULT_BOOT_DISK_GB = "pd-ssd", 100

_NAME = r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"  # a Compute Engine resource name
_NETWORK_RE = re.compile(rf"projects/(?P<project>[^/]+)/global/networks/(?P<name>{_NAME})")
_ATTACHMENT_RE = re.compile(rf"(projects/[^/]+/regions/(?P<region>[^/]+)/networkAttachments/)?{_NAME}")
_KMS_KEY_RE = re.compile(r"projects/[^/]+/locations/(?P<region>[^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+")
_NAME_RE = re.compile(_NAME)


def check_strategy(name: str | None) -> str | None:
    if name is not None and name not in SCHEDULING_STRATEGIES:
        raise ValueError(f"unknown scheduling strategy {name!r}; expected one of {', '.join(SCHEDULING_STRATEGIES)}"
                         f"{_did_you_mean(name, SCHEDULING_STRATEGIES)}")
    return name


def check_boot_disk_type(name: str | None) -> str | None:
    if name is not None and name not in BOOT_DISK_TYPES:
        raise ValueError(f"unknown boot disk type {name!r}; expected one of {', '.join(BOOT_DISK_TYPES)}")
    return name


def check_network(network: str | None) -> str | None:
    """A VPC network to peer with: ``projects/<project number>/global/networks/<name>`` (CustomJobSpec.network)."""
    if network is None:
        return None
    match = _NETWORK_RE.fullmatch(network)
    if match is None:
        raise ValueError(f"expected projects/PROJECT_NUMBER/global/networks/NAME, got {network!r}")
    if not match["project"].isdigit():
        raise ValueError(f"the network's project must be a project number (e.g. projects/12345/...), "
                         f"not {match['project']!r}")
    return network


def check_ip_range_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"expected the name of a reserved IP range (e.g. 'vertex-ai-range'), got {name!r}")
    return name


def check_network_attachment(attachment: str, region: str | None) -> str:
    """A PSC-I network attachment: its name, or projects/P/regions/<the job's region>/networkAttachments/NAME."""
    match = _ATTACHMENT_RE.fullmatch(attachment)
    if match is None:
        raise ValueError("expected a network attachment name or projects/PROJECT/regions/REGION/networkAttachments/"
                         f"NAME, got {attachment!r}")
    if match["region"] and region and match["region"] != region:
        raise ValueError(f"the network attachment is in {match['region']!r} but the jobs run in {region!r}; "
                         "it must be in the jobs' region")
    return attachment


def check_kms_key(key: str, region: str | None) -> str:
    """A CMEK key ``projects/P/locations/<the job's region>/keyRings/R/cryptoKeys/K`` (EncryptionSpec: "The key
    needs to be in the same region as where the compute resource is created")."""
    match = _KMS_KEY_RE.fullmatch(key)
    if match is None:
        raise ValueError(f"expected projects/PROJECT/locations/REGION/keyRings/RING/cryptoKeys/KEY, got {key!r}")
    if region and match["region"] != region:
        raise ValueError(f"the key is in {match['region']!r} but the jobs run in {region!r}; Vertex needs a key in "
                         "the jobs' region")
    return key
