"""What changed in the spec since the last `apply`, field by field, and which changes cannot apply in place.

Each pass records the normalised spec it applied (``experiment.json``: ``spec``). A change to a field
that recorded trials depend on (the search space, the controller and its seed, the trainer of rewarded
trials and the stage's trainer arguments, i.e. its proxy task, the reward of recorded rewards, fewer
trials than exist) would mix results of two experiments under one name: the controller and the top-N
ranking compare rewards across trials. Like Terraform's "forces replacement", it is shown and refused,
with the way out. A whole section left out (a stage, ``reward.latency``) is one change, refused while the stage
has recorded trials (results are never deleted) or while one of its fields could not change either.

A field the recorded spec lacks while the new spec holds its schema default is no change: the spec was
recorded by a nasctl release that did not have the field yet (the schema grows by fields with defaults),
and the user did not set it. Likewise a recorded field the schema no longer has (a release removed it)
is no change: no spec could set or revert it. Upgrading nasctl thus never shows, refuses or re-runs
anything in an applied experiment; a value the user sets, or a changed value, is a change as always.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from specs.loader import is_generation_of, spec_generation
from specs.model import NASExperiment
from state.records import SEARCH
from state.snapshot import ExperimentState, load_state
from state.store import StateStore

_MISSING = "(unset)"
_WAY_OUT = "start a new experiment (a new metadata.name), or revert the change"


@dataclass(frozen=True)
class FieldChange:
    path: str  # dotted, camelCase as in the YAML: spec.search.maxTrials
    old: Any
    new: Any
    refused: str | None = None  # why it cannot apply in place

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new, "refused": self.refused}


def normalised_spec(experiment: NASExperiment) -> dict[str, Any]:
    return experiment.model_dump(mode="json", by_alias=True)


def _stated_spec(experiment: NASExperiment) -> dict[str, Any]:
    """The spec without the fields at their schema default."""
    return experiment.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value
    return out


def _schema_lacks(experiment: NASExperiment, path: str) -> bool:
    """Whether `path` names a field the schema does not have (as opposed to a key of the user's own
    mapping, such as trainerArgs, or a section the spec leaves out)."""
    node: Any = experiment
    for key in path.split("."):
        if isinstance(node, BaseModel):
            name = next((name for name, info in type(node).model_fields.items() if key in (info.alias, name)), None)
            if name is None:
                return True
            node = getattr(node, name)
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False
    return False


def _refusal(path: str, old: Any, new: Any, state: ExperimentState) -> str | None:
    trials = list(state.trials.values())
    search = [t for t in trials if t.stage == SEARCH]
    if path.startswith("spec.searchSpace") and trials:
        return f"{len(trials)} recorded trials come from the old search space"
    if path.startswith(("spec.search.seed", "spec.search.algorithm")) and search:
        return f"the controller's proposals for {len(search)} recorded search trials came from the old value"
    # Failed trials have no reward: changing the trainer or its args to get past a failure mixes nothing.
    if path.startswith("spec.trainer") and (rewarded := sum(t.reward is not None for t in trials)):
        return f"{rewarded} finished trials were trained by the old trainer: their rewards and the new ones would not compare"
    stage, _, field = path.removeprefix("spec.").partition(".")
    if field == "trainerArgs" or field.startswith("trainerArgs."):  # a stage's own args (its proxy task)
        rewarded = sum(t.reward is not None for t in trials if t.stage == stage)
        if rewarded:
            return (f"{rewarded} finished {stage} trials were trained with the old value: their rewards and the "
                    "new ones would not compare")
    if path.startswith("spec.reward") and (rewards := sum(t.reward is not None for t in trials)):
        return f"the rewards of {rewards} finished trials were computed with the old reward"
    if path == "spec.search.maxTrials" and isinstance(new, int) and new < len(search):
        return f"{len(search)} search trials are recorded already; results are never deleted"
    return None


def spec_changes(experiment: NASExperiment, state: ExperimentState) -> list[FieldChange]:
    """Every field that differs from the spec recorded by the last pass (none when nothing was recorded),
    except fields the recorded spec lacks that are at their default now, and recorded fields the schema
    no longer has (see the module's docstring)."""
    recorded = state.experiment.spec
    if not recorded:
        return []
    old, new = _flatten(recorded, "", {}), _flatten(normalised_spec(experiment), "", {})
    stated = _flatten(_stated_spec(experiment), "", {})
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if _within_null(path, new) or (old.get(path, _MISSING) is None and _has_fields(path, new)):
            continue  # a field of a section now left out (shown once, below), or the null of one added
        before, after = old.get(path, _MISSING), new.get(path, _MISSING)
        if after is None and before is _MISSING and _has_fields(path, old):  # a whole section left out
            before, after = {k: v for k, v in _subtree(recorded, path).items() if v is not None}, _MISSING
            reason = _removal_refusal(path, old, state)
        elif before == after or (path not in old and path not in stated) or (
                path not in new and _schema_lacks(experiment, path)):
            continue
        else:
            reason = _refusal(path, before, after, state)
        changes.append(FieldChange(path, before, after, f"{reason}: {_WAY_OUT}" if reason else None))
    return changes


def _within_null(path: str, flat: dict[str, Any]) -> bool:
    """Whether a section holding `path` is null in `flat` (a stage the spec leaves out)."""
    parts = path.split(".")
    return any(flat.get(".".join(parts[:end]), _MISSING) is None for end in range(1, len(parts)))


def _removal_refusal(path: str, old: dict[str, Any], state: ExperimentState) -> str | None:
    """Why a section cannot be left out: a stage with recorded trials, or a field of it that cannot change."""
    stage = path.removeprefix("spec.")
    if recorded := sum(t.stage == stage for t in state.trials.values()):
        return f"{recorded} {stage} trials are recorded; results are never deleted"
    fields = (field for field in old if field.startswith(f"{path}."))
    return next(filter(None, (_refusal(field, old[field], _MISSING, state) for field in fields)), None)


def _subtree(document: dict[str, Any], path: str) -> dict[str, Any]:
    for key in path.split("."):
        document = document[key]
    return document


def _has_fields(path: str, flat: dict[str, Any]) -> bool:
    return any(key.startswith(f"{path}.") for key in flat)


def load_spec_state(store: StateStore, experiment: NASExperiment) -> ExperimentState:
    """The experiment's recorded state, seen with this spec's generation. When the last pass applied this
    very spec (its recorded spec shows no change, or its observed generation is this spec's in a form an
    older nasctl recorded), the observed generation reads as this spec's: an upgrade of nasctl is not a
    spec that `apply` has yet to run."""
    generation = spec_generation(experiment)
    state = load_state(store, experiment.metadata.name, generation)
    observed = state.experiment.observed_generation
    if observed is not None and observed != generation and (
            is_generation_of(observed, experiment) or (state.experiment.spec and not spec_changes(experiment, state))):
        state.experiment.observed_generation = generation
    return state
