"""Data parallel equals single-device training: N host devices vs 1, and P processes vs 1, at the same global batch.

``python -m benchmarks.data_parallel [--devices 8] [--processes 2] [--steps 20] [--batch-size 32] [--json]``

Trains the trainer's own step (a small MnasNet-space network, BatchNorm, SGD-momentum, digits through
the Grain input stream) for ``--steps`` steps on a mesh of one device and on a mesh of ``--devices``
devices, from the same initial weights on the same batches, and reports the largest parameter
difference and the largest per-step loss difference. The devices are CPU host devices
(``--xla_force_host_platform_device_count``), so it runs anywhere. ``multiHost``: the same training
in ``--processes`` local processes joined by ``jax.distributed`` from a Vertex-style ``CLUSTER_SPEC``
(JAX's CPU collectives), each reading its own rows of every batch, against the one-device run. The
last line is JSON with ``--json``.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from search_spaces.mnasnet import block

ARCH = {"stem": 8, "head": 32, "blocks": [
    block(1, "mbconv", 1, 3, 0.0, 8, 1),
    block(1, "mbconv", 3, 3, 0.25, 16, 2),
]}
IMAGE_SIZE = 16


def force_host_devices(count: int) -> None:
    """Ask XLA for `count` CPU devices; must run before jax is imported."""
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    os.environ["JAX_PLATFORMS"] = "cpu"


def train_steps(devices: list[Any], steps: int, batch_size: int, seed: int = 0) -> tuple[Any, Any]:
    """(per-step losses, final parameters) of the trainer's step on a data-parallel mesh over `devices`."""
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from trainers_jax import training  # noqa: PLC0415
    from trainers_jax.data import open_dataset  # noqa: PLC0415
    from trainers_jax.input_pipeline import Stream, train_batches  # noqa: PLC0415
    from trainers_jax.models import ModelConfig, build_model  # noqa: PLC0415
    from trainers_jax.parallel import DataParallel  # noqa: PLC0415
    from trainers_jax.preprocess import Preprocess  # noqa: PLC0415

    data = open_dataset("digits", seed=seed)
    parallel = DataParallel.over(devices)
    parallel.check_batch_size(batch_size)
    model = build_model(ModelConfig(ARCH, data.num_classes, IMAGE_SIZE, channels=data.channels))
    cfg = training.TrainConfig(steps=steps, batch_size=batch_size, learning_rate=0.1)
    tx = training.make_optimizer(cfg)
    sample = np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, data.channels), np.float32)
    state = parallel.replicate(training.init_state(model, tx, cfg, sample, seed))
    step = training.make_train_step(model, tx, cfg, data.num_classes, parallel, training.Normalize(data.mean, data.std))
    batches = train_batches(data.train, Preprocess(IMAGE_SIZE, data.scale),
                            Stream(batch_size, jax.process_index(), jax.process_count()), seed)
    losses = []
    for _ in range(steps):
        state, loss = step(state, *parallel.shard(next(batches)))
        losses.append(float(loss))
    params = jax.tree_util.tree_map(np.asarray, jax.experimental.multihost_utils.process_allgather(
        {"params": state["params"], "batch_stats": state["batch_stats"]}, tiled=True))
    return np.asarray(losses), params


def max_difference(a: Any, b: Any) -> float:
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    return float(max(np.max(np.abs(x - y)) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))))


def compare_devices(devices: int, steps: int, batch_size: int) -> tuple[dict[str, Any], tuple[Any, Any]]:
    """The 1-vs-N-devices figures, and the 1-device (losses, parameters) the multi-process run is held to."""
    import jax  # noqa: PLC0415
    import jax.experimental.multihost_utils  # noqa: F401, PLC0415

    available = jax.devices()
    if len(available) < devices:
        raise SystemExit(f"{devices} devices asked for, {len(available)} present")
    one_loss, one_params = train_steps(available[:1], steps, batch_size)
    many_loss, many_params = train_steps(available[:devices], steps, batch_size)
    return {"devices": devices, "steps": steps, "batchSize": batch_size,
            "maxParamDiff": max_difference(one_params, many_params),
            "lossDiff": float(abs(one_loss - many_loss).max()),
            "finalLoss": float(one_loss[-1])}, (one_loss, one_params)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def compare_processes(processes: int, steps: int, batch_size: int, single: tuple[Any, Any]) -> dict[str, Any]:
    """`processes` local processes of one CPU device each, joined through a Vertex-style CLUSTER_SPEC,
    train at the same global batch; process 0's losses and parameters against the single-process run."""
    import numpy as np  # noqa: PLC0415

    addresses = [f"127.0.0.1:{_free_port()}" for _ in range(processes)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "process0.pkl"
        children = []
        for index in range(processes):
            spec = {"cluster": {"workerpool0": addresses[:1], "workerpool1": addresses[1:]},
                    "task": {"type": "workerpool0" if index == 0 else "workerpool1", "index": max(0, index - 1)}}
            env = {**os.environ, "CLUSTER_SPEC": json.dumps(spec), "JAX_PLATFORMS": "cpu",
                   "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
            children.append(subprocess.Popen([sys.executable, "-m", "benchmarks.data_parallel", "--process-output",
                                              str(out), "--steps", str(steps), "--batch-size", str(batch_size)], env=env))
        codes = [child.wait(timeout=600) for child in children]
        if any(codes):
            raise SystemExit(f"multi-process run failed: exit codes {codes}")
        losses, params = pickle.loads(out.read_bytes())
    return {"processes": processes, "maxParamDiff": max_difference(single[1], params),
            "lossDiff": float(np.abs(single[0] - losses).max())}


def _train_as_one_process(output: str, steps: int, batch_size: int) -> None:
    """One process of the multi-process run: join the cluster, train, process 0 writes the outcome."""
    import jax  # noqa: PLC0415

    from trainers_jax import distributed  # noqa: PLC0415

    distributed.initialize(os.environ)
    losses, params = train_steps(jax.devices(), steps, batch_size)
    if distributed.is_writer():
        Path(output).write_bytes(pickle.dumps((losses, params)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2, help="local processes of the multi-host check (0: skip)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--process-output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.process_output:
        _train_as_one_process(args.process_output, args.steps, args.batch_size)
        return
    force_host_devices(args.devices)
    result, single = compare_devices(args.devices, args.steps, args.batch_size)
    result["multiHost"] = compare_processes(args.processes, args.steps, args.batch_size, single) if args.processes else None
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
