"""Entry point of a NasJob trial on Vertex: ``python -m trial.nas_entry``.

Vertex's controller runs the trainer image with nasctl's args (``--experiment-file``, ``--job-dir``,
``--stage``) plus ``--nas_params_str`` (the proposed architecture as PyGlove decision parameters); it
reads the reward from the hypertune metrics file. This entry turns that into the ordinary nasctl
protocol: it materialises the architecture from the experiment's search space, writes ``trial.json``
into the trial directory ``<job dir>/<stage>-<trial id>`` (a ``/gcs/`` path, see trial.fuse; each NasJob has a
job dir of its own, so a resumed job's trials never reuse an earlier job's folders), runs the
trainer with ``trial.runner``, and reports the reward in hypertune's format. In a multi-replica trial
every replica runs this entry (the trainer joins them with jax.distributed) and exits by its own result,
but only the chief writes ``trial.json`` and reports: Vertex takes the chief's metric as the trial's, and
replicas writing one object at once through Cloud Storage FUSE conflict. The others wait for the chief's
``trial.json`` (the same document: each replica derives it from the same parameters).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from state.records import SEARCH, TRAIN
from objective.reward import penalty_terms
from specs.model import NASExperiment, RewardSpec
from trial.trainers import trial_document
from trial.fuse import local_path

if TYPE_CHECKING:
    from trial.dirs import LocalTrialDir

EXPERIMENT_ARG = "--experiment-file"
JOB_DIR_ARG = "--job-dir"  # the NasJob's own directory: its trials' folders are under it
# The trial's own time limit: the NasJob's trial specs carry Vertex's 14 days (see backends.vertex.requests).
TRIAL_TIMEOUT_ARG = "--trial-timeout-seconds"
# cloudml-hypertune's file contract (what Vertex reads a trial's metric from).
HYPERTUNE_FILE_ENV = "CLOUD_ML_HP_METRIC_FILE"
HYPERTUNE_DEFAULT_FILE = "/tmp/hypertune/output.metrics"
MAX_OTHER_METRICS = 5  # "the NAS platform supports at most 5 other_metrics" (seed doc)
# How long a replica other than the chief waits for the chief's trial.json (the chief writes it at start).
CHIEF_SPEC_WAIT_SECONDS = 600.0
CHIEF_SPEC_POLL_SECONDS = 1.0


def trial_folder(stage: str, trial_id: str) -> str:
    """The folder of Vertex's trial `trial_id` of `stage` in its NasJob's job dir, e.g. ``search-0003``."""
    return f"{stage}-{int(trial_id):04d}" if trial_id.isdigit() else f"{stage}-{trial_id}"


def report_metric(tag: str, value: float, step: int = 1, others: Mapping[str, float] | None = None) -> None:
    """Append one metric record where Vertex's hypertune reader looks for it; `others` go in as Vertex's
    other_metrics (``key_i``/``value_i``, at most 5)."""
    path = Path(os.environ.get(HYPERTUNE_FILE_ENV, HYPERTUNE_DEFAULT_FILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"timestamp": time.time(), "trial": os.environ.get("CLOUD_ML_TRIAL_ID", "0"), tag: str(value),
              "global_step": str(step), "checkpoint_path": ""}
    for i, (key, other) in enumerate(list((others or {}).items())[:MAX_OTHER_METRICS]):
        record.update({f"key_{i}": key, f"value_{i}": str(other)})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def reward_parts(metrics: Mapping[str, float], reward: RewardSpec) -> dict[str, float]:
    """What the reward is made of, for Vertex to show beside it: with a latency or memory term, the metric
    alone (`<metric>_without_penalty`: the seed asks a trainer whose reward is not its accuracy to report the
    accuracy too) and each term's measurement. Without a term the reward is the metric: nothing to add."""
    terms = [term.metric for term in penalty_terms(reward)]
    if not terms:
        return {}
    parts = {f"{reward.metric}_without_penalty": metrics.get(reward.metric)}
    parts.update({name: metrics.get(name) for name in terms})
    return {name: float(value) for name, value in parts.items() if isinstance(value, (int, float))}


