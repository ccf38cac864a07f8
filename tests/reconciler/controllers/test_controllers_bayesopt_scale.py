"""`bayesopt` past `modelTrials`: bounded GP training sets, and still a pure function of (seed, history)."""
from __future__ import annotations

import numpy as np
import pytest

from reconciler.controllers import hamming_gp
from reconciler.controllers.base import Observation
from reconciler.controllers.bayesopt import model_subset
from reconciler.controllers.registry import make_controller
from tests.reconciler.controllers.test_controllers_search import additive_reward, nb201, run_search

BOUNDED = {"initialTrials": 4, "modelTrials": 8}


def test_short_histories_keep_every_trial() -> None:
    x = np.arange(12).reshape(6, 2)
    assert model_subset(x, np.arange(6.0), np.ones(6, dtype=bool), 6).tolist() == list(range(6))


def test_the_subset_holds_the_best_the_incumbents_neighbours_and_the_most_recent() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(200, 10))
    value = rng.normal(size=200)
    feasible = rng.random(200) < 0.5
    chosen = model_subset(x, value, feasible, 40)
    assert len(chosen) == 40 and sorted(set(chosen.tolist())) == chosen.tolist()
    incumbent = int(np.argmax(np.where(feasible, value, -np.inf)))
    assert incumbent in chosen
    best_feasible = np.argsort(-np.where(feasible, value, -np.inf))[:20]
    assert set(best_feasible.tolist()) <= set(chosen.tolist())
    assert 199 in chosen, "the most recent trial is always modelled"
    distance = (x != x[incumbent]).sum(axis=1)
    assert distance[chosen].mean() < distance.mean(), "the subset leans towards the incumbent's neighbourhood"


def test_gps_are_conditioned_on_at_most_model_trials_points(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    for name in ("fit", "fit_hyperparameters"):
        original = getattr(hamming_gp, name)

        def spy(x, *args, original=original):
            sizes.append(len(x))
            return original(x, *args)

        monkeypatch.setattr(hamming_gp, name, spy)
    run_search("bayesopt", nb201(), 0, 24, 2, settings_=BOUNDED)
    assert sizes and max(sizes) <= BOUNDED["modelTrials"] + 1  # + one pending point, believed


@pytest.mark.parametrize("parallel", [1, 3])
def test_past_model_trials_a_restart_changes_nothing(parallel: int) -> None:
    space = nb201()
    straight = run_search("bayesopt", space, 4, 30, parallel, settings_=BOUNDED)
    assert straight == run_search("bayesopt", space, 4, 30, parallel, restart_at=17, settings_=BOUNDED)
    assert len(set(straight)) == len(straight)


def test_past_model_trials_a_rebuilt_controller_proposes_what_the_long_lived_one_did() -> None:
    space = nb201()
    history = run_search("bayesopt", space, 9, 40, 1, settings_=BOUNDED)
    for cut in (9, 21, 33, 39):
        rebuilt = make_controller("bayesopt", space, 9, BOUNDED)
        for index, dna in enumerate(history[:cut]):
            rebuilt.feedback(Observation(index, dna, additive_reward(dna)))
        assert tuple(rebuilt.propose(cut, [])) == history[cut], f"rebuilt at {cut} diverged"


def test_a_bounded_search_still_climbs() -> None:
    found = run_search("bayesopt", nb201(), 0, 40, 1, settings_=BOUNDED)
    assert max(map(additive_reward, found[20:])) > max(map(additive_reward, found[:8]))
