"""How long `nasctl report --html` takes and how big its file is, at 100 and 2,000 trials.

The recorded state is built directly (NB201 architectures, accuracy and latency, 5 % failed trials,
stage-2 trainings of the top 10) in a temporary local state folder; the timing covers what the command
does: load the state, build the view model, render and write the page.

    python -m benchmarks.report_generation --trials 100,2000 --runs 3 [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from objective.ranking import rank_trials
from objective.reward import compute_reward
from specs.model import RewardSpec
from state.records import (
    FAILED, PHASE_RUNNING, REASON_CRASHED, REASON_NAN, REASON_TIMEOUT, SEARCH, SUCCEEDED, TRAIN, TrialRecord,
)
from state.snapshot import load_state, save_experiment, save_trials
from state.uri import open_store
from search_spaces.nb201 import OPERATIONS

FAILURE_REASONS = (REASON_CRASHED, REASON_NAN, REASON_TIMEOUT)
TOP_N = 10
LATENCY = "latency_fpga_ms"  # a column of the NB201 table the spec's trainer reads


def experiment_spec(state_uri: str, name: str = "bench") -> dict:
    """An NB201 search with a latency term in the reward."""
    return {"apiVersion": "nasctl.dev/v1alpha1", "kind": "NASExperiment", "metadata": {"name": name},
            "spec": {"stateUri": state_uri, "searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
                     "reward": {"metric": "accuracy", "latency": {"metric": LATENCY, "target": 5.0}},
                     "search": {"algorithm": "random", "maxTrials": 2000, "parallelTrials": 4},
                     "train": {"topN": TOP_N, "parallelTrials": 2}}}


def synthetic_trials(count: int, seed: int = 0, start: float = 1.7e9) -> list[TrialRecord]:
    """`count` search trials (every 20th failed, with a reason) and stage-2 trainings of the best ten.

    Rewards follow the spec's reward (latency term included), so the state is one `apply` would leave: it
    ranks the same ten for stage 2 and plans nothing more.
    """
    reward_spec = RewardSpec.model_validate(experiment_spec("unused")["spec"]["reward"])
    rng = random.Random(seed)
    trials = []
    for index in range(count):
        dna = [rng.randrange(len(OPERATIONS)) for _ in range(6)]
        convs = sum(d in (2, 3) for d in dna)
        accuracy = min(0.95, 0.55 + 0.06 * convs + rng.gauss(0, 0.03))
        latency = 1.0 + 1.2 * convs + rng.random()
        launched = start + index * 30
        failed = index % 20 == 19
        metrics = {"accuracy": accuracy, LATENCY: latency}
        trials.append(TrialRecord(
            id=f"search-{index:04d}", stage=SEARCH, index=index, dna=dna, arch={"edges": [OPERATIONS[d] for d in dna]},
            status=FAILED if failed else SUCCEEDED, reason=FAILURE_REASONS[index % 3] if failed else None,
            message="trial process exited with code 1" if failed else "",
            reward=None if failed else compute_reward(metrics, reward_spec), metrics={} if failed else metrics,
            launched_at=launched, finished_at=launched + 20 + rng.random() * 40))
    distinct = {tuple(t.dna): t for t in reversed(rank_trials(trials, reward_spec))}  # each architecture's best
    best = rank_trials(list(distinct.values()), reward_spec)[:TOP_N]
    for index, source in enumerate(best):
        metrics = {**source.metrics, "accuracy": min(0.97, source.metrics["accuracy"] + 0.02)}
        trials.append(TrialRecord(
            id=f"train-{index:04d}", stage=TRAIN, index=index, dna=source.dna, arch=source.arch, status=SUCCEEDED,
            reward=compute_reward(metrics, reward_spec), metrics=metrics, source_trial=source.id,
            launched_at=start + count * 30 + index, finished_at=start + count * 30 + index + 600))
    return trials


def write_experiment(folder: Path, count: int, seed: int = 0, state_uri: str | None = None) -> Path:
    """A spec file in `folder` and its recorded state (default `folder`/state) with `count` search trials."""
    spec = experiment_spec(state_uri or str(folder / "state"))
    path = folder / "exp.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    store = open_store(spec["spec"]["stateUri"], spec["metadata"]["name"])
    state = load_state(store, spec["metadata"]["name"], "bench")
    state.add(synthetic_trials(count, seed))
    state.experiment.phase = PHASE_RUNNING
    save_trials(store, state)
    save_experiment(store, state)
    return path


def time_report(spec_path: Path, runs: int) -> tuple[float, int]:
    """Median seconds of loading the state and writing the page, and the page's size in bytes."""
    from nasctl.html_report.watch import write_html  # noqa: PLC0415 - the harness times its first import apart
    from reconciler.session import Session  # noqa: PLC0415

    out = spec_path.parent / "report.html"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        write_html(Session.open(spec_path), out)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="100,2000", help="Comma-separated search trial counts.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = {}
    for count in (int(n) for n in args.trials.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            spec_path = write_experiment(Path(folder), count)
            seconds, size = time_report(spec_path, args.runs)
        results[count] = {"seconds": round(seconds, 3), "bytes": size}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for count, row in results.items():
            print(f"{count:6d} trials  {row['seconds']:7.3f} s  {row['bytes'] / 1e6:6.3f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
