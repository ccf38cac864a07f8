"""Controllers through the interface the reconciler uses: determinism, restarts, parallel proposals."""
from __future__ import annotations

import importlib
import itertools
from typing import Callable

import pyglove as pg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.controllers.base import Observation
from reconciler.controllers.encoding import UnsupportedSpaceError, point_at, rank_of
from reconciler.controllers.registry import ALGORITHMS, make_controller
from reconciler.controllers.settings import SETTINGS
from search_spaces.nb201 import canonical
from search_spaces.nb201 import space as nb201_space
from search_spaces.space import DNANumbers, SearchSpace

SEARCHING = ["random", "evolution", "reinforce", "bayesopt"]
FAST = {"evolution": {"populationSize": 6, "tournamentSize": 3}, "bayesopt": {"initialTrials": 4}}


def nb201() -> SearchSpace:
    return SearchSpace("nb201", nb201_space(), canonical)


def small_space() -> SearchSpace:
    return SearchSpace("small", pg.Dict(a=pg.oneof([0, 1, 2, 3, 4]), b=pg.oneof(list(range(5))),
                                        c=pg.oneof(list(range(5))), d=pg.oneof(list(range(5)))))


def additive_reward(dna: DNANumbers) -> float:
    """A landscape with a unique optimum at (4, 4, ..., 4) and different importance per decision."""
    return sum((d + 1) * value for d, value in enumerate(dna)) / 100


def run_search(algorithm: str, space: SearchSpace, seed: int, trials: int, parallel: int,
               reward: Callable[[DNANumbers], float] = additive_reward, restart_at: int | None = None,
               settings_: dict | None = None) -> list[DNANumbers]:
    """Propose `parallel` trials at once, finish them in index order; optionally rebuild mid-search."""
    settings_ = FAST.get(algorithm, {}) if settings_ is None else settings_
    controller = make_controller(algorithm, space, seed, settings_)
    proposed: list[DNANumbers] = []
    while len(proposed) < trials:
        if restart_at is not None and len(proposed) >= restart_at:
            controller = make_controller(algorithm, space, seed, settings_)  # a fresh `apply` pass
            for index, dna in enumerate(proposed):
                controller.feedback(Observation(index, dna, reward(dna)))
            restart_at = None
        batch: list[DNANumbers] = []
        for index in range(len(proposed), min(trials, len(proposed) + parallel)):
            batch.append(tuple(controller.propose(index, batch)))
        for offset, dna in enumerate(batch):
            controller.feedback(Observation(len(proposed) + offset, dna, reward(dna)))
        proposed.extend(batch)
    return proposed


@pytest.mark.parametrize("algorithm", SEARCHING + ["grid"])
def test_same_seed_same_proposals_and_restart_changes_nothing(algorithm: str) -> None:
    space = nb201()
    straight = run_search(algorithm, space, seed=3, trials=16, parallel=3)
    restarted = run_search(algorithm, space, seed=3, trials=16, parallel=3, restart_at=7)
    assert straight == restarted
    assert len(set(straight)) == len(straight), "an architecture was proposed twice"


@pytest.mark.parametrize("algorithm", SEARCHING)
def test_different_seeds_search_differently(algorithm: str) -> None:
    space = nb201()
    assert run_search(algorithm, space, 1, 10, 2) != run_search(algorithm, space, 2, 10, 2)


@pytest.mark.parametrize("algorithm", SEARCHING)
def test_parallel_proposals_are_distinct_without_feedback(algorithm: str) -> None:
    controller = make_controller(algorithm, small_space(), 0, FAST.get(algorithm, {}))
    pending: list[DNANumbers] = []
    for index in range(12):
        pending.append(tuple(controller.propose(index, pending)))
    assert len(set(pending)) == 12


