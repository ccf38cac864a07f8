"""The backend named by the spec, with its trial working directory."""
from __future__ import annotations

from pathlib import Path

from backends.base import Backend
from state.store import StateStore
from specs.model import NASExperiment

LOCAL_WORK_ROOT = Path(".nasctl") / "work"


def local_work_dir(experiment: NASExperiment, store: StateStore) -> Path:
    """Trial directories: beside the state when it is local, else under ./.nasctl/work/<name>."""
    if store.local_root is not None:
        return store.local_root / "trials"
    return (LOCAL_WORK_ROOT / experiment.metadata.name).resolve()


def make_backend(experiment: NASExperiment, store: StateStore) -> Backend:
    backend = experiment.spec.backend
    if backend.type == "local":
        from backends.local import LocalBackend  # noqa: PLC0415

        return LocalBackend(local_work_dir(experiment, store), gpus=backend.gpus,
                            trials_per_gpu=backend.trials_per_gpu)
    if backend.type == "vertex":
        from backends.vertex.custom_jobs import VertexCustomJobBackend  # noqa: PLC0415 - cloud SDKs are heavy

        return VertexCustomJobBackend(experiment)
    raise ValueError(f"unsupported backend {backend.type!r}")
