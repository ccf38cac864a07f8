"""NAS-Bench-201 search benchmark: nasctl's controllers (and peers) against a tabular benchmark, in-process.

One seed = one search of `--evaluations` proxy evaluations (reward from ``val_acc_12ep``, latency-adjusted
with the hard Vertex reward when `--latency-target-ms` is given). Its score is ``test_acc_200ep`` of the
final pick (``objective.ranking.rank_trials``: feasible first, then reward) = stage-1, and the best
``test_acc_200ep`` among the 10 best-ranked = stage-1 + stage-2. Peers (`optuna-tpe`,
`pyglove-evolution`) are scored by the same code.

    python -m benchmarks.nb201_search --table PATH.csv --algorithm default,optuna-tpe --seeds 100 --json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from state.records import SEARCH, SUCCEEDED, TrialRecord
from objective.reward import compute_reward
from objective.ranking import is_feasible, rank_trials
from specs.model import ObjectiveTargetSpec, RewardSpec, SearchStageSpec
from trainers_jax.nb201_table import NB201Row, load_table

PEERS = ("optuna-tpe", "pyglove-evolution")
STAGE2_TOP = 10


@dataclass(frozen=True)
class Task:
    table: str | None
    algorithm: str
    evaluations: int
    latency_column: str | None
    latency_target_ms: float | None
    settings: tuple[tuple[str, object], ...] = ()

    @property
    def reward_spec(self) -> RewardSpec:
        if self.latency_column is None:
            return RewardSpec(metric="accuracy")
        return RewardSpec(metric="accuracy", latency=ObjectiveTargetSpec(metric=self.latency_column,
                                                                     target=self.latency_target_ms))


def _metrics(row: NB201Row) -> dict[str, float]:
    return {"accuracy": row.val_acc_12ep / 100.0, **row.latencies_ms}


class Evaluator:
    """Looks architectures up in the table and keeps every evaluation as a succeeded TrialRecord."""

    def __init__(self, task: Task):
        self.table = load_table(task.table)
        self.spec = task.reward_spec
        self.trials: list[TrialRecord] = []

    def __call__(self, arch_string: str, dna: list[int]) -> float:
        metrics = _metrics(self.table.lookup(arch_string))
        reward = compute_reward(metrics, self.spec)
        index = len(self.trials)
        self.trials.append(TrialRecord(id=str(index), stage=SEARCH, index=index, dna=dna, arch=arch_string,
                                       status=SUCCEEDED, reward=reward, metrics=metrics))
        return reward


@lru_cache(maxsize=1)
def _nb201_space():
    from search_spaces.nb201 import canonical, space  # noqa: PLC0415
    from search_spaces.space import SearchSpace  # noqa: PLC0415

    return SearchSpace("nb201", space(), canonical)


def _arch_string(numbers: tuple[int, ...]) -> str:
    """What ``space.materialize`` gives for NB201 numbers (one op per edge; tested equal), 1000× faster."""
    from search_spaces.nb201 import OPERATIONS, to_arch_string  # noqa: PLC0415

    return to_arch_string({"edges": [OPERATIONS[n] for n in numbers]})


def _run_controller(task: Task, seed: int, evaluate: Evaluator) -> None:
    from reconciler.controllers.base import Observation  # noqa: PLC0415
    from reconciler.controllers.registry import make_controller  # noqa: PLC0415

    name = SearchStageSpec(max_trials=1).algorithm if task.algorithm == "default" else task.algorithm
    controller = make_controller(name, _nb201_space(), seed, dict(task.settings), reward=task.reward_spec)
    for index in range(task.evaluations):
        dna = tuple(controller.propose(index, []))
        reward = evaluate(_arch_string(dna), list(dna))
        controller.feedback(Observation(index=index, dna=dna, reward=reward, metrics=evaluate.trials[-1].metrics))


def _run_optuna(task: Task, seed: int, evaluate: Evaluator) -> None:
    import optuna  # noqa: PLC0415

    from search_spaces.nb201 import EDGES, OPERATIONS, to_arch_string  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: "optuna.Trial") -> float:
        ops = [trial.suggest_categorical(f"edge_{to}_{src}", OPERATIONS) for to, src in EDGES]
        return evaluate(to_arch_string({"edges": ops}), [OPERATIONS.index(op) for op in ops])

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=task.evaluations)


def _run_pyglove(task: Task, seed: int, evaluate: Evaluator) -> None:
    import pyglove as pg  # noqa: PLC0415

    from search_spaces.nb201 import OPERATIONS, space, to_arch_string  # noqa: PLC0415

    settings = {"population_size": 10, "tournament_size": 3, **dict(task.settings)}
    algorithm = pg.evolution.regularized_evolution(seed=seed, **settings)
    for arch, feedback in pg.sample(space(), algorithm, num_examples=task.evaluations):
        ops = list(arch.edges)
        feedback(evaluate(to_arch_string({"edges": ops}), [OPERATIONS.index(op) for op in ops]))


RUNNERS: dict[str, Callable[[Task, int, Evaluator], None]] = {"optuna-tpe": _run_optuna,
                                                              "pyglove-evolution": _run_pyglove}


def run_seed(task: Task, seed: int) -> tuple[float, float, bool]:
    """(stage-1 score, stage-1 + stage-2 score, whether the pick is feasible) of one search."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    evaluate = Evaluator(task)
    with threadpool_limits(1):  # small matrices: BLAS threads only contend with the other workers
        RUNNERS.get(task.algorithm, _run_controller)(task, seed, evaluate)
    ranked = rank_trials(evaluate.trials, evaluate.spec)
    full = [evaluate.table.lookup(t.arch).test_acc_200ep for t in ranked[:STAGE2_TOP]]
    return full[0], max(full), is_feasible(ranked[0], evaluate.spec)


