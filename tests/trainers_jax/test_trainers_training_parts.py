"""The training loop's parts: schedule, batches, EMA, out-of-memory classification."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from trainers_jax import training
from trainers_jax.image_classifier import out_of_memory
from trainers_jax.models import ModelConfig, build_model
from trial.protocol import FAILED_OOM

from tests.support.trainer_fixtures import TINY_ARCH


@settings(max_examples=30, deadline=None)  # the first call compiles the schedule
@given(steps=st.integers(2, 5000), peak=st.floats(1e-4, 1.0))
def test_schedule_warms_up_then_decays_to_zero_at_the_last_step(steps: int, peak: float) -> None:
    cfg = training.TrainConfig(steps=steps, learning_rate=peak)
    lr = training.schedule(cfg)
    if cfg.warmup:
        assert float(lr(0)) == 0.0
    assert float(lr(cfg.warmup)) == pytest.approx(peak, rel=1e-5)
    assert abs(float(lr(steps))) < 1e-6 * peak + 1e-9


def test_ema_weights_lag_behind_the_trained_weights() -> None:
    model = build_model(ModelConfig(TINY_ARCH, 10, 8, channels=1))
    cfg = training.TrainConfig(steps=10, batch_size=8, learning_rate=0.5, ema_decay=0.9)
    tx = training.make_optimizer(cfg)
    images = np.random.default_rng(0).standard_normal((8, 8, 8, 1)).astype(np.float32)
    labels = np.arange(8, dtype=np.int32)
    state = training.init_state(model, tx, cfg, images[:1], seed=0)
    initial = jax.tree_util.tree_map(np.asarray, state["params"])
    step = training.make_train_step(model, tx, cfg, 10)
    for _ in range(3):
        state, _ = step(state, images, labels)
    leaf = lambda tree: np.asarray(jax.tree_util.tree_leaves(tree)[0])  # noqa: E731
    moved, ema_moved = np.abs(leaf(state["params"]) - leaf(initial)), np.abs(leaf(state["ema"]) - leaf(initial))
    assert 0 < ema_moved.sum() < moved.sum()
    assert training.eval_params(state) is state["ema"]


def test_device_out_of_memory_is_classified_with_the_batch_size() -> None:
    with pytest.raises(jax.errors.JaxRuntimeError) as raised:  # a real allocation failure: 16 TiB
        jnp.zeros((2**42,), jnp.float32).block_until_ready()
    failure = out_of_memory(raised.value, batch_size=4096)
    assert failure is not None and failure.status == FAILED_OOM and "batch size 4096" in str(failure)
    assert out_of_memory(ValueError("RESOURCE_EXHAUSTED"), 1) is None  # not a device error