@pytest.mark.parametrize("algorithm", SEARCHING)
def test_failed_trials_are_tolerated_and_not_proposed_again(algorithm: str) -> None:
    space = small_space()
    controller = make_controller(algorithm, space, 0, FAST.get(algorithm, {}))
    seen = []
    for index in range(15):
        dna = tuple(controller.propose(index, []))
        assert dna not in seen
        seen.append(dna)
        controller.feedback(Observation(index, dna, None if index % 3 == 0 else additive_reward(dna)))


def test_grid_sweeps_every_point_once_then_refuses() -> None:
    space = small_space()
    controller = make_controller("grid", space, 0, {})
    points = [controller.propose(i, []) for i in range(space.size)]
    assert set(points) == set(itertools.product(range(5), repeat=4))
    with pytest.raises(ValueError, match="past its end"):
        controller.propose(space.size, [])
    shuffled = make_controller("grid", space, 0, {"shuffle": True})
    order = [shuffled.propose(i, []) for i in range(space.size)]
    assert set(order) == set(points) and order != points


@given(st.lists(st.integers(1, 6), min_size=1, max_size=5), st.data())
def test_mixed_radix_rank_round_trips(sizes: list[int], data: st.DataObject) -> None:
    total = 1
    for size in sizes:
        total *= size
    rank = data.draw(st.integers(0, total - 1))
    assert rank_of(point_at(rank, sizes), sizes) == rank


def test_evolution_children_are_one_mutation_from_the_recent_population() -> None:
    space = nb201()
    proposals = run_search("evolution", space, 5, 30, 1, settings_={"populationSize": 8, "tournamentSize": 3})
    for index in range(8, 30):
        population = proposals[max(0, index - 8):index]
        distance = min(sum(a != b for a, b in zip(proposals[index], parent)) for parent in population)
        assert distance == 1, f"trial {index} is {distance} edits from every member of its population"


def test_reinforce_policy_moves_towards_rewarded_choices_and_replays_identically() -> None:
    space = small_space()
    controller = make_controller("reinforce", space, 0, {"learningRate": 0.3})
    history = run_search("reinforce", space, 0, 60, 1, reward=lambda dna: 1.0 if dna[0] == 4 else 0.1,
                         settings_={"learningRate": 0.3})
    for index, dna in enumerate(history):
        controller.feedback(Observation(index, dna, 1.0 if dna[0] == 4 else 0.1))
    policy = controller.probabilities()
    assert policy[0][4] > 0.5 > max(policy[0][:4])
    assert all(abs(p.sum() - 1) < 1e-9 for p in policy)
    replayed = make_controller("reinforce", space, 0, {"learningRate": 0.3})
    for index, dna in enumerate(history):
        replayed.feedback(Observation(index, dna, 1.0 if dna[0] == 4 else 0.1))
    assert all((a == b).all() for a, b in zip(replayed.probabilities(), policy))


@pytest.mark.parametrize("seed", [0, 1])
def test_bayesopt_finds_the_optimum_of_a_small_space_faster_than_random(seed: int) -> None:
    space = small_space()  # 625 points, optimum (4, 4, 4, 4)
    found = run_search("bayesopt", space, seed, 40, 2, settings_={"initialTrials": 8})
    assert (4, 4, 4, 4) in found
    assert max(map(additive_reward, found)) > max(map(additive_reward, run_search("random", space, seed, 40, 2)))


def test_bayesopt_without_enumeration_uses_local_candidates() -> None:
    found = run_search("bayesopt", small_space(), 0, 40, 1, settings_={"initialTrials": 8, "enumerateLimit": 10})
    assert max(map(additive_reward, found)) >= additive_reward((4, 4, 4, 3))


def test_settings_are_camel_case_and_unknown_ones_are_errors() -> None:
    assert make_controller("evolution", nb201(), 0, {"populationSize": 4, "tournamentSize": 2}).settings.population_size == 4
    with pytest.raises(ValueError, match="evolution takes no setting 'populationSise'; did you mean 'populationSize'"):
        make_controller("evolution", nb201(), 0, {"populationSise": 4})
    with pytest.raises(ValueError, match="tournamentSize"):
        make_controller("evolution", nb201(), 0, {"populationSize": 4, "tournamentSize": 9})


