"""Architectures as people read them: one line for tables and tooltips, a block list for the best trials.

The shapes of the prebuilt spaces are recognised (NAS-Bench-201 cell edges, MnasNet blocks); any
other architecture is shown as its keys and values, so a custom search space still reads sensibly.
"""
from __future__ import annotations

import json
from typing import Any

from search_spaces.nb201 import EDGES, OPERATIONS, to_arch_string


def _is_nb201(arch: Any) -> bool:
    edges = arch.get("edges") if isinstance(arch, dict) else None
    return isinstance(edges, list) and len(edges) == len(EDGES) and all(op in OPERATIONS for op in edges)


def _is_mnasnet(arch: Any) -> bool:
    return isinstance(arch, dict) and isinstance(arch.get("blocks"), list) and all(
        isinstance(b, dict) and "filters" in b for b in arch["blocks"])


def _block(block: dict[str, Any]) -> str:
    parts = [str(block.get("block", "block")), f"×{block.get('repeats', 1)}"]
    parts += [f"{label} {block[key]}" for key, label in
              (("kernel", "k"), ("expand", "expand"), ("se", "SE"), ("stride", "stride")) if key in block]
    return " · ".join(parts + [f"{block['filters']} ch"])


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)


def arch_summary(arch: Any) -> str:
    """One line: the NB201 string ``|op~0|+|op~0|op~1|+...``, MnasNet ``k5e1×2:24 ...``, else compact JSON."""
    if arch is None:
        return ""
    if _is_nb201(arch):
        return to_arch_string(arch)
    if _is_mnasnet(arch):
        return " ".join(f"k{b.get('kernel', '?')}e{b.get('expand', '?')}×{b.get('repeats', 1)}:{b['filters']}"
                        for b in arch["blocks"])
    return _plain(arch)


def arch_lines(arch: Any) -> list[str]:
    """The architecture as a list of readable lines: cell edges, network blocks, or key: value."""
    if _is_nb201(arch):
        return [f"node {to} ← node {src}: {op}" for (to, src), op in zip(EDGES, arch["edges"])]
    if _is_mnasnet(arch):
        lines = [f"stem {arch['stem']} ch"] if "stem" in arch else []
        lines += [f"{n}. {_block(b)}" for n, b in enumerate(arch["blocks"], start=1)]
        return lines + ([f"head {arch['head']} ch"] if "head" in arch else [])
    if isinstance(arch, dict):
        return [f"{key}: {_plain(value)}" for key, value in arch.items()]
    return [arch_summary(arch)]
