"""Controller scale benchmark: the first proposal of a rebuilt default controller after N finished trials.

Every reconcile pass rebuilds the controller: construct it, feed it every finished trial, ask for a
proposal. This harness times exactly that for the spec default (`bayesopt`) on a prebuilt space, and in
the same run Optuna's TPE `ask` on the same history (the study is loaded first, its loading timed apart).
Each measurement runs in a fresh child process, so its peak RSS (``ru_maxrss``, imports included) is its
own; the two alternate `--repeats` times and the median of each is reported, so that a shared machine's
load falls on both alike. The history is N uniformly random architectures with a synthetic reward (a seeded additive
landscape with pairwise interactions, bounded like an accuracy), deterministic in `--seed`.

    python -m benchmarks.controller_scale --space mnasnet --trials 2000 --json
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import random
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable, Sequence

History = list[tuple[tuple[int, ...], float]]
_INTERACTIONS = 20


def _space(name: str):
    from search_spaces.registry import build_search_space  # noqa: PLC0415
    from specs.model import SearchSpaceSpec  # noqa: PLC0415

    return build_search_space(SearchSpaceSpec(prebuilt=name))


def _sizes(space_name: str) -> tuple[int, ...]:
    from reconciler.controllers.encoding import cardinalities  # noqa: PLC0415

    return cardinalities(_space(space_name), "controller_scale")


def synthetic_history(sizes: Sequence[int], trials: int, seed: int) -> History:
    """N random architectures and rewards in (0, 1): additive effects, a few pairwise ones, noise."""
    rng = random.Random(seed)
    effects = [[rng.gauss(0, 1) for _ in range(size)] for size in sizes]
    pairs = [(rng.randrange(len(sizes)), rng.randrange(len(sizes)), rng.gauss(0, 1)) for _ in range(_INTERACTIONS)]
    history: History = []
    for _ in range(trials):
        point = tuple(rng.randrange(size) for size in sizes)
        score = sum(effects[d][v] for d, v in enumerate(point))
        score += sum(weight for a, b, weight in pairs if point[a] == point[b])
        score += rng.gauss(0, 0.5)
        history.append((point, 1.0 / (1.0 + math.exp(-score / math.sqrt(len(sizes))))))
    return history


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def measure_nasctl(space_name: str, trials: int, seed: int) -> dict[str, float]:
    """Rebuild the default controller from the history, time construct + feedback + first proposal.

    Its module is imported before the clock starts, as Optuna is for the peer: a reconcile pass
    imports it once, then rebuilds the controller.
    """
    from reconciler.controllers.base import Observation  # noqa: PLC0415
    from reconciler.controllers.registry import ALGORITHMS, make_controller  # noqa: PLC0415
    from specs.model import SearchStageSpec  # noqa: PLC0415

    algorithm = SearchStageSpec(max_trials=1).algorithm
    importlib.import_module(ALGORITHMS[algorithm].partition(":")[0])
    space = _space(space_name)
    history = synthetic_history(_sizes(space_name), trials, seed)
    started = time.perf_counter()
    controller = make_controller(algorithm, space, seed, {})
    for index, (dna, reward) in enumerate(history):
        controller.feedback(Observation(index, dna, reward, {"accuracy": reward}))
    controller.propose(len(history), [])
    return {"seconds": time.perf_counter() - started, "peakRssMb": _peak_rss_mb()}


def measure_tpe(space_name: str, trials: int, seed: int) -> dict[str, float]:
    """Load the same history into an Optuna study (timed apart), then time one TPE `ask`."""
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes = _sizes(space_name)
    distributions = {f"d{d}": optuna.distributions.CategoricalDistribution(list(range(size)))
                     for d, size in enumerate(sizes)}
    started = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.add_trials([optuna.trial.create_trial(params={f"d{d}": v for d, v in enumerate(dna)},
                                                distributions=distributions, value=reward)
                      for dna, reward in synthetic_history(sizes, trials, seed)])
    loaded = time.perf_counter()
    study.ask(distributions)
    return {"seconds": time.perf_counter() - loaded, "loadSeconds": loaded - started, "peakRssMb": _peak_rss_mb()}


def in_child(measure: Callable[[str, int, int], dict[str, float]], *args: object) -> dict[str, float]:
    """Run one measurement in a fresh process, so its peak RSS is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, *args).result()


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median time (its own peak RSS with it)."""
    return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]


def run(space_name: str, trials: int, seed: int, repeats: int) -> dict[str, object]:
    """Both measurements `repeats` times, alternating, so that load on a shared machine hits both alike."""
    pairs = [(in_child(measure_nasctl, space_name, trials, seed), in_child(measure_tpe, space_name, trials, seed))
             for _ in range(repeats)]
    nasctl = _median_run([pair[0] for pair in pairs])
    tpe = _median_run([pair[1] for pair in pairs])
    return {
        "space": space_name,
        "trials": trials,
        "proposeSeconds": round(nasctl["seconds"], 3),
        "peakRssMb": round(nasctl["peakRssMb"], 1),
        "tpeAskSeconds": round(tpe["seconds"], 3),
        "tpeLoadSeconds": round(tpe["loadSeconds"], 3),
        "tpePeakRssMb": round(tpe["peakRssMb"], 1),
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.controller_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--space", default="mnasnet", help="a prebuilt search space")
    parser.add_argument("--trials", type=int, default=2000, help="finished trials in the history")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each; the medians are reported")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.repeats < 1:
        parser.error("--trials and --repeats must be ≥ 1")
    result = run(args.space, args.trials, args.seed, args.repeats)
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print(f"{args.space}, {args.trials} trials: bayesopt rebuild + first proposal {result['proposeSeconds']} s "
              f"(peak {result['peakRssMb']} MB); Optuna TPE ask {result['tpeAskSeconds']} s "
              f"(load {result['tpeLoadSeconds']} s, peak {result['tpePeakRssMb']} MB)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
