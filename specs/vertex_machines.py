"""Which accelerators a Vertex AI training machine takes, kept as data: `validate` checks a trial's machine
with it before anything is launched, and the Vertex emulator rejects what the service rejects with it.

Sources: Vertex AI "Configure compute resources for custom training" (its machine types and GPU table)
and Compute Engine's GPU machine types (how many vCPUs and how much memory an N1 machine may have for
each number of attached GPUs). Three kinds of machine:

* accelerator-optimized (A2, A3, A4, G2, G4; TPU VMs ct4p, ct5lp) come with their accelerators: a
  request names exactly those (a TPU VM may leave them out: its type implies them);
* N1 takes T4, P4, P100, V100 or K80 GPUs, 1, 2 or 4 of them (V100 and K80 also 8), and only if the
  machine is no larger than that many GPUs allow;
* the CPU families take none; ``cloud-tpu`` (TPU Node) takes TPU_V2 or TPU_V3 × 8.

A family not listed here is not checked by `machine_problem`: new hardware appears faster than this
table, and the price catalog still asks for such a machine's price.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

# Accelerator-optimized machine -> (its accelerator, how many).
BUNDLED: dict[str, tuple[str, int]] = {
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    **{f"a2-ultragpu-{n}g": ("NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)},
    **{f"a3-highgpu-{n}g": ("NVIDIA_H100_80GB", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8),
    "a3-ultragpu-8g": ("NVIDIA_H200_141GB", 8),
    "a4-highgpu-8g": ("NVIDIA_B200", 8),
    "a4x-highgpu-4g": ("NVIDIA_GB200", 4),
    **{f"g2-standard-{vcpus}": ("NVIDIA_L4", 1) for vcpus in (4, 8, 12, 16, 32)},
    "g2-standard-24": ("NVIDIA_L4", 2), "g2-standard-48": ("NVIDIA_L4", 4), "g2-standard-96": ("NVIDIA_L4", 8),
    **{f"g4-standard-{48 * n}": ("NVIDIA_RTX_PRO_6000", n) for n in (1, 2, 4, 8)},
    "ct4p-hightpu-4t": ("TPU_V4_POD", 4),
    **{f"ct5lp-hightpu-{n}t": ("TPU_V5_LITEPOD", n) for n in (1, 4, 8)},
}
TPU_VM_PREFIX = "ct"  # a TPU VM's type implies its TPUs

# N1 GPU -> {count: (most vCPUs, most GB of memory) the machine may have}.
N1_GPUS: dict[str, dict[int, tuple[int, float]]] = {
    "NVIDIA_TESLA_T4": {1: (48, 312), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P100": {1: (16, 104), 2: (32, 208), 4: (96, 208)},
    "NVIDIA_TESLA_V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
    "NVIDIA_TESLA_K80": {1: (8, 52), 2: (16, 104), 4: (32, 208), 8: (64, 416)},
}
N1_GB_PER_VCPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}
N1_VCPUS = (1, 2, 4, 8, 16, 32, 64, 96)
_N1 = re.compile(r"n1-(?P<kind>standard|highmem|highcpu)-(?P<vcpus>[0-9]+)")

TPU_NODE = "cloud-tpu"
TPU_NODE_ACCELERATORS = {"TPU_V2": 8, "TPU_V3": 8}  # one v2-8 / v3-8 device

CPU_FAMILIES = ("e2", "n2", "n2d", "n4", "c2", "c2d", "c3", "c3d", "c4", "m1", "m2", "m3")
GPU_FAMILIES = ("a2", "a3", "a4", "a4x", "g2", "g4")


def family(machine_type: str) -> str:
    return machine_type.split("-", 1)[0]


def is_known_family(machine_type: str) -> bool:
    return (machine_type == TPU_NODE or machine_type in BUNDLED
            or family(machine_type) in (*CPU_FAMILIES, *GPU_FAMILIES, "n1"))


def machine_problem(machine_type: str, accelerator_type: str | None, accelerator_count: int) -> str | None:
    """What Vertex would refuse in this machine with these accelerators, or None."""
    if machine_type in BUNDLED:
        return _bundled_problem(machine_type, accelerator_type, accelerator_count)
    if accelerator_type in TPU_NODE_ACCELERATORS or machine_type == TPU_NODE:
        return _tpu_node_problem(machine_type, accelerator_type, accelerator_count)
    if family(machine_type) == "n1":
        return _n1_problem(machine_type, accelerator_type, accelerator_count)
    if family(machine_type) in GPU_FAMILIES:
        return (f"{machine_type} is not a machine type of the {family(machine_type).upper()} family; known: "
                f"{_bundled_names(family(machine_type))}")
    if accelerator_type is not None and family(machine_type) in CPU_FAMILIES:
        return f"{machine_type} takes no accelerators; {accelerator_type} {_where_it_fits(accelerator_type)}"
    return None


def _bundled_problem(machine_type: str, accelerator_type: str | None, accelerator_count: int) -> str | None:
    own, count = BUNDLED[machine_type]
    if accelerator_type is None and machine_type.startswith(TPU_VM_PREFIX):
        return None
    if (accelerator_type, accelerator_count) != (own, count):
        return (f"{machine_type} comes with {count} × {own}: set acceleratorType {own} and acceleratorCount {count}"
                + (f" ({accelerator_type} {_where_it_fits(accelerator_type)})"
                   if accelerator_type not in (None, own) else ""))
    return None


def _tpu_node_problem(machine_type: str, accelerator_type: str | None, accelerator_count: int) -> str | None:
    if accelerator_type not in TPU_NODE_ACCELERATORS:
        return f"{TPU_NODE} takes TPU_V2 or TPU_V3, 8 cores (acceleratorCount 8)"
    if machine_type != TPU_NODE:
        return f"{accelerator_type} runs on machine type {TPU_NODE}, not {machine_type}"
    if accelerator_count != TPU_NODE_ACCELERATORS[accelerator_type]:
        return f"{TPU_NODE} takes {accelerator_type} × {TPU_NODE_ACCELERATORS[accelerator_type]} (one device)"
    return None


def _n1_problem(machine_type: str, accelerator_type: str | None, accelerator_count: int) -> str | None:
    match = _N1.fullmatch(machine_type)
    if match is None or int(match["vcpus"]) not in N1_VCPUS:
        return (f"{machine_type} is not an N1 machine type: n1-standard-, n1-highmem- or n1-highcpu- followed by "
                f"one of {', '.join(map(str, N1_VCPUS))} vCPUs")
    if accelerator_type is None:
        return None
    if accelerator_type not in N1_GPUS:
        return f"{accelerator_type} does not attach to N1 machines: it {_where_it_fits(accelerator_type)}"
    limits = N1_GPUS[accelerator_type]
    if accelerator_count not in limits:
        return (f"{accelerator_type} attaches to an N1 machine in groups of {_or(limits)}, "
                f"not {accelerator_count}")
    vcpus = int(match["vcpus"])
    memory_gb = vcpus * N1_GB_PER_VCPU[match["kind"]]
    most_vcpus, most_gb = limits[accelerator_count]
    if vcpus > most_vcpus or memory_gb > most_gb:
        enough = [count for count, (cpus, gb) in limits.items() if vcpus <= cpus and memory_gb <= gb]
        fix = f"attach {_or(enough)} of them" if enough else "choose a smaller N1 machine"
        return (f"{machine_type} ({vcpus} vCPUs, {memory_gb:g} GB) is larger than {accelerator_count} × "
                f"{accelerator_type} allows (at most {most_vcpus} vCPUs and {most_gb:g} GB): {fix}")
    return None


# Dynamic Workload Scheduler (schedulingStrategy FLEX_START) queues for these GPUs only (Vertex AI "Schedule
# training jobs based on resource availability": L4, A100, H100, H200 and B200), for jobs of at most 7 days.
FLEX_START_ACCELERATORS = ("NVIDIA_L4", "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_H100_80GB",
                           "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB", "NVIDIA_B200")


MAX_FLEX_START_HOURS = 7 * 24


def flex_start_problem(accelerator_type: str | None, hours_per_trial: float | None = None) -> str | None:
    """What Vertex would refuse in a FLEX_START job with these accelerators, or in one expected to run
    `hours_per_trial`; None when it takes it."""
    if accelerator_type not in FLEX_START_ACCELERATORS:
        return (f"schedulingStrategy FLEX_START (Dynamic Workload Scheduler) queues only for L4, A100, H100, H200 "
                f"or B200 GPUs ({', '.join(FLEX_START_ACCELERATORS)}), not "
                f"{accelerator_type or 'a machine without GPUs'}")
    if hours_per_trial is not None and hours_per_trial > MAX_FLEX_START_HOURS:
        return (f"a FLEX_START job runs {MAX_FLEX_START_HOURS} hours (7 days) at most, and hoursPerTrial is "
                f"{hours_per_trial:g}")
    return None


def _where_it_fits(accelerator_type: str) -> str:
    """Where `accelerator_type` goes instead, as a verb phrase for an error message."""
    if accelerator_type in N1_GPUS:
        return "attaches to n1-* machines"
    if accelerator_type in TPU_NODE_ACCELERATORS:
        return f"runs on machine type {TPU_NODE}"
    machines = [name for name, (own, _) in BUNDLED.items() if own == accelerator_type]
    return f"comes with {', '.join(machines)}" if machines else "is not offered for training"


def _bundled_names(family_name: str) -> str:
    return ", ".join(name for name in BUNDLED if family(name) == family_name)


def _or(counts: Iterable[int]) -> str:
    counts = [str(count) for count in counts]
    return counts[0] if len(counts) == 1 else f"{', '.join(counts[:-1])} or {counts[-1]}"
