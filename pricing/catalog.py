"""The offline price catalog (``pricing/prices.json``, overridable in the spec) and the one function that
prices an hour of a stage's trial, used by the cost preview and the budget guard alike.

Nothing here imports a cloud SDK nor the reconciler: prices are data."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from specs.model import VERTEX_ALGORITHMS, NASExperiment, VertexBackendSpec, VertexResourcesSpec
from specs.vertex import DEFAULT_BOOT_DISK_GB, DEFAULT_BOOT_DISK_TYPE
from state.records import SEARCH, TRAIN

LATENCY = "latency"  # the latency calculator's machine (a role beside the stages' SEARCH and TRAIN)


@dataclass(frozen=True)
class PriceCatalog:
    recorded_on: str
    region: str
    machines: dict[str, float]
    accelerators: dict[str, float]
    nas_multiplier: float
    default_gpu_quota: int
    spot_multiplier: float = 1.0
    disks: dict[str, float] = field(default_factory=dict)  # USD per GB-hour

    def hourly(self, resources_: VertexResourcesSpec) -> float:
        """USD per trial-hour: every replica's machine with its accelerators (at the Spot rate with
        schedulingStrategy SPOT) and boot disk (see :meth:`_disk_difference`)."""
        try:
            price = self.machines[resources_.machine_type]
        except KeyError:
            raise ValueError(f"no price for machine type {resources_.machine_type!r} in {self.region}; "
                             "set it under spec.backend.prices.machines") from None
        if resources_.accelerator_type:
            try:
                price += self.accelerators[resources_.accelerator_type] * resources_.accelerator_count
            except KeyError:
                raise ValueError(f"no price for accelerator {resources_.accelerator_type!r} in {self.region}; "
                                 "set it under spec.backend.prices.accelerators") from None
        if resources_.scheduling_strategy == "SPOT":
            price *= self.spot_multiplier
        return (price + self._disk_difference(resources_)) * resources_.replica_count

    def _disk_difference(self, resources_: VertexResourcesSpec) -> float:
        """USD per hour of the boot disk beyond Vertex's default (100 GB pd-ssd), which the machine prices
        include (they reproduce the NAS overview's worked examples as they are); a smaller or cheaper
        disk saves the difference."""
        disk = resources_.boot_disk_type or DEFAULT_BOOT_DISK_TYPE
        if disk == DEFAULT_BOOT_DISK_TYPE and resources_.boot_disk_size_gb in (None, DEFAULT_BOOT_DISK_GB):
            return 0.0
        try:
            chosen, default = self.disks[disk], self.disks[DEFAULT_BOOT_DISK_TYPE]
        except KeyError as missing:
            raise ValueError(f"no price for boot disk type {missing.args[0]!r} in {self.region}; "
                             "set it under spec.backend.prices.disks") from None
        return chosen * (resources_.boot_disk_size_gb or DEFAULT_BOOT_DISK_GB) - default * DEFAULT_BOOT_DISK_GB


@lru_cache(maxsize=1)
def _bundled_catalog() -> dict[str, Any]:
    return json.loads(resources.files("pricing").joinpath("prices.json").read_text(encoding="utf-8"))


def load_catalog(backend: VertexBackendSpec) -> PriceCatalog:
    """The bundled catalog for the backend's region, with the spec's overrides applied."""
    raw = _bundled_catalog()
    regions = raw["regions"]
    entry = regions.get(backend.region)
    machines: dict[str, float] = {}
    accelerators: dict[str, float] = {}
    disks: dict[str, float] = {}
    if entry is not None:
        base_name = entry.get("sameAs") or entry.get("of") or backend.region
        base = regions[base_name]
        factor = float(entry.get("multiplier", 1.0))
        machines = {k: v * factor for k, v in base["machines"].items()}
        accelerators = {k: v * factor for k, v in base["accelerators"].items()}
        disks = {k: v * factor for k, v in base.get("disks", {}).items()}
    machines.update(backend.prices.machines)
    accelerators.update(backend.prices.accelerators)
    disks.update(backend.prices.disks)
    multiplier = backend.prices.nas_multiplier or float(raw["nasMultiplier"])
    spot = backend.prices.spot_multiplier or float(raw["spotMultiplier"])
    quota = backend.gpu_quota if backend.gpu_quota is not None else int(raw["defaultGpuQuota"])
    return PriceCatalog(raw["recordedOn"], backend.region, machines, accelerators, multiplier, quota, spot, disks)


def machine_field(backend: VertexBackendSpec, stage: str) -> str:
    """The field of the machine a stage's trials run on: stage 2 on `train` (on `search` while `train` is
    unset), every other stage (search, proxy-task tools) on `search`."""
    return "train" if stage == TRAIN and backend.train is not None else "search"


def stage_resources(backend: VertexBackendSpec, stage: str) -> VertexResourcesSpec:
    return getattr(backend, machine_field(backend, stage))


def role_resources(experiment: NASExperiment, role: str) -> VertexResourcesSpec | None:
    """The Vertex machine of a role (SEARCH: stage-1 trials, TRAIN: stage-2, LATENCY: the calculator);
    None on the local backend or when the spec runs no latency calculator."""
    backend = experiment.spec.backend
    if not isinstance(backend, VertexBackendSpec):
        return None
    return {SEARCH: backend.search, TRAIN: backend.train_resources, LATENCY: backend.latency}[role]


def runs_in_nas_job(experiment: NASExperiment, role: str) -> bool:
    """Whether trials of this role are billed inside a Vertex NasJob (Vertex's own controllers)."""
    return (isinstance(experiment.spec.backend, VertexBackendSpec) and role in (SEARCH, TRAIN)
            and experiment.spec.search.algorithm in VERTEX_ALGORITHMS)


def trial_hourly_usd(experiment: NASExperiment, role: str, catalog: PriceCatalog | None = None,
                     in_nas_job: bool | None = None) -> float:
    """USD per hour of one trial on the machine of `role`, NasJob multiplier included when it runs in one
    (`in_nas_job`; default: as the role's trials run, see :func:`runs_in_nas_job`). Local backend: its
    `trialHourUsd` (0 by default: the machine is already paid for)."""
    backend = experiment.spec.backend
    if not isinstance(backend, VertexBackendSpec):
        return backend.trial_hour_usd
    resources_ = role_resources(experiment, role)
    if resources_ is None:
        return 0.0
    catalog = catalog or load_catalog(backend)
    nas = runs_in_nas_job(experiment, role) if in_nas_job is None else in_nas_job
    return catalog.hourly(resources_) * (catalog.nas_multiplier if nas else 1.0)
