"""What the reconciler records in the state store, and how it is (de)serialised.

Layout under the experiment's prefix (a bounded number of objects per pass, whatever the trial count):

* ``experiment.json`` — generation, observedGeneration, phase, conditions, stage summaries.
* ``trials.json`` — the index of every trial: id, stage, index, dna, arch, status, reward, metrics.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

EXPERIMENT_KEY = "experiment.json"
TRIALS_KEY = "trials.json"

# Trial statuses (the JSON contract) and failure reasons.
PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED = "pending", "running", "succeeded", "failed", "stopped"
TERMINAL = (SUCCEEDED, FAILED, STOPPED)
REASON_CRASHED, REASON_NAN, REASON_OOM, REASON_TIMEOUT, REASON_ERROR = "crashed", "nan", "oom", "timeout", "error"
REASON_REWARD = "reward"  # trained, but the spec's reward could not be computed from its metrics (one missing)

# Experiment phases.
PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, PHASE_FAILED = "Pending", "Running", "Succeeded", "Failed"
PHASE_DELETED = "Deleted"  # `nasctl delete`: every job cancelled, state kept; apply refuses until --undelete
REASON_DELETED = "deleted"  # a trial `nasctl delete` stopped
REASON_JOB_TIME_LIMIT = "job-time-limit"  # a trial cut short when its Vertex NasJob reached 14 days
REASON_MAX_TRIALS = "max-trials"  # a trial past maxTrials, stopped with the NasJob that ran it
REASON_JOB_ENDED = "job-ended"  # a trial Vertex left unfinished when its NasJob ended (otherwise)
# The label of a NasJob experiment's stage-2 trial that nasctl runs as a CustomJob (reconciler.nas_stage2).
RUNNER_LABEL, CUSTOM_JOB_RUNNER = "runner", "customJob"

# Stage names, as recorded in every trial's ``stage`` (the order of the stage graph, ``reconciler.graph``).
VARIANCE, MODEL_SELECTION, PROXY_TASK_SEARCH = "varianceMeasurement", "modelSelection", "proxyTaskSearch"
SEARCH, TRAIN = "search", "train"


TRIAL_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*-[0-9]{4,}")  # a trial id is a directory name: no path parts


@dataclass
class TrialRecord:
    id: str
    stage: str
    index: int
    dna: list[Any]
    arch: Any
    status: str = PENDING
    reason: str | None = None
    message: str = ""
    reward: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)  # trainer args after stage overrides
    source_trial: str | None = None  # stage-2: the stage-1 trial whose architecture it trains
    seed: int | None = None  # training seed of this trial; None = the experiment's search seed
    labels: dict[str, str] = field(default_factory=dict)  # stage-specific tags, e.g. a proxy-task candidate
    attempt: int = 0
    launched_at: float | None = None
    finished_at: float | None = None
    backend_ref: dict[str, Any] = field(default_factory=dict)  # where the backend runs it

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def runs_as_custom_job(self) -> bool:
        """A NasJob experiment's stage-2 trial that nasctl runs as a CustomJob: not one of the NasJob's, and
        billed without the NAS multiplier."""
        return self.labels.get(RUNNER_LABEL) == CUSTOM_JOB_RUNNER

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrialRecord":
        record = cls(**data)
        if not isinstance(record.id, str) or not TRIAL_ID.fullmatch(record.id) or not record.id.startswith(
                f"{record.stage}-"):
            raise ValueError(f"invalid trial id {record.id!r} (expected <stage>-<4+ digits>)")
        for name, kinds, expected in _FIELD_KINDS:
            value = getattr(record, name)
            if isinstance(value, bool) or not isinstance(value, kinds):  # JSON true is no number
                raise ValueError(f"trial {record.id}: {name} is {value!r}, expected {expected}")
        if record.status not in (PENDING, RUNNING, *TERMINAL):
            raise ValueError(f"trial {record.id}: status is {record.status!r}, expected one of "
                             f"{[PENDING, RUNNING, *TERMINAL]}")
        return record


_NUMBER = (int, float)
# What each field of a recorded trial must hold: a hand-edited or damaged trials.json is refused on reading,
# naming the trial, not met later as a type error deep in a ranking or a plot.
_FIELD_KINDS: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("index", (int,), "an integer"), ("attempt", (int,), "an integer"), ("dna", (list,), "a list"),
    ("status", (str,), "a string"), ("message", (str,), "a string"),
    ("reward", (*_NUMBER, type(None)), "a number or null"), ("metrics", (dict,), "a mapping"),
    ("args", (dict,), "a mapping"), ("labels", (dict,), "a mapping"), ("backend_ref", (dict,), "a mapping"),
    ("launched_at", (*_NUMBER, type(None)), "a number or null"),
    ("finished_at", (*_NUMBER, type(None)), "a number or null"),
)


@dataclass
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclass
class ExperimentRecord:
    name: str
    generation: str
    observed_generation: str | None = None
    phase: str = PHASE_PENDING
    conditions: list[Condition] = field(default_factory=list)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    spec: dict[str, Any] | None = None  # the normalised spec the last pass applied (for `diff`)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ExperimentRecord":
        conditions = [Condition(**c) for c in data.get("conditions", [])]
        return cls(**{**data, "conditions": conditions})
