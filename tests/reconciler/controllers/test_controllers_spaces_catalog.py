"""Prebuilt spaces owned here (EfficientNet scaling, RandAugment) and the catalog behind `nasctl spaces`."""
from __future__ import annotations

import pytest

from reconciler.controllers.registry import make_controller
from search_spaces import augmentation, efficientnet_scaling
from search_spaces.catalog import list_spaces, sample
from search_spaces.registry import PREBUILT_SPACES
from search_spaces.space import SearchSpace


def test_catalog_lists_every_prebuilt_space_with_its_size() -> None:
    rows = {row["name"]: row for row in list_spaces()}
    assert set(rows) == set(PREBUILT_SPACES)
    assert rows["nb201"]["size"] == 5**6
    assert rows["efficientnet-scaling"]["size"] == 5 * 5 * 5
    assert rows["randaugment"]["size"] == (len(augmentation.NUM_OPS) * len(augmentation.MAGNITUDES)
                                           * len(augmentation.OPERATION_SETS))
    assert all(row["description"] for row in rows.values())


@pytest.mark.parametrize("name", ["efficientnet-scaling", "randaugment", "nb201"])
def test_samples_are_distinct_deterministic_and_valid(name: str) -> None:
    first = sample(name, 10, seed=4)
    assert first == sample(name, 10, seed=4) and first != sample(name, 10, seed=5)
    assert len({repr(arch) for arch in first}) == 10


def test_small_spaces_are_grid_searchable_to_exhaustion() -> None:
    space = SearchSpace("scaling", efficientnet_scaling.space())
    grid = make_controller("grid", space, 0, {})
    archs = [space.materialize(space.dna(grid.propose(i, []))) for i in range(space.size)]
    assert {(a["depth"], a["width"], a["resolution"]) for a in archs} == {
        (d, w, r) for d in efficientnet_scaling.DEPTH for w in efficientnet_scaling.WIDTH
        for r in efficientnet_scaling.RESOLUTION}
    assert efficientnet_scaling.cost_multiplier({"depth": 1.2, "width": 1.1, "resolution": 1.15}) == pytest.approx(
        1.2 * 1.1**2 * 1.15**2)


def test_augmentation_policy_materialises_to_operations() -> None:
    policy = sample("randaugment", 1, seed=0)[0]
    assert policy["num_ops"] in augmentation.NUM_OPS and policy["magnitude"] in augmentation.MAGNITUDES
    assert set(augmentation.operations(policy)) <= set(augmentation.OPERATION_SETS["all"])


def test_bad_space_arguments_and_names_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="positive"):
        efficientnet_scaling.space(depth=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"within \[0, 30\]"):
        augmentation.space(magnitudes=[40])
    with pytest.raises(ValueError, match="unknown prebuilt search space 'nope'"):
        sample("nope", 1)
    with pytest.raises(ValueError, match="≥ 1"):
        sample("nb201", 0)
