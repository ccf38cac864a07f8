"""One readable training loop's pieces: optimizer and schedule, train/eval steps, checkpoints.

The learning rate lives in the optimizer state (``optax.inject_hyperparams``) and is a function of the
optimizer's own step count, so a run restored from its checkpoint continues the same schedule (the
public Vertex code restarts it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax

from trainers_jax.parallel import DataParallel

State = dict[str, Any]  # step, params, batch_stats, opt_state, ema (or None), finite


@dataclass(frozen=True)
class Normalize:
    """The input workers' 8-bit images → the model's input, on the device: ``(x / 255 - mean) / std``
    with the set's channel statistics (host-to-device traffic and worker IPC stay at one byte a value)."""

    mean: np.ndarray
    std: np.ndarray

    def __call__(self, images: jnp.ndarray) -> jnp.ndarray:
        return (images.astype(jnp.float32) / 255.0 - jnp.asarray(self.mean)) / jnp.asarray(self.std)


def _model_input(normalize: Normalize | None, images: jnp.ndarray) -> jnp.ndarray:
    return images if normalize is None else normalize(images)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200
    batch_size: int = 64
    learning_rate: float = 0.1
    warmup_steps: int | None = None  # default: 5 % of steps
    optimizer: Literal["sgd", "adamw"] = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-5
    label_smoothing: float = 0.1
    clip_norm: float | None = 1.0
    ema_decay: float | None = None  # e.g. 0.999: evaluate an exponential moving average of the weights

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps ({self.steps}) and batchSize ({self.batch_size}) must be ≥ 1")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"emaDecay must be in (0, 1), got {self.ema_decay}")

    @property
    def warmup(self) -> int:
        return min(self.steps - 1, self.warmup_steps if self.warmup_steps is not None else self.steps // 20)


def schedule(cfg: TrainConfig) -> optax.Schedule:
    """Linear warm-up, then cosine decay reaching 0 at the last step."""
    return optax.warmup_cosine_decay_schedule(0.0, cfg.learning_rate, cfg.warmup, cfg.steps, end_value=0.0)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    def decay_mask(params: Any) -> Any:  # decay kernels only, not biases nor BatchNorm scales
        return jax.tree_util.tree_map(lambda p: p.ndim > 1, params)

    def chain(learning_rate: float) -> optax.GradientTransformation:
        clip = [optax.clip_by_global_norm(cfg.clip_norm)] if cfg.clip_norm else []
        if cfg.optimizer == "adamw":
            return optax.chain(*clip, optax.adamw(learning_rate, weight_decay=cfg.weight_decay, mask=decay_mask))
        return optax.chain(*clip, optax.add_decayed_weights(cfg.weight_decay, decay_mask),
                           optax.sgd(learning_rate, cfg.momentum, nesterov=True))

    return optax.inject_hyperparams(chain)(learning_rate=schedule(cfg))


def learning_rate(state: State) -> float:
    """The learning rate of the last step taken (0 before the first)."""
    return float(state["opt_state"].hyperparams["learning_rate"])


def _init_leaf(rng: np.random.Generator, path: tuple[Any, ...], leaf: jax.ShapeDtypeStruct) -> np.ndarray:
    """He-normal conv kernels, LeCun-normal dense kernels, zero biases/means, unit scales/variances."""
    name = getattr(path[-1], "key", str(path[-1]))
    if name == "kernel":
        fan_in = int(np.prod(leaf.shape[:-1]))
        gain = 2.0 if len(leaf.shape) == 4 else 1.0
        return (rng.standard_normal(leaf.shape) * np.sqrt(gain / fan_in)).astype(leaf.dtype)
    if name in ("scale", "var"):
        return np.ones(leaf.shape, leaf.dtype)
    return np.zeros(leaf.shape, leaf.dtype)


def init_variables(model: Any, sample: np.ndarray, seed: int) -> dict[str, Any]:
    """Initial variables drawn on the host from the model's shapes.

    Jitting ``model.init`` makes XLA compile one random-number kernel per parameter: tens of seconds on
    a CPU for a MnasNet, where this takes well under one.
    """
    shapes = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), sample)
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map_with_path(lambda path, leaf: jnp.asarray(_init_leaf(rng, path, leaf)), shapes)


def init_state(model: Any, tx: optax.GradientTransformation, cfg: TrainConfig, sample: np.ndarray, seed: int) -> State:
    variables = init_variables(model, sample, seed)
    params = variables["params"]
    return {
        "step": jnp.zeros((), jnp.int32),
        "params": params,
        "batch_stats": variables.get("batch_stats", {}),
        "opt_state": jax.jit(tx.init)(params),  # one compilation instead of one per eager op
        "ema": jax.tree_util.tree_map(jnp.copy, params) if cfg.ema_decay else None,
        "finite": jnp.ones((), jnp.bool_),
    }


