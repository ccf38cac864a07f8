"""NasJob pass at scale: turning N Vertex trial details into nasctl trial records.

With `REINFORCEMENT_LEARNING` or `GRID_SEARCH` Vertex proposes the architectures, so every `apply` pass
re-reads the NasJob's trial details and rebuilds the trial records from them
(`backends.vertex.nas_search.trial_records`). This harness times that step on N finished trials of a
prebuilt space: cold (nothing recorded yet: every architecture is decoded and materialised, as on the
first pass that adopts a search) and warm (the records of the previous pass given, one trial new: what
every later pass pays), and as `nasctl diff` builds them (no space: nothing decoded, each architecture
keyed by its parameters' digest, from a fresh process with nothing recorded). The trial details are N
seeded random architectures serialised as Vertex sends them (``dna.parameters(use_literal_values=True)``).

    python -m benchmarks.nas_job_records --space mnasnet --trials 2000 --json
"""
from __future__ import annotations

import argparse
import json
import random
import time


def _views(space, count: int, seed: int) -> list:
    from backends.vertex.nas_search import NasTrialView  # noqa: PLC0415
    from state.records import SEARCH, SUCCEEDED  # noqa: PLC0415

    rng = random.Random(seed)
    views = []
    for index in range(count):
        dna = space.random_dna(rng)
        dna.use_spec(space.dna_spec)
        parameters = json.dumps(dna.parameters(use_literal_values=True))
        views.append(NasTrialView(f"search-{index:04d}", SEARCH, SUCCEEDED, rng.random(), parameters,
                                  float(index), float(index) + 1.0))
    return views


def measure(space_name: str, trials: int, seed: int) -> dict:
    from backends.vertex.nas_search import NasSearchStatus, trial_records  # noqa: PLC0415
    from search_spaces.registry import build_search_space  # noqa: PLC0415
    from specs.model import SearchSpaceSpec  # noqa: PLC0415

    space = build_search_space(SearchSpaceSpec(prebuilt=space_name))
    views = _views(space, trials + 1, seed)
    job = "projects/p/locations/us-central1/nasJobs/1"
    started = time.perf_counter()
    cold = trial_records(NasSearchStatus(job, "JOB_STATE_RUNNING", [job], trials=views[:trials]), space)
    cold_seconds = time.perf_counter() - started
    recorded = {record.id: record for record in cold}
    started = time.perf_counter()
    warm = trial_records(NasSearchStatus(job, "JOB_STATE_RUNNING", [job], trials=views), space, recorded)
    warm_seconds = time.perf_counter() - started
    assert [r.arch for r in warm[:trials]] == [r.arch for r in cold]
    started = time.perf_counter()
    keyed = trial_records(NasSearchStatus(job, "JOB_STATE_RUNNING", [job], trials=views), None)
    diff_seconds = time.perf_counter() - started
    assert len({tuple(r.dna) for r in keyed}) == len({tuple(r.dna) for r in warm})  # the same architectures apart
    return {"space": space_name, "trials": trials, "coldSeconds": round(cold_seconds, 3),
            "warmSeconds": round(warm_seconds, 3), "coldPerTrialMs": round(1000 * cold_seconds / trials, 2),
            "diffSeconds": round(diff_seconds, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="mnasnet")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    result = measure(args.space, args.trials, args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['space']}, {result['trials']} trials: cold {result['coldSeconds']} s "
              f"({result['coldPerTrialMs']} ms a trial), warm {result['warmSeconds']} s, "
              f"diff {result['diffSeconds']} s")


if __name__ == "__main__":
    main()