@pytest.mark.parametrize("algorithm", sorted(set(ALGORITHMS) - {"random"}))
def test_unsupported_spaces_are_rejected_clearly(algorithm: str) -> None:
    space = SearchSpace("mixed", pg.Dict(a=pg.oneof([1, 2]), lr=pg.floatv(0.0, 1.0)))
    with pytest.raises(UnsupportedSpaceError, match="not a flat pg.oneof"):
        make_controller(algorithm, space, 0, {})


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_grid_is_deterministic_for_any_seed(seed: int) -> None:
    space = small_space()
    first = make_controller("grid", space, seed, {"shuffle": True})
    second = make_controller("grid", space, seed, {"shuffle": True})
    assert [first.propose(i, []) for i in range(20)] == [second.propose(i, []) for i in range(20)]


@pytest.mark.parametrize("algorithm", SEARCHING)
def test_a_controller_rebuilt_at_any_point_proposes_what_the_long_lived_one_did(algorithm: str) -> None:
    space = nb201()
    settings_ = {**FAST.get(algorithm, {}), **({"refitEvery": 3} if algorithm == "bayesopt" else {})}
    history = run_search(algorithm, space, 9, 20, 1, settings_=settings_)
    for cut in (7, 11, 13, 19):
        rebuilt = make_controller(algorithm, space, 9, settings_)
        for index, dna in enumerate(history[:cut]):
            rebuilt.feedback(Observation(index, dna, additive_reward(dna)))
        assert tuple(rebuilt.propose(cut, [])) == history[cut], f"rebuilt at {cut} diverged"


def test_bayesopt_with_a_latency_target_aims_at_the_best_feasible_architecture() -> None:
    from specs.model import ObjectiveTargetSpec, RewardSpec

    from objective.reward import compute_reward

    space = small_space()  # accuracy grows with every decision; latency grows with decisions a and b
    spec = RewardSpec(latency=ObjectiveTargetSpec(metric="latency_ms", target=4.0))

    def metrics(dna: DNANumbers) -> dict[str, float]:
        return {"accuracy": additive_reward(dna), "latency_ms": 1.0 + dna[0] + dna[1]}

    def search(seed: int) -> list[DNANumbers]:
        controller = make_controller("bayesopt", space, seed, {"initialTrials": 6}, reward=spec)
        found: list[DNANumbers] = []
        for index in range(30):
            dna = tuple(controller.propose(index, []))
            found.append(dna)
            controller.feedback(Observation(index, dna, compute_reward(metrics(dna), spec), metrics(dna)))
        return found

    feasible_best = max((p for p in itertools.product(range(5), repeat=4) if 1 + p[0] + p[1] <= 4),
                        key=additive_reward)
    assert feasible_best in search(0)
    assert search(0) == search(0)


@pytest.mark.parametrize("parallel", [1, 3])
def test_bayesopt_never_proposes_a_cell_equivalent_to_one_already_evaluated_or_pending(parallel: int) -> None:
    def reward(dna: DNANumbers) -> float:  # a landscape over what the cell computes: dead edges are free
        return additive_reward(tuple(canonical([dna])[0]))

    proposed = run_search("bayesopt", nb201(), seed=0, trials=40, parallel=parallel, reward=reward)
    forms = [tuple(row) for row in canonical(proposed).tolist()]
    assert len(set(forms)) == len(forms)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_each_controller_parses_the_settings_validate_checks(name: str) -> None:
    """`validate` checks `algorithmSettings` with a model that imports no PyGlove: the one the controller uses."""
    module_name, _, class_name = ALGORITHMS[name].partition(":")
    controller = getattr(importlib.import_module(module_name), class_name)
    assert controller.name == name and controller.settings_model is SETTINGS[name]
