"""The latency calculator: measure a trial's saved model and write ``latency.json`` into its directory.

``python -m trainers_jax.latency_calculator TRIAL_DIR [--batch-size B] [--image-size S] [--warmup W] [--runs N]``
runs in its own process so the device memory it uses is freed when it exits;
:func:`run_calculator` starts it that way from a trainer or the latency worker.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from latency.measure import LatencyOptions
from trial.dirs import LocalTrialDir


class LatencyError(RuntimeError):
    """The calculator could not measure the model."""


def measure_trial(trial_dir: str | Path, options: LatencyOptions) -> dict[str, Any]:
    """Measure the model saved in `trial_dir` in this process and write latency.json."""
    from latency.measure import measure_forward  # noqa: PLC0415
    from trainers_jax.models import build_model  # noqa: PLC0415
    from trainers_jax.saved_model import load_model  # noqa: PLC0415

    config, variables = load_model(trial_dir)
    model = build_model(config)
    size = options.image_size or config.image_size
    shape = (options.batch_size, size, size, config.channels)
    result = measure_forward(lambda v, x: model.apply(v, x, train=False), variables, shape, options)
    LocalTrialDir(trial_dir).write_latency(result)
    return result


def run_calculator(trial_dir: str | Path, options: LatencyOptions, timeout: float = 600.0,
                   env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the calculator in a separate process; returns what it wrote to latency.json."""
    command = [sys.executable, "-m", "trainers_jax.latency_calculator", str(trial_dir), "--batch-size", str(options.batch_size),
               "--warmup", str(options.warmup), "--runs", str(options.runs)]
    if options.image_size:
        command += ["--image-size", str(options.image_size)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise LatencyError(f"latency calculator for {trial_dir} ran over {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise LatencyError(f"latency calculator for {trial_dir} failed (exit {done.returncode}): {tail[0]}")
    written = LocalTrialDir(trial_dir).read_latency()
    if written is None:
        raise LatencyError(f"latency calculator wrote no latency.json in {trial_dir}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers_jax.latency_calculator", description=__doc__.splitlines()[0])
    parser.add_argument("trial_dir")
    defaults = LatencyOptions()
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--runs", type=int, default=defaults.runs)
    args = parser.parse_args(argv)
    options = LatencyOptions(args.batch_size, args.image_size, args.warmup, args.runs)
    result = measure_trial(args.trial_dir, options)
    print(json.dumps({**result, "options": asdict(options)}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
