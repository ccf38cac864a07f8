"""What a CLI command needs for one experiment: its spec, its state store, its reconciler.

Kept apart from the CLI so that the CLI only parses arguments and renders results.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from state.snapshot import ExperimentState
from state.store import StateStore
from state.uri import open_store
from adaptors.user_code import NO_USER_CODE, policy_for_apply, set_policy
from reconciler.references import check_references
from reconciler.spec_changes import load_spec_state
from specs.loader import load_experiment
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
        return load_spec_state(self.store, self.experiment)

    def reconciler(self, acting: bool = False, allow_modules: tuple[str, ...] = ()):  # noqa: ANN201 - Reconciler
        """The reconciler of this spec. Only an acting one (`apply`) may import code the spec names, and
        only what the user-code policy allows (see ``adaptors.user_code``); `diff` imports none."""
        from reconciler.apply import Reconciler  # noqa: PLC0415 - imported lazily to keep `status` light
        from backends.factory import make_backend  # noqa: PLC0415

        policy = policy_for_apply(self.path, allow_modules) if acting else NO_USER_CODE
        set_policy(policy)
        if acting:
            for reference in user_code_references(self.experiment):
                policy.check(reference)
        if self.experiment.spec.search.algorithm in VERTEX_ALGORITHMS:  # Vertex's controller: one NasJob
            from reconciler.nas_job import NasJobReconciler  # noqa: PLC0415

            return NasJobReconciler(self.experiment, self.store)
        if acting:
            from reconciler.stages.search import check_controller  # noqa: PLC0415

            check_controller(self.experiment)
        return Reconciler(self.experiment, self.store, make_backend(self.experiment, self.store), user_code=acting)


def user_code_references(experiment: NASExperiment) -> list[str]:
    """Every 'module:function' of the spec that runs user code: space function, trainer module, generator."""
    spec = experiment.spec
    generator = spec.proxy_task_search.generator if spec.proxy_task_search else None
    return [ref for ref in (spec.search_space.function, spec.trainer.module, generator) if ref]


def spec_files(path: str | Path) -> list[Path]:
    """A spec file, or every *.yaml/*.yml in a folder (sorted), for `nasctl diff -f specs/`."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
    return [path]


def shared_state_errors(sessions: list[Session]) -> list[tuple[Path, list[str]]]:
    """One error per spec of a folder that records into the same state as another (same metadata.name and
    stateUri): their applies would take turns undoing each other."""
    by_state: dict[str, list[Path]] = {}
    for session in sessions:
        by_state.setdefault(session.store.uri, []).append(session.path)
    return [(path, [f"{path}: records into {uri} like {', '.join(str(p) for p in paths if p != path)}: give each "
                    "experiment its own metadata.name or stateUri"])
            for uri, paths in by_state.items() if len(paths) > 1 for path in paths]