def constrained_optimum(task: Task) -> float:
    """The best ``test_acc_200ep`` among architectures within the latency target (all if none)."""
    table = load_table(task.table)
    limit = task.latency_target_ms
    return max(row.test_acc_200ep for row in table.rows.values()
               if limit is None or row.latencies_ms[task.latency_column] <= limit)


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.pstdev(values), 4) if len(values) > 1 else 0.0}


def run(task: Task, seeds: list[int], jobs: int) -> dict[str, object]:
    started = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(run_seed, [task] * len(seeds), seeds))
    else:
        results = [run_seed(task, seed) for seed in seeds]
    return {
        "algorithm": task.algorithm,
        "evaluations": task.evaluations,
        "seeds": len(seeds),
        "stage1": _mean_std([r[0] for r in results]),
        "stage2_top10": _mean_std([r[1] for r in results]),
        "feasible_rate": round(sum(r[2] for r in results) / len(results), 4),
        "constrained_optimum": constrained_optimum(task),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nb201_search", description=__doc__.split("\n")[0])
    parser.add_argument("--table", help="NB201 CSV (default: the bundled CIFAR-10 table)")
    parser.add_argument("--algorithm", default="default",
                        help="comma-separated: 'default', a nasctl algorithm, or a peer: " + ", ".join(PEERS))
    parser.add_argument("--evaluations", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed+seeds-1")
    parser.add_argument("--latency-column", help="e.g. latency_fpga_ms")
    parser.add_argument("--latency-target-ms", type=float)
    parser.add_argument("--settings", default="{}", help="JSON algorithm settings, e.g. '{\"populationSize\": 10}'")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (seeds run in parallel)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per algorithm")
    args = parser.parse_args(argv)
    if (args.latency_column is None) != (args.latency_target_ms is None):
        parser.error("--latency-column and --latency-target-ms go together")
    if args.evaluations < 1 or args.seeds < 1 or args.jobs < 1:
        parser.error("--evaluations, --seeds and --jobs must be ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    table = load_table(args.table)
    if args.latency_column and args.latency_column not in table.latency_columns:
        print(f"error: {args.latency_column!r} is not a column of {table.source}; "
              f"latency columns: {table.latency_columns}", file=sys.stderr)
        return 2
    settings = tuple(sorted(json.loads(args.settings).items()))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    for algorithm in args.algorithm.split(","):
        task = Task(args.table, algorithm, args.evaluations, args.latency_column, args.latency_target_ms, settings)
        result = run(task, seeds, args.jobs)
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            s1, s2 = result["stage1"], result["stage2_top10"]
            print(f"{algorithm:18s} stage-1 {s1['mean']:.2f} ± {s1['std']:.2f}  "
                  f"+stage-2 top-10 {s2['mean']:.2f} ± {s2['std']:.2f}  feasible {result['feasible_rate']:.2f}  "
                  f"(optimum {result['constrained_optimum']:.2f}, {len(seeds)} seeds, {result['seconds']} s)",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
