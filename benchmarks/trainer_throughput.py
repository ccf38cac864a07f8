"""Trainer throughput: nasctl's JAX/Flax trainer vs timm ``mnasnet_100`` in PyTorch, like for like.

``python -m benchmarks.trainer_throughput [--image-size 224] [--batch-size 256] [--steps 50]``

Sections (each prints one line per result; ``--json PATH`` also writes them):

1. ``jax``: the MnasNet-B1 architecture (exactly timm's ``mnasnet_100``), the trainer's own train step
   (SGD-momentum, label smoothing, clipping), bf16 compute on GPU, on synthetic data resident on the
   device: compile seconds and images/s.
2. ``peer``: timm ``mnasnet_100`` with ``torch.compile``, channels_last and bf16 autocast, same batch
   and optimizer; only when torch and timm are importable (they are never nasctl dependencies).
3. ``archs``: compile seconds and images/s of N further MnasNet-space architectures in one process
   sequence, sharing the persistent compilation cache (and XLA's autotuning results kept in it).
4. ``latency``: the latency calculator's median, p90 and coefficient of variation on this device.
5. ``packing`` (``--packing K``): K small digits proxy trials run one after another, then all at once
   on the device (each with 1/K of its memory): trials per hour both ways.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ResultLine = dict[str, Any]


def _jax_train_step(arch: dict[str, Any], image_size: int, batch_size: int, num_classes: int) -> tuple[Callable, Any, Any]:
    """The trainer's jitted step for `arch` plus its initial state and a device-resident batch."""
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from trainers_jax import training  # noqa: PLC0415
    from trainers_jax.models import ModelConfig, build_model  # noqa: PLC0415

    dtype = jnp.bfloat16 if training.use_bf16() else jnp.float32
    model = build_model(ModelConfig(arch, num_classes, image_size), dtype)
    cfg = training.TrainConfig(steps=10_000, batch_size=batch_size, learning_rate=0.1, optimizer="sgd",
                               label_smoothing=0.1, clip_norm=None, weight_decay=4e-5)
    tx = training.make_optimizer(cfg)
    rng = np.random.default_rng(0)
    images = jax.device_put(rng.standard_normal((batch_size, image_size, image_size, 3), np.float32))
    labels = jax.device_put(rng.integers(0, num_classes, batch_size).astype(np.int32))
    state = training.init_state(model, tx, cfg, np.zeros((1, image_size, image_size, 3), np.float32), 0)
    step = training.make_train_step(model, tx, cfg, num_classes)
    return (lambda s: step(s, images, labels)), state, model


def _time_jax(arch: dict[str, Any], args: argparse.Namespace, name: str) -> ResultLine:
    import jax  # noqa: PLC0415

    step, state, _ = _jax_train_step(arch, args.image_size, args.batch_size, args.num_classes)
    start = time.perf_counter()
    state, loss = step(state)  # first call: trace + compile (+ autotune on GPU)
    jax.block_until_ready(loss)
    compile_s = time.perf_counter() - start
    for _ in range(args.warmup):
        state, loss = step(state)
    jax.block_until_ready(loss)
    start = time.perf_counter()
    for _ in range(args.steps):
        state, loss = step(state)
    jax.block_until_ready(loss)
    seconds = time.perf_counter() - start
    return {"section": name, "framework": "jax", "device": str(jax.devices()[0].device_kind),
            "image_size": args.image_size, "batch_size": args.batch_size,
            "images_per_s": args.steps * args.batch_size / seconds, "compile_s": compile_s}


