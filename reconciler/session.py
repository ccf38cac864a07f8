"""What a CLI command needs for one experiment: its spec, its state store, its reconciler.

Kept apart from the CLI so that the CLI only parses arguments and renders results.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from state.snapshot import ExperimentState, load_state
from state.store import StateStore
from state.uri import open_store
from reconciler.references import check_references
from specs.loader import load_experiment, spec_generation
from specs.model import VERTEX_ALGORITHMS, NASExperiment

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass
class Session:
    path: Path
    experiment: NASExperiment
    store: StateStore

    @classmethod
    def open(cls, path: str | Path) -> "Session":
        experiment = load_experiment(path, check_references)
        return cls(Path(path), experiment, open_store(experiment.spec.state_uri, experiment.metadata.name))

    def report_dir(self) -> Path:
        """Where plots go: beside the state when it is local, else ./nasctl-report/<name>/."""
        if self.store.local_root is not None:
            return self.store.local_root / "report"
        return Path("nasctl-report") / self.experiment.metadata.name

    def state(self) -> ExperimentState:
        return load_state(self.store, self.experiment.metadata.name, spec_generation(self.experiment))

    def reconciler(self):  # noqa: ANN201 - Reconciler; imported lazily to keep `status` light
        from reconciler.apply import Reconciler  # noqa: PLC0415
        from backends.factory import make_backend  # noqa: PLC0415

        if self.experiment.spec.search.algorithm in VERTEX_ALGORITHMS:  # Vertex's controller: one NasJob
            from reconciler.nas_job import NasJobReconciler  # noqa: PLC0415

            return NasJobReconciler(self.experiment, self.store)
        return Reconciler(self.experiment, self.store, make_backend(self.experiment, self.store))


def spec_files(path: str | Path) -> list[Path]:
    """A spec file, or every *.yaml/*.yml in a folder (sorted), for `nasctl diff -f specs/`."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
    return [path]
