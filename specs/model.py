"""The NASExperiment API: pydantic models with explicit, documented defaults.

YAML keys are camelCase (``maxTrials``); Python attributes are snake_case. Unknown keys are errors.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

API_VERSION = "nasctl.dev/v1alpha1"
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_MODULE_FUNCTION_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class SpecModel(BaseModel):
    """Base of every spec model: camelCase keys, unknown keys rejected, validated on assignment."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=True
    )


def _check_module_function(value: str | None) -> str | None:
    if value is not None and not _MODULE_FUNCTION_RE.match(value):
        raise ValueError(f"expected 'package.module:function', got {value!r}")
    return value


class Metadata(SpecModel):
    name: str = Field(description="Experiment name: lowercase letters, digits and '-', at most 63 characters.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("expected lowercase letters, digits and '-', starting and ending alphanumeric, ≤ 63 chars")
        return value


class LocalBackend(SpecModel):
    """Trials run as subprocesses of `nasctl apply` on this machine."""

    type: Literal["local"] = "local"
    gpus: list[int] = Field(
        default_factory=list,
        description="GPU ids trials may use; empty = CPU only. Each trial gets one GPU slot.",
    )
    trials_per_gpu: int = Field(1, ge=1, description="Trials packed on one GPU (each gets 1/N of its memory).")
    poll_seconds: float = Field(0.2, gt=0, description="How often apply polls running trials.")


class SearchSpaceSpec(SpecModel):
    """Exactly one of `prebuilt`, `function` or `choices`."""

    prebuilt: str | None = Field(None, description="Name of a prebuilt space, e.g. 'nb201'.")
    function: str | None = Field(None, description="'module:function' returning a PyGlove hyper value.")
    choices: dict[str, list[Any]] | None = Field(
        None, description="Inline categorical choices: {decision name: [candidates]}."
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments for a prebuilt space or function.")

    _check_function = field_validator("function")(_check_module_function)

    @model_validator(mode="after")
    def _exactly_one(self) -> "SearchSpaceSpec":
        given = [k for k in ("prebuilt", "function", "choices") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"set exactly one of prebuilt, function, choices (got {given or 'none'})")
        if self.choices is not None:
            empty = [name for name, values in self.choices.items() if not values]
            if empty or not self.choices:
                raise ValueError(f"every choice needs at least one candidate (empty: {empty or 'no choices'})")
        return self


class TrainerSpec(SpecModel):
    """Exactly one of `prebuilt`, `module` or `command`."""

    prebuilt: str | None = Field(None, description="Name of a prebuilt trainer, e.g. 'nb201-tabular'.")
    module: str | None = Field(None, description="'module:function' called with a TrialContext (custom trainer API).")
    command: list[str] | None = Field(
        None, description="Executable and arguments; run with NASCTL_TRIAL_DIR set to the trial directory."
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Trainer arguments shared by every stage.")

    _check_module = field_validator("module")(_check_module_function)

    @model_validator(mode="after")
    def _exactly_one(self) -> "TrainerSpec":
        given = [k for k in ("prebuilt", "module", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"set exactly one of prebuilt, module, command (got {given or 'none'})")
        if self.command is not None and not self.command:
            raise ValueError("command must name an executable")
        return self


class ObjectiveTarget(SpecModel):
    """A latency (or FLOPs) or memory term of the MnasNet/Vertex reward."""

    metric: str = Field(description="Metric reported by the trainer or latency calculator, e.g. 'latency_ms'.")
    target: float = Field(gt=0, description="Target value; the reward is penalised above it.")
    weight: float = Field(1.0, description="Exponent w in (target/measured)^w.")


class RewardSpec(SpecModel):
    """reward = metric × (target/latency)^w × (target/memory)^w, each factor capped at 1 in 'hard' mode."""

    metric: str = Field("accuracy", description="Metric to maximise (reported by the trainer).")
    latency: ObjectiveTarget | None = Field(None, description="Latency (or FLOPs) term; none = no penalty.")
    memory: ObjectiveTarget | None = Field(None, description="Memory term; none = no penalty.")
    limit: Literal["hard", "soft"] = Field(
        "hard", description="hard: factors capped at 1 (Vertex default); soft: MnasNet (measured/target)^beta."
    )
    soft_exponent: float = Field(-0.07, description="beta of the soft form (MnasNet: -0.07).")


class StageTrainerOverrides(SpecModel):
    trainer_args: dict[str, Any] = Field(
        default_factory=dict, description="Merged over trainer.args for this stage's trials."
    )
    timeout_seconds: float | None = Field(None, gt=0, description="A trial running longer is stopped (reason timeout).")


class SearchStage(StageTrainerOverrides):
    """Stage 1: the controller proposes architectures, each trained with the proxy task."""

    algorithm: str = Field("random", description="Search controller, e.g. 'random'.")
    algorithm_settings: dict[str, Any] = Field(default_factory=dict, description="Controller-specific settings.")
    max_trials: int = Field(ge=1, description="Stage-1 trials in total (failed ones included).")
    parallel_trials: int = Field(1, ge=1, description="Trials running at once.")
    max_failed_trials: int | None = Field(
        None, ge=0, description="Failures tolerated before the experiment fails; default 20 % of maxTrials."
    )
    seed: int = Field(0, description="Seed of the controller: same seed, same proposals.")

    @model_validator(mode="after")
    def _consistent_counts(self) -> "SearchStage":
        if self.parallel_trials > self.max_trials:
            raise ValueError(
                f"parallelTrials ({self.parallel_trials}) must not exceed maxTrials ({self.max_trials})"
            )
        return self

    @property
    def failure_budget(self) -> int:
        """Failures allowed: explicit, or 20 % of maxTrials as in Vertex's guidance."""
        if self.max_failed_trials is not None:
            return self.max_failed_trials
        return int(self.max_trials * 0.2)


class TrainStage(StageTrainerOverrides):
    """Stage 2: the top-N stage-1 architectures trained fully."""

    top_n: int = Field(10, ge=1, description="How many of the best stage-1 architectures to train.")
    parallel_trials: int = Field(1, ge=1, description="Trials running at once.")
    max_failed_trials: int | None = Field(None, ge=0, description="Default: all may fail without failing the experiment.")


class ExperimentSpec(SpecModel):
    backend: LocalBackend = Field(default_factory=LocalBackend, description="Where trials run.")
    state_uri: str = Field(
        ".nasctl", description="Where state is recorded: a directory (bare path or file://)."
    )
    search_space: SearchSpaceSpec
    trainer: TrainerSpec
    reward: RewardSpec = Field(default_factory=RewardSpec)
    search: SearchStage
    train: TrainStage | None = Field(None, description="Stage-2 full training; omit to stop after search.")

    @field_validator("state_uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in ("", "file"):
            raise ValueError(f"unsupported state location scheme {scheme!r}; expected a path or file://")
        return value


class NASExperiment(SpecModel):
    api_version: Literal["nasctl.dev/v1alpha1"] = Field(API_VERSION, description="API version of this document.")
    kind: Literal["NASExperiment"]
    metadata: Metadata
    spec: ExperimentSpec