def _time_peer(args: argparse.Namespace) -> ResultLine | None:
    """timm mnasnet_100 with torch.compile, channels_last, bf16 autocast; None if torch/timm are absent."""
    try:
        import timm  # noqa: PLC0415
        import torch  # noqa: PLC0415
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = timm.create_model("mnasnet_100", num_classes=args.num_classes).to(device)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=4e-5)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    images = torch.randn(args.batch_size, 3, args.image_size, args.image_size, device=device)
    images = images.to(memory_format=torch.channels_last)
    labels = torch.randint(0, args.num_classes, (args.batch_size,), device=device)
    compiled = torch.compile(model)

    def step() -> Any:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            loss = loss_fn(compiled(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    start = time.perf_counter()
    step()
    sync()
    compile_s = time.perf_counter() - start
    for _ in range(args.warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    return {"section": "peer", "framework": f"torch {torch.__version__} + timm {timm.__version__}",
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "image_size": args.image_size, "batch_size": args.batch_size,
            "images_per_s": args.steps * args.batch_size / seconds, "compile_s": compile_s}


def _space_archs(count: int) -> list[dict[str, Any]]:
    from search_spaces.mnasnet import space  # noqa: PLC0415
    from search_spaces.space import SearchSpace  # noqa: PLC0415

    searched = SearchSpace("mnasnet", space("mnasnet_a1"))
    rng = random.Random(0)
    return [searched.materialize(searched.random_dna(rng)) for _ in range(count)]


def _latency(args: argparse.Namespace) -> ResultLine:
    from latency.measure import LatencyOptions, measure_forward  # noqa: PLC0415
    from search_spaces.mnasnet import mnasnet_b1  # noqa: PLC0415

    _, state, model = _jax_train_step(mnasnet_b1(), args.image_size, args.batch_size, args.num_classes)
    variables = {"params": state["params"], "batch_stats": state["batch_stats"]}
    shape = (args.latency_batch_size, args.image_size, args.image_size, 3)
    result = measure_forward(lambda v, x: model.apply(v, x, train=False), variables, shape,
                             LatencyOptions(args.latency_batch_size, args.image_size, warmup=20, runs=args.latency_runs))
    return {"section": "latency", **result}


def _packing(count: int, steps: int) -> ResultLine:
    """K digits proxy trials sequentially, then concurrently, as separate trial processes."""
    from search_spaces.mnasnet import mnasnet_b1  # noqa: PLC0415
    from trial.dirs import LocalTrialDir  # noqa: PLC0415

    def run_all(parallel: bool, root: Path) -> float:
        env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false",
                   XLA_PYTHON_CLIENT_MEM_FRACTION=f"{0.9 / (count if parallel else 1):.3f}")
        dirs = []
        for i in range(count):
            trial = LocalTrialDir(root / f"{'packed' if parallel else 'single'}-{i}")
            trial.path.mkdir(parents=True)
            trial.write_spec({"id": trial.path.name, "stage": "search", "arch": mnasnet_b1(), "seed": i,
                              "trainer": {"prebuilt": "image-classifier"},
                              "args": {"dataset": "digits", "imageSize": 32, "width": 0.25, "depth": 0.3, "steps": steps,
                                       "evalEvery": steps, "batchSize": 128}})
            dirs.append(trial)
        command = [sys.executable, "-m", "trial.runner"]
        start = time.perf_counter()
        if parallel:
            for process in [subprocess.Popen([*command, str(d.path)], env=env) for d in dirs]:
                process.wait()
        else:
            for d in dirs:
                subprocess.run([*command, str(d.path)], env=env, check=False)
        failed = [d.path.name for d in dirs if (d.read_result() is None or d.read_result().status != "succeeded")]
        if failed:
            raise RuntimeError(f"packing benchmark: trials failed: {failed}")
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        single, packed = run_all(False, Path(tmp)), run_all(True, Path(tmp))
    return {"section": "packing", "trials": count, "steps": steps,
            "trials_per_hour_one_at_a_time": count * 3600 / single,
            "trials_per_hour_packed": count * 3600 / packed, "speedup": single / packed}


def _configure_cache(path: str | None) -> None:
    import jax  # noqa: PLC0415

    from trial.protocol import COMPILATION_CACHE_ENV  # noqa: PLC0415

    cache = path or os.environ.get(COMPILATION_CACHE_ENV) or str(Path.home() / ".cache" / "nasctl" / "jax")
    os.environ[COMPILATION_CACHE_ENV] = cache  # packed trial processes share it too
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trainer_throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps after compilation")
    parser.add_argument("--archs", type=int, default=5, help="further MnasNet-space architectures to compile")
    parser.add_argument("--no-peer", action="store_true", help="skip the PyTorch/timm peer")
    parser.add_argument("--latency-batch-size", type=int, default=1)
    parser.add_argument("--latency-runs", type=int, default=100)
    parser.add_argument("--packing", type=int, default=0, help="K trials packed on one device (0: skip)")
    parser.add_argument("--packing-steps", type=int, default=200)
    parser.add_argument("--cache-dir", default=None, help="persistent compilation cache directory")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    from search_spaces.mnasnet import mnasnet_b1  # noqa: PLC0415

    _configure_cache(args.cache_dir)
    results: list[ResultLine] = []

    def emit(line: ResultLine | None) -> None:
        if line is not None:
            results.append(line)
            print(json.dumps(line, sort_keys=True), flush=True)

    emit(_time_jax(mnasnet_b1(), args, "jax"))
    if not args.no_peer:
        peer = _time_peer(args)
        if peer is None:
            print("peer: torch/timm not importable here; skipped", flush=True)
        else:
            emit(peer)
            emit({"section": "ratio", "jax_over_peer": results[0]["images_per_s"] / peer["images_per_s"]})
    for i, arch in enumerate(_space_archs(args.archs)):
        emit(_time_jax(arch, args, f"arch-{i}"))
    emit(_latency(args))
    if args.packing:
        emit(_packing(args.packing, args.packing_steps))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
