"""Read and write an experiment's recorded state as one unit, with compare-and-swap on both objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from state.records import EXPERIMENT_KEY, TRIALS_KEY, ExperimentRecord, TrialRecord
from state.store import CorruptState, StateStore


@dataclass
class ExperimentState:
    experiment: ExperimentRecord
    trials: dict[str, TrialRecord] = field(default_factory=dict)
    experiment_generation: int = 0  # store generations, for compare-and-swap
    trials_generation: int = 0

    def stage_trials(self, stage: str) -> list[TrialRecord]:
        return sorted((t for t in self.trials.values() if t.stage == stage), key=lambda t: t.index)

    def add(self, records: Iterable[TrialRecord]) -> None:
        for record in records:
            if record.id in self.trials:
                raise ValueError(f"trial {record.id} already recorded")
            self.trials[record.id] = record


_RESTORE = "restore it from a backup (or the bucket's object versions), or remove the experiment's state to start over"


def load_state(store: StateStore, name: str, generation: str) -> ExperimentState:
    """The recorded state, or a fresh one when nothing is recorded yet. Corrupt state raises."""
    experiment_doc = store.get(EXPERIMENT_KEY)
    trials_doc = store.get(TRIALS_KEY)
    location = f"{store.uri}/"
    try:
        experiment = (
            ExperimentRecord.from_json(experiment_doc.data) if experiment_doc
            else ExperimentRecord(name=name, generation=generation)
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # any shape but a record's
        raise CorruptState(location + EXPERIMENT_KEY, f"unexpected content ({exc})") from None
    try:
        trials = [TrialRecord.from_json(item) for item in (trials_doc.data["trials"] if trials_doc else [])]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptState(location + TRIALS_KEY, f"unexpected content ({exc})") from None
    if trials and experiment_doc is None:  # `apply` records the experiment before its first trial
        raise CorruptState(location + EXPERIMENT_KEY, f"missing, while {TRIALS_KEY} records {len(trials)} trials (the "
                                                      "spec they ran under is in it)", _RESTORE)
    recorded = _recorded_trials(experiment)
    if recorded and not trials:
        raise CorruptState(location + TRIALS_KEY, f"missing or empty, while {EXPERIMENT_KEY} records {recorded} trials",
                           _RESTORE)
    experiment.generation = generation
    return ExperimentState(
        experiment=experiment,
        trials={t.id: t for t in trials},
        experiment_generation=experiment_doc.generation if experiment_doc else 0,
        trials_generation=trials_doc.generation if trials_doc else 0,
    )


def _recorded_trials(experiment: ExperimentRecord) -> int:
    """How many trials experiment.json's stage summaries count (0 when it has none, or they are odd)."""
    total = 0
    for stage in experiment.stages.values():
        summary = stage.get("summary") if isinstance(stage, dict) else None
        count = summary.get("total") if isinstance(summary, dict) else None
        total += count if isinstance(count, int) and not isinstance(count, bool) else 0
    return total


def save_trials(store: StateStore, state: ExperimentState) -> None:
    ordered = sorted(state.trials.values(), key=lambda t: (t.stage, t.index))
    state.trials_generation = store.put(
        TRIALS_KEY, {"trials": [t.to_json() for t in ordered]}, if_generation=state.trials_generation
    )


def save_experiment(store: StateStore, state: ExperimentState) -> None:
    state.experiment_generation = store.put(
        EXPERIMENT_KEY, state.experiment.to_json(), if_generation=state.experiment_generation
    )
