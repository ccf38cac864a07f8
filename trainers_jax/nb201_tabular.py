"""The `nb201-tabular` trainer: "trains" an NB201 cell by looking it up in a NAS-Bench-201 table.

Args: ``mode`` (``proxy``: 12-epoch validation accuracy; ``full``: 200-epoch test accuracy),
``table`` (CSV path; default the bundled CIFAR-10 table), ``delaySeconds`` (simulated training time,
for demos and crash tests), ``failArchs`` (NB201 strings that fail, to exercise failure handling).
Reports ``accuracy`` as a fraction in [0, 1] and every latency column as ``latency_<device>_ms``.
"""
from __future__ import annotations

import time
from typing import Any

from search_spaces.nb201 import to_arch_string
from trial.context import TrialContext
from trainers_jax.nb201_table import find_row
from trial.protocol import FAILED, TrialFailure

_CYCLES = 4


def train(ctx: TrialContext) -> dict[str, Any]:
    args = ctx.args
    mode = args.get("mode", "proxy")
    if mode not in ("proxy", "full"):
        raise TrialFailure(FAILED, f"nb201-tabular: mode must be 'proxy' or 'full', got {mode!r}")
    arch = to_arch_string(ctx.arch())
    if arch in args.get("failArchs", []):
        raise TrialFailure(FAILED, f"architecture {arch} configured to fail")
    row = find_row(arch, args.get("table"))
    accuracy = (row.val_acc_12ep if mode == "proxy" else row.test_acc_200ep) / 100.0
    delay = float(args.get("delaySeconds", 0.0))
    for cycle in range(1, _CYCLES + 1):
        fraction = cycle / _CYCLES
        if ctx.should_stop(fraction_done=fraction - 1 / _CYCLES):
            break
        time.sleep(delay / _CYCLES)
        ctx.report(step=cycle, metrics={"accuracy": accuracy * fraction}, fraction=fraction)
    return {"accuracy": accuracy, **row.latencies_ms}