def trial_spec(experiment: NASExperiment, stage: str, trial_id: str, nas_params: dict[str, Any]) -> dict[str, Any]:
    """The trial.json of a NasJob trial: the architecture Vertex proposed, the stage's trainer args."""
    import pyglove as pg  # noqa: PLC0415 - trial side only

    from search_spaces.registry import build_search_space  # noqa: PLC0415

    space = build_search_space(experiment.spec.search_space)
    dna = pg.DNA.from_parameters(nas_params, space.dna_spec)
    spec = experiment.spec
    stage_args = (spec.train.trainer_args if stage == TRAIN and spec.train else spec.search.trainer_args)
    return trial_document(experiment, trial_id, stage, space.materialize(dna), list(space.numbers(dna)),
                          {**spec.trainer.args, **stage_args}, spec.search.seed)


def _await_chief_spec(directory: "LocalTrialDir", spec: dict[str, Any]) -> bool:
    """Wait until the chief replica has written this trial's `spec`; False when it has not in time."""
    expected = json.loads(json.dumps(spec, sort_keys=True))
    deadline = time.monotonic() + CHIEF_SPEC_WAIT_SECONDS
    while True:
        try:
            if directory.read_spec() == expected:
                return True
        except (FileNotFoundError, ValueError):  # not written yet, or caught mid-copy
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(CHIEF_SPEC_POLL_SECONDS)


def _end_at_time_limit(seconds: float, directory: "LocalTrialDir", primary: bool) -> threading.Timer:
    """A timer that ends this process once the trial has run `seconds`: a trial past its limit is failed
    (reason timeout, for nasctl) and exits non-zero (Vertex counts it as failed), as a job's timeout would."""

    def expire() -> None:
        from trial.protocol import TIMEOUT, TrialResult  # noqa: PLC0415

        message = f"trial timeout: still running after {seconds:.0f} s ({TRIAL_TIMEOUT_ARG})"
        print(message, file=sys.stderr, flush=True)
        if primary:
            directory.write_result(TrialResult(TIMEOUT, message=message))
        os._exit(1)  # the trainer is mid-step in another thread: nothing to unwind

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    from objective.reward import compute_reward  # noqa: PLC0415
    from trial.protocol import SUCCEEDED  # noqa: PLC0415
    from trial.dirs import LocalTrialDir  # noqa: PLC0415
    from trial.runner import is_primary_replica, run  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(EXPERIMENT_ARG, required=True, help="The experiment spec as JSON (a FUSE path).")
    parser.add_argument("--stage", choices=(SEARCH, TRAIN), required=True)
    parser.add_argument("--nas_params_str", required=True)
    parser.add_argument(JOB_DIR_ARG, "--job_dir", dest="job_dir", required=True)
    parser.add_argument(TRIAL_TIMEOUT_ARG, dest="timeout_seconds", type=float, default=None)
    args, _ = parser.parse_known_args(argv)  # Vertex adds flags of its own; they are not ours

    experiment = NASExperiment.model_validate_json(local_path(args.experiment_file).read_text(encoding="utf-8"))
    trial_id = trial_folder(args.stage, os.environ.get("CLOUD_ML_TRIAL_ID", "0"))
    directory = LocalTrialDir(local_path(args.job_dir) / trial_id)
    spec = trial_spec(experiment, args.stage, trial_id, json.loads(args.nas_params_str))
    primary = is_primary_replica(os.environ)
    if primary:
        directory.write_spec(spec)
    elif not _await_chief_spec(directory, spec):
        print(f"{directory.uri}/trial.json: the chief replica (workerpool0 #0) did not write this trial's spec "
              f"within {CHIEF_SPEC_WAIT_SECONDS:.0f} s; see its log", file=sys.stderr)
        return 1
    timer = _end_at_time_limit(args.timeout_seconds, directory, primary) if args.timeout_seconds else None
    result = run(str(directory.path))
    if timer is not None:
        timer.cancel()
    if result.status != SUCCEEDED:
        return 1  # Vertex counts the trial as failed (maxFailedTrialCount)
    if primary:
        reward = experiment.spec.reward
        report_metric(reward.metric, compute_reward(result.metrics, reward), others=reward_parts(result.metrics, reward))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
