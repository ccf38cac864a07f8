"""The EfficientNet scaling and RandAugment spaces are trainable: different choices, different models and inputs."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from search_spaces.augmentation import OPERATION_SETS
from trainers_jax.augment import OPERATIONS, SIGNED, RandAugment
from trainers_jax.data import open_dataset
from trainers_jax.input_pipeline import Stream, train_batches
from trainers_jax.models import ModelConfig, build_model
from trainers_jax.preprocess import Preprocess
from trainers_jax.recipe import RecipeError, recipe
from trial.dirs import LocalTrialDir
from trial.protocol import FAILED, SUCCEEDED
from trial.runner import run

from tests.support.trainer_fixtures import TINY_ARCH

MakeTrial = Callable[..., LocalTrialDir]
SMALL = {"depth": 1.0, "width": 1.0, "resolution": 1.0}
LARGE = {"depth": 1.4, "width": 1.2, "resolution": 1.3}


def _param_count(config: ModelConfig) -> int:
    shape = (1, config.image_size, config.image_size, config.channels)
    variables = jax.eval_shape(lambda: build_model(config).init(jax.random.PRNGKey(0), jnp.zeros(shape)))
    return sum(leaf.size for leaf in jax.tree_util.tree_leaves(variables["params"]))


def test_two_scalings_give_different_models_and_image_sizes() -> None:
    plans = [recipe(scaling, TINY_ARCH, 1.0, 1.0, 16) for scaling in (SMALL, LARGE)]
    assert [p.image_size for p in plans] == [16, 21] and plans[1].width == 1.2 and plans[1].depth == 1.4
    counts = [_param_count(ModelConfig(p.network, 10, p.image_size, 1, p.width, p.depth)) for p in plans]
    assert counts[1] > counts[0] > 0


def test_fixed_scaling_arg_applies_on_top_of_a_searched_network() -> None:
    plan = recipe(TINY_ARCH, None, 0.5, 1.0, 32, scaling={"depth": 2.0, "width": 1.1, "resolution": 1.15})
    assert (plan.network, plan.width, plan.depth, plan.image_size) == (TINY_ARCH, 0.55, 2.0, 37)


def test_scaling_or_policy_errors_are_clear() -> None:
    with pytest.raises(RecipeError, match="drop the trainer arg 'scaling'"):
        recipe(SMALL, None, 1.0, 1.0, 16, scaling=SMALL)
    with pytest.raises(RecipeError, match="MnasNet-family"):
        recipe(SMALL, {"edges": ["none"] * 6}, 1.0, 1.0, 16)
    with pytest.raises(RecipeError, match="positive depth"):
        recipe({"depth": 0.0, "width": 1.0, "resolution": 1.0}, TINY_ARCH, 1.0, 1.0, 16)
    with pytest.raises(RecipeError, match="unknown augmentation operations"):
        recipe({"num_ops": 1, "magnitude": 5, "operations": ["blur"]}, TINY_ARCH, 1.0, 1.0, 16)
    with pytest.raises(RecipeError, match=r"magnitude within \[0, 30\]"):
        recipe({"num_ops": 1, "magnitude": 31, "operations": "all"}, TINY_ARCH, 1.0, 1.0, 16)


def test_a_policy_trains_the_base_network_with_its_operations() -> None:
    plan = recipe({"num_ops": 2, "magnitude": 9, "operations": "geometric"}, TINY_ARCH, 1.0, 1.0, 16)
    assert plan.network == TINY_ARCH and plan.augment == RandAugment(2, 9, OPERATION_SETS["geometric"])


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_every_operation_runs_and_signed_ones_are_identity_at_magnitude_zero(mode: str) -> None:
    pixels = np.random.default_rng(0).integers(0, 255, (12, 12, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    for name, op in OPERATIONS.items():
        for strength in (-1.0, 0.5, 1.0):
            assert op(image, strength).size == image.size, name
        if name in SIGNED:
            assert np.array_equal(np.asarray(op(image, 0.0)), np.asarray(image)), name


@pytest.mark.slow  # reads digits and runs three input streams: ~15 s on a busy 2-core machine
def test_two_policies_give_different_training_inputs() -> None:
    data = open_dataset("digits")
    policies = [RandAugment(1, 5, OPERATION_SETS["color"]), RandAugment(3, 27, OPERATION_SETS["geometric"])]
    batches = [next(train_batches(data.train, Preprocess(12, data.scale, augment=policy),
                                  Stream(16), seed=0)) for policy in (None, *policies)]
    assert all(np.array_equal(batches[0][1], b[1]) for b in batches)  # the same records, in the same order
    assert not np.allclose(batches[0][0], batches[1][0]) and not np.allclose(batches[1][0], batches[2][0])


@pytest.mark.slow  # real (short) training
def test_scaling_and_policy_trials_train(make_trial: MakeTrial) -> None:
    args = {"baseArch": TINY_ARCH, "steps": 4, "evalEvery": 4, "batchSize": 16}
    scaled = run(str(make_trial("scaled", arch=LARGE, args=args).path))
    assert scaled.status == SUCCEEDED, scaled.message
    augmented = run(str(make_trial("augmented", arch={"num_ops": 2, "magnitude": 15, "operations": "all"},
                                   args=args).path))
    assert augmented.status == SUCCEEDED, augmented.message
    assert scaled.metrics["num_params"] > augmented.metrics["num_params"]  # LARGE scaling vs the plain base
    bad = run(str(make_trial("bad", arch={"num_ops": 1, "magnitude": 40, "operations": "all"}, args=args).path))
    assert bad.status == FAILED and "magnitude" in bad.message
