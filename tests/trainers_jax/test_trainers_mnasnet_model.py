"""The MnasNet search space and the Flax models built from its block specs."""
from __future__ import annotations

import random

import jax
import jax.numpy as jnp
import pytest
from hypothesis import given, settings, strategies as st

from search_spaces.mnasnet import REFERENCES, make_divisible, mnasnet_b1, space
from search_spaces.nb201 import OPERATIONS
from search_spaces.space import SearchSpace
from trainers_jax.models import ArchitectureError, ModelConfig, build_model


def _param_count(config: ModelConfig) -> int:
    model = build_model(config)
    shape = (1, config.image_size, config.image_size, config.channels)
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape)))
    return sum(leaf.size for leaf in jax.tree_util.tree_leaves(variables["params"]))


def test_mnasnet_b1_matches_timm_mnasnet_100_parameter_count() -> None:
    assert _param_count(ModelConfig(mnasnet_b1(), num_classes=1000, image_size=224)) == 4_383_312


@pytest.mark.parametrize("reference", sorted(REFERENCES))
def test_space_has_vertex_decisions_and_size(reference: str) -> None:
    s = SearchSpace("mnasnet", space(reference))
    assert len(s.decision_points) == 7 * 6  # repeats, type, expand, kernel, se, filters per block
    assert 1e15 < s.size <= 1e20  # Vertex guidance: at most 1e20 architectures
    assert all(len(d.candidates) <= 10 for d in s.decision_points)


def test_unknown_reference_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mobilenet_v2"):
        space("resnet")


@given(value=st.floats(1, 2000))
def test_make_divisible_rounds_to_multiples_of_8_within_10_percent(value: float) -> None:
    rounded = make_divisible(value)
    assert rounded % 8 == 0 and rounded >= 8
    assert rounded >= 0.9 * value or rounded == 8


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), reference=st.sampled_from(sorted(REFERENCES)))
def test_every_sampled_architecture_builds_at_reduced_scale(seed: int, reference: str) -> None:
    s = SearchSpace("mnasnet", space(reference))
    arch = s.materialize(s.random_dna(random.Random(seed)))
    full = _param_count(ModelConfig(arch, 10, 32))
    small = _param_count(ModelConfig(arch, 10, 32, width=0.25, depth=0.5))
    assert 0 < small < full


def test_bad_block_spec_names_the_block_and_the_problem() -> None:
    arch = mnasnet_b1()
    arch["blocks"][2] = {**arch["blocks"][2], "kernel": 4, "stride": 3}
    with pytest.raises(ArchitectureError, match=r"block 2: .*kernel 4.*stride 3"):
        build_model(ModelConfig(arch, 10, 32))


def test_unknown_architecture_shape_is_rejected() -> None:
    with pytest.raises(ArchitectureError, match="blocks"):
        build_model(ModelConfig({"layers": []}, 10, 32))


def test_nb201_cell_network_changes_with_its_operations() -> None:
    convs = {"edges": ["nor_conv_3x3"] * 6}
    pools = {"edges": ["avg_pool_3x3", "skip_connect", "none", "avg_pool_3x3", "none", "skip_connect"]}
    sizes = [_param_count(ModelConfig(a, 10, 16, nb201_channels=8, nb201_cells=1)) for a in (convs, pools)]
    assert sizes[0] > sizes[1] > 0
    with pytest.raises(ArchitectureError, match="NB201"):
        build_model(ModelConfig({"edges": ["conv_7x7"] + list(OPERATIONS[:5])}, 10, 16))
