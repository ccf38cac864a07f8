"""The prebuilt trainers' arguments: camelCase keys, unknown keys are errors.

Pydantic models that import no JAX, so `nasctl validate` checks a spec's trainer args (with their field
path and YAML line) with the very checks the trial applies, before any trial runs.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, ValidationError

from adaptors.keyword_args import KeywordArgs
from adaptors.suggest import did_you_mean
from latency.measure import MEASURED_METRICS
from trial.protocol import FAILED, TrialFailure


class TrainerArgs(KeywordArgs):
    def unreported(self, metric: str, measured_outside: bool) -> str | None:
        """Why a trial trained with these args would not report `metric` (a reward naming it could never be
        computed), or None when it reports it or the trainer cannot tell. `measured_outside`: a latency
        calculator job measures each trial's saved model (its latency.json joins the trial's metrics)."""
        raise NotImplementedError

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Self:
        """The args in the trial process; refused ones fail the trial with every problem."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise TrialFailure(FAILED, f"{cls.owner}: bad trainer args: {cls.listed(exc)}") from None


class TabularArgs(TrainerArgs):
    """`nb201-tabular`: looks an NB201 cell up in a NAS-Bench-201 table."""

    owner: ClassVar[str] = "nb201-tabular"
    mode: Literal["proxy", "full"] = Field(
        "proxy", description="proxy: the 12-epoch validation accuracy; full: the 200-epoch test accuracy.")
    table: str | None = Field(None, description="NB201 table (CSV path); default: the bundled CIFAR-10 table.")
    delay_seconds: float = Field(0.0, ge=0, description="Simulated training time (demos, crash tests).")
    fail_archs: list[str] = Field(default_factory=list, description="NB201 strings that fail (failure handling).")
    steps: int | None = Field(
        None, ge=1, description="Ignored (a lookup has no length); a proxy-task search's winner sets it.")

    def unreported(self, metric: str, measured_outside: bool) -> str | None:
        if metric == "accuracy" or re.fullmatch(r"latency_\w+_ms", metric):
            return None
        return f"{self.owner} reports accuracy and its table's latency_<device>_ms columns, not {metric!r}"


# What every image-classifier trial reports, and what its `latency` measurement adds (latency.measure).
CLASSIFIER_METRICS = ("accuracy", "loss", "train_loss", "learning_rate", "steps", "train_seconds", "num_params")


class LatencyArgs(KeywordArgs):
    """`image-classifier`'s `latency`: measure the trained model in its own process."""

    owner: ClassVar[str] = "image-classifier latency"
    batch_size: int = Field(1, ge=1, description="Images per timed forward pass.")
    image_size: int | None = Field(None, ge=1, description="Default: the training image size.")
    warmup: int = Field(20, ge=0, description="Untimed runs first.")
    runs: int = Field(50, ge=2, description="Timed runs; the median is latency_ms.")


class ClassifierArgs(TrainerArgs):
    """`image-classifier`: the proxy-task levers are steps, trainFraction and the width/depth/imageSize scale-down."""

    owner: ClassVar[str] = "image-classifier"

    dataset: str = Field("digits", description="'digits', an .npz file, an image folder or ArrayRecord shards (nasctl data convert); local, /gcs/... or gs://...")
    image_size: int | None = Field(
        None, ge=4, description="Training image size (default: digits 32, arrays their own, image folders 224).")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share held out for testing (data without its own test split).")
    train_fraction: float = Field(1.0, gt=0, le=1, description="Class-balanced sub-sample of the training set.")
    steps: int = Field(200, ge=1, description="Training steps; the cosine schedule decays to 0 at the last.")
    batch_size: int = Field(64, ge=1, description="Global batch, split across the devices (must divide by them).")
    eval_every: int = Field(50, ge=1, description="Steps between evaluations (one cycle of metrics.jsonl).")
    eval_batch_size: int = Field(256, ge=1, description="Batch of the evaluation passes.")
    learning_rate: float = Field(0.1, gt=0, description="Peak learning rate, after the warm-up.")
    warmup_steps: int | None = Field(None, ge=0, description="Linear warm-up steps (default: 5 % of steps).")
    optimizer: Literal["sgd", "adamw"] = Field("sgd", description="sgd (Nesterov momentum) or adamw.")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum.")
    weight_decay: float = Field(5e-5, ge=0, description="Weight decay, on kernels only.")
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="Label smoothing of the cross-entropy.")
    clip_norm: float | None = Field(1.0, gt=0, description="Global gradient-norm clip; null: none.")
    ema_decay: float | None = Field(None, gt=0, lt=1, description="Evaluate EMA weights with this decay; null: none.")
    width: float = Field(1.0, gt=0, description="Width multiplier (MnasNet).")
    depth: float = Field(1.0, gt=0, description="Depth multiplier (MnasNet).")
    nb201_channels: int = Field(16, ge=1, description="Channels of the first NB201 stage (NAS-Bench-201: 16).")
    nb201_cells: int = Field(5, ge=1, description="Cells per NB201 stage (NAS-Bench-201: 5).")
    base_arch: dict[str, Any] | None = Field(
        None, description="The network a scaling or augmentation search trains (default: MnasNet-B1).")
    scaling: dict[str, float] | None = Field(
        None, description="A fixed EfficientNet compound scaling {depth, width, resolution} of the network.")
    augmentation: dict[str, Any] | None = Field(
        None, description="A fixed RandAugment policy {num_ops, magnitude (0-30), operations} for training images.")
    data_workers: int | None = Field(
        None, ge=0, description="Input worker processes (default: none for arrays, one per core up to 16 for image folders).")
    bf16: bool | None = Field(None, description="bf16 compute; default on for GPU/TPU, off on CPU.")
    latency: LatencyArgs | None = Field(
        None, description="Measure the trained model's latency in its own process: {batchSize, imageSize, warmup, runs}.")
    wait_for_latency_seconds: float | None = Field(
        None, gt=0, description="Wait this long for latency.json from an on-prem latency worker.")

    def unreported(self, metric: str, measured_outside: bool) -> str | None:
        if self.wait_for_latency_seconds is not None:  # a latency worker's measure reports what it likes
            return None
        measured = self.latency is not None or measured_outside
        reported = CLASSIFIER_METRICS + (MEASURED_METRICS if measured else ())
        if metric in reported:
            return None
        if metric in MEASURED_METRICS:
            return (f"nothing measures {metric!r}, so every trial would fail: set spec.trainer.args.latency "
                    "(e.g. {runs: 50}) to measure each model on its trial's machine")
        hint = did_you_mean(metric, reported, f" (it reports: {', '.join(reported)})")
        return f"{self.owner} does not report {metric!r}{hint}"


# Each prebuilt trainer's arguments, by the trainer's name in `trainer.prebuilt`.
PREBUILT_TRAINER_ARGS: dict[str, type[TrainerArgs]] = {"nb201-tabular": TabularArgs,
                                                        "image-classifier": ClassifierArgs}