def make_train_step(model: Any, tx: optax.GradientTransformation, cfg: TrainConfig, num_classes: int,
                    parallel: DataParallel | None = None, normalize: Normalize | None = None):
    """A jitted step on one global batch: (state, images, labels) → (state, loss). Non-finite loss is flagged.

    With `normalize`, images arrive as 8-bit pixels and are normalised inside the step. With `parallel`,
    the state is replicated and the batch sharded over its devices (see
    :mod:`trainers_jax.parallel`); the step itself is the same code.
    """

    def loss_fn(params: Any, batch_stats: Any, x: jnp.ndarray, y: jnp.ndarray) -> tuple[jnp.ndarray, Any]:
        logits, updates = model.apply({"params": params, "batch_stats": batch_stats}, x, train=True,
                                      mutable=["batch_stats"])
        labels = optax.smooth_labels(jax.nn.one_hot(y, num_classes), cfg.label_smoothing)
        return optax.softmax_cross_entropy(logits, labels).mean(), updates["batch_stats"]

    def step(state: State, x: jnp.ndarray, y: jnp.ndarray) -> tuple[State, jnp.ndarray]:
        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state["params"], state["batch_stats"], _model_input(normalize, x), y)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        ema = state["ema"]
        if ema is not None:  # decay ramps up so early averages are not dominated by the random init
            count = state["step"].astype(jnp.float32)
            decay = jnp.minimum(cfg.ema_decay, (1.0 + count) / (10.0 + count))
            ema = jax.tree_util.tree_map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
        new_state = {"step": state["step"] + 1, "params": params, "batch_stats": batch_stats,
                     "opt_state": opt_state, "ema": ema, "finite": state["finite"] & jnp.isfinite(loss)}
        return new_state, loss

    if parallel is None:
        return jax.jit(step, donate_argnums=0)
    return jax.jit(step, donate_argnums=0, in_shardings=(parallel.replicated, parallel.batch, parallel.batch),
                   out_shardings=(parallel.replicated, parallel.replicated))


def eval_params(state: State) -> Any:
    return state["ema"] if state["ema"] is not None else state["params"]


def make_evaluator(model: Any, batch_size: int, parallel: DataParallel | None = None,
                   normalize: Normalize | None = None):
    """Accuracy and mean loss over a whole set, in fixed-size (padded, masked) batches: one compilation.

    With `parallel`, the batch is rounded up to a multiple of its devices and sharded over them (every
    process evaluates the whole set and feeds its own rows of each batch).
    """
    if parallel is not None:
        batch_size = -(-batch_size // parallel.size) * parallel.size
        rows = parallel.process_rows(batch_size)

    def place(batch: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
        return batch if parallel is None else parallel.shard(tuple(part[rows] for part in batch))

    @jax.jit
    def batch_stats(variables: Any, x: jnp.ndarray, y: jnp.ndarray, mask: jnp.ndarray) -> tuple[jnp.ndarray, ...]:
        logits = model.apply(variables, _model_input(normalize, x), train=False)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        correct = (jnp.argmax(logits, -1) == y) & mask
        return correct.sum(), jnp.where(mask, loss, 0.0).sum()

    def evaluate(state: State, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        """`batches`: (images, labels) of at most `batch_size` examples each."""
        variables = {"params": eval_params(state), "batch_stats": state["batch_stats"]}
        correct, loss_sum, count = 0.0, 0.0, 0
        for xb, yb in batches:
            pad = batch_size - len(xb)
            mask = np.arange(batch_size) < len(xb)
            xb = np.concatenate([xb, np.zeros((pad, *xb.shape[1:]), xb.dtype)]) if pad else xb
            yb = np.concatenate([yb, np.zeros(pad, yb.dtype)]) if pad else yb
            c, s = batch_stats(variables, *place((xb, yb, mask)))
            correct, loss_sum, count = correct + float(c), loss_sum + float(s), count + int(mask.sum())
        return {"accuracy": correct / count, "loss": loss_sum / count}

    return evaluate


class Checkpointer:
    """Orbax checkpoints of the whole train state (weights, optimizer state, step) and the input position."""

    def __init__(self, directory: Path):
        import orbax.checkpoint as ocp  # noqa: PLC0415

        self._ocp = ocp
        self.manager = ocp.CheckpointManager(Path(directory).absolute(),
                                             options=ocp.CheckpointManagerOptions(max_to_keep=1))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, state: State, data_state: dict[str, Any]) -> None:
        """Save the train state with the input iterator's position (`data_state`, JSON)."""
        step = int(state["step"])
        if self.manager.latest_step() != step:
            self.manager.save(step, args=self._ocp.args.Composite(
                state=self._ocp.args.StandardSave(_storable(state)), data=self._ocp.args.JsonSave(data_state)))
            self.manager.wait_until_finished()

    def restore(self, template: State) -> tuple[State, dict[str, Any]]:
        """The latest train state (placed like `template`) and the input iterator's position."""
        restored = self.manager.restore(self.manager.latest_step(), args=self._ocp.args.Composite(
            state=self._ocp.args.StandardRestore(_storable(template)), data=self._ocp.args.JsonRestore()))
        state = restored["state"]
        return {**state, "ema": state["ema"] if template["ema"] is not None else None}, restored["data"]

    def close(self) -> None:
        self.manager.close()


def _storable(state: State) -> State:
    """Orbax stores no None leaves: an absent EMA is stored as an empty dict."""
    return {**state, "ema": state["ema"] if state["ema"] is not None else {}}


def use_bf16() -> bool:
    """bf16 compute on accelerators; float32 on CPU (bf16 convolutions are slow there)."""
    return jax.default_backend() in ("gpu", "tpu")


def steps_for_fraction(fraction: float, total: int) -> int:
    return min(total, math.ceil(fraction * total - 1e-9))
