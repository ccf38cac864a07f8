"""Input pipeline: decode + augment throughput with Grain workers, and a trial's memory vs dataset size.

``python -m benchmarks.input_pipeline [--images 2048] [--batch 128] [--size 256] [--crop 224] [--rounds 5] [--json]``

1. ``pilImagesPerSec``: the peer, a single-process loop over a generated JPEG folder doing the same
   work as a worker (PIL decode, random-resized crop, flip), in this run.
2. ``imagesPerSec``: the trainer's Grain stream over the same folder with 1 and 2 worker processes, in
   steady state (worker start-up and what the buffers held beforehand are not counted).

   Throughput is measured in ``--rounds`` rounds, each timing the peer, then 1 and 2 workers, then the
   peer again; a round's ratio divides by the mean of its two peer figures, and every figure reported
   is the median over the rounds. (This VM's speed drifts by up to 25 % within a minute, so a ratio
   of two figures taken a minute apart says little.) ``speedups`` lists each round's ratios.
3. ``peakRssMb``: peak resident memory of a short image-classifier trial (its own process) on a
   generated folder, 1× and 10× larger; with streaming input it should not grow with the folder.
4. ``stepSeconds``: the trainer's train step (MnasNet-B1 at the crop size) fed by the Grain stream
   with one worker (``real``) and by one batch already on the device (``synthetic``), in a process
   whose XLA runs on one thread: the "device" is one core, the input worker has the other, as an
   accelerator host's cores feed its device. ``stepSlowdown`` is real / synthetic − 1.

The last line is JSON with ``--json``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from search_spaces.mnasnet import block

CLASSES = 4
TRIAL_ARCH = {"stem": 8, "head": 16, "blocks": [block(1, "mbconv", 1, 3, 0.0, 8, 2)]}


def write_jpeg_folder(root: Path, images: int, size: int, seed: int = 0) -> Path:
    """`images` smooth random JPEGs (size×size) in CLASSES class folders: decode cost like photos, not noise."""
    rng = np.random.default_rng(seed)
    for i in range(images):
        folder = root / f"class{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        coarse = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((size, size), Image.BICUBIC)
        pixels = np.clip(np.asarray(coarse, np.int16) + rng.integers(-12, 12, (size, size, 3)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:06d}.jpg", quality=90)
    return root


def pil_images_per_sec(root: Path, crop: int) -> float:
    """The peer: one process, one image after another, the same preprocessing as a worker."""
    from trainers_jax.data import open_dataset  # noqa: PLC0415
    from trainers_jax.preprocess import Preprocess  # noqa: PLC0415

    data = open_dataset(str(root))
    preprocess = Preprocess(crop, data.scale, imagenet=True)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for index in range(len(data.train)):
        preprocess(data.train[index], rng)
    return len(data.train) / (time.perf_counter() - start)


def grain_images_per_sec(root: Path, crop: int, workers: int, batch_size: int) -> float:
    """The trainer's stream in steady state: its buffers drained first, so only images made while timed count."""
    from trainers_jax.data import open_dataset  # noqa: PLC0415
    from trainers_jax.input_pipeline import PREFETCH_BATCHES, Stream, train_batches  # noqa: PLC0415
    from trainers_jax.preprocess import Preprocess  # noqa: PLC0415

    data = open_dataset(str(root))
    preprocess = Preprocess(crop, data.scale, imagenet=True)
    batches = train_batches(data.train, preprocess, Stream(batch_size, workers=workers), seed=0)
    try:
        for _ in range(max(1, workers)):  # every worker started (they take batches in turn)
            next(batches)
        time.sleep(1.0)  # let every buffer fill, then take what they hold and the batch each worker is on
        for _ in range(max(1, workers) * (PREFETCH_BATCHES + 1)):
            next(batches)
        count = max(1, len(data.train) // batch_size)
        start = time.perf_counter()
        for _ in range(count):
            next(batches)
        return count * batch_size / (time.perf_counter() - start)
    finally:
        batches.close()


def throughput(root: Path, crop: int, batch_size: int, rounds: int) -> dict[str, Any]:
    """Peer and 1/2-worker images/s, interleaved in rounds; medians and each round's 2-worker ratio."""
    peers: list[float] = []
    speedups: list[float] = []
    workers: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        before = pil_images_per_sec(root, crop)
        for count in workers:
            workers[count].append(grain_images_per_sec(root, crop, count, batch_size))
        peer = (before + pil_images_per_sec(root, crop)) / 2
        peers.append(peer)
        speedups.append(workers[2][-1] / peer)
    return {"pilImagesPerSec": statistics.median(peers),
            "imagesPerSec": {str(count): statistics.median(figures) for count, figures in workers.items()},
            "speedup2Workers": statistics.median(speedups), "speedups": speedups}


def trial_peak_rss_mb(root: Path, work: Path) -> float:
    """Peak RSS (MB) of one short image-classifier trial run in its own process."""
    from trial.dirs import LocalTrialDir  # noqa: PLC0415
    from trial.protocol import COMPILATION_CACHE_ENV  # noqa: PLC0415

    trial = LocalTrialDir(work / root.name)
    trial.path.mkdir(parents=True, exist_ok=True)
    trial.write_spec({"id": root.name, "stage": "search", "arch": TRIAL_ARCH, "seed": 0,
                      "trainer": {"prebuilt": "image-classifier"},
                      "args": {"dataset": str(root), "imageSize": 32, "steps": 6, "evalEvery": 6, "batchSize": 16,
                               "dataWorkers": 0}})
    env = {**os.environ, COMPILATION_CACHE_ENV: str(work / f"jax-cache-{root.name}")}  # both runs compile
    out = subprocess.run([sys.executable, "-m", "benchmarks.input_pipeline", "--run-trial", str(trial.path)],
                         capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


STEP_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def step_seconds(root: Path, crop: int, batch_size: int, steps: int) -> dict[str, float]:
    """Seconds per train step with real and synthetic input, measured in a one-thread-XLA process."""
    env = {**os.environ, "XLA_FLAGS": STEP_XLA_FLAGS, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    out = subprocess.run([sys.executable, "-m", "benchmarks.input_pipeline", "--step-times", str(root),
                          "--crop", str(crop), "--step-batch", str(batch_size), "--steps", str(steps)],
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _time_steps(step: Any, state: Any, batches: Any, steps: int) -> tuple[Any, float]:
    import jax  # noqa: PLC0415

    state, loss = step(state, *next(batches))  # compiled and warm before timing
    jax.block_until_ready(loss)
    start = time.perf_counter()
    for _ in range(steps):
        state, loss = step(state, *next(batches))
    jax.block_until_ready(loss)
    return state, (time.perf_counter() - start) / steps


def _print_step_times(root: str, crop: int, batch_size: int, steps: int) -> None:
    import itertools  # noqa: PLC0415

    import jax  # noqa: PLC0415

    from search_spaces.mnasnet import mnasnet_b1  # noqa: PLC0415
    from trainers_jax import training  # noqa: PLC0415
    from trainers_jax.data import open_dataset  # noqa: PLC0415
    from trainers_jax.input_pipeline import Stream, train_batches  # noqa: PLC0415
    from trainers_jax.models import ModelConfig, build_model  # noqa: PLC0415
    from trainers_jax.preprocess import Preprocess  # noqa: PLC0415

    data = open_dataset(root)
    model = build_model(ModelConfig(mnasnet_b1(), data.num_classes, crop, channels=3))
    cfg = training.TrainConfig(steps=steps + 1, batch_size=batch_size)
    tx = training.make_optimizer(cfg)
    state = training.init_state(model, tx, cfg, np.zeros((1, crop, crop, 3), np.float32), 0)
    step = training.make_train_step(model, tx, cfg, data.num_classes, normalize=training.Normalize(data.mean, data.std))
    real = train_batches(data.train, Preprocess(crop, data.scale, imagenet=True), Stream(batch_size, workers=1), seed=0)
    try:
        fixed = jax.device_put(next(real))
        state, synthetic_seconds = _time_steps(step, state, itertools.repeat(fixed), steps)
        _, real_seconds = _time_steps(step, state, real, steps)
    finally:
        real.close()
    print(json.dumps({"real": real_seconds, "synthetic": synthetic_seconds}))


def _run_trial_and_print_rss(trial_dir: str) -> None:
    from trial.runner import run  # noqa: PLC0415

    result = run(trial_dir)
    if result.status != "succeeded":
        raise SystemExit(f"trial {trial_dir} {result.status}: {result.message}")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: kilobytes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048, help="images in the throughput folder")
    parser.add_argument("--batch", type=int, default=128, help="batch of the throughput stream (the POC's batchSize)")
    parser.add_argument("--size", type=int, default=256, help="side of the generated JPEGs")
    parser.add_argument("--crop", type=int, default=224, help="training crop size")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved throughput rounds (medians reported)")
    parser.add_argument("--memory-images", type=int, default=200, help="images in the 1× memory folder")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--step-batch", type=int, default=8, help="global batch of the step-time comparison")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per input kind")
    parser.add_argument("--run-trial", help=argparse.SUPPRESS)
    parser.add_argument("--step-times", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_trial:
        _run_trial_and_print_rss(args.run_trial)
        return
    if args.step_times:
        _print_step_times(args.step_times, args.crop, args.step_batch, args.steps)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = write_jpeg_folder(work / "throughput", args.images, args.size)
        result: dict[str, Any] = {
            "images": args.images, "imageSize": args.size, "crop": args.crop, "batch": args.batch,
            **throughput(folder, args.crop, args.batch, args.rounds),
        }
        result["stepSeconds"] = step_seconds(folder, args.crop, args.step_batch, args.steps)
        small = write_jpeg_folder(work / "x1", args.memory_images, 64)
        large = write_jpeg_folder(work / "x10", 10 * args.memory_images, 64)
        result["peakRssMb"] = {"1x": trial_peak_rss_mb(small, work / "trials"),
                               "10x": trial_peak_rss_mb(large, work / "trials")}
    result["rssGrowth10x"] = result["peakRssMb"]["10x"] / result["peakRssMb"]["1x"] - 1
    result["stepSlowdown"] = result["stepSeconds"]["real"] / result["stepSeconds"]["synthetic"] - 1
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
