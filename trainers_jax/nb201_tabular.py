"""The `nb201-tabular` trainer: "trains" an NB201 cell by looking it up in a NAS-Bench-201 table.

Args: :class:`trainers_jax.trainer_args.TabularArgs` (``mode``, ``table``, ``delaySeconds``, ``failArchs``).
Reports ``accuracy`` as a fraction in [0, 1] and every latency column as ``latency_<device>_ms``.
"""
from __future__ import annotations

import time
from typing import Any

from search_spaces.nb201 import to_arch_string
from trial.context import TrialContext
from trainers_jax.nb201_table import find_row
from trainers_jax.trainer_args import TabularArgs
from trial.protocol import FAILED, TrialFailure

_CYCLES = 4


def train(ctx: TrialContext) -> dict[str, Any]:
    args = TabularArgs.parse(ctx.args)
    arch = to_arch_string(ctx.arch())
    if arch in args.fail_archs:
        raise TrialFailure(FAILED, f"architecture {arch} configured to fail")
    row = find_row(arch, args.table)
    accuracy = (row.val_acc_12ep if args.mode == "proxy" else row.test_acc_200ep) / 100.0
    delay = args.delay_seconds
    for cycle in range(1, _CYCLES + 1):
        fraction = cycle / _CYCLES
        if ctx.should_stop(fraction_done=fraction - 1 / _CYCLES):
            break
        time.sleep(delay / _CYCLES)
        ctx.report(step=cycle, metrics={"accuracy": accuracy * fraction}, fraction=fraction)
    return {"accuracy": accuracy, **row.latencies_ms}
