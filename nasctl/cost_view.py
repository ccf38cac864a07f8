"""Human view of the cost preview (`nasctl cost`, `nasctl apply --dry-run`); JSON is the report itself."""
from __future__ import annotations

from typing import Any

from nasctl.render import console


def _number(value: float | None, digits: int = 0) -> str:
    return "?" if value is None else f"{value:,.{digits}f}"


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:,.0f}"


def _gpus(stage: dict[str, Any]) -> str:
    if not stage["gpusPerTrial"]:
        return "-"
    short = stage["accelerator"].removeprefix("NVIDIA_").removeprefix("TESLA_")
    return f"{stage['gpusPerTrial']}×{short}"


def render_cost(name: str, report: dict[str, Any]) -> None:
    spending = any(stage["spentUsd"] for stage in report["stages"])
    header = ["stage", "trials", "GPUs", "h/trial", "parallel", "runtime h", "GPU-h", "quota", "cost"]
    header += ["spent"] if spending else []
    rows, notes = [], []
    for stage in report["stages"]:
        hours = _number(stage["hoursPerTrial"], 2)
        if stage["hoursSource"] not in ("spec", "unknown"):
            hours += "*"
            notes.append(f"* {stage['name']}: hours per trial from {stage['hoursSource']}")
        if stage.get("note"):
            notes.append(f"* {stage['name']}: {stage['note']}")
        if stage["quotaCpus"]:
            notes.append(f"* {stage['name']}: quota also {stage['quotaCpus']:,} vCPUs ({stage['cpuQuotaMetric']})")
        row = [stage["name"], f"{stage['trials']:,}", _gpus(stage), hours, str(stage["parallelTrials"]),
               _number(stage["runtimeHours"], 1), _number(stage["gpuHours"]), str(stage["quotaGpus"]),
               _money(stage["costUsd"])]
        rows.append(row + ([_money(stage["spentUsd"])] if spending else []))
    # plain fixed-width columns: a number is never cut to fit a narrow terminal
    widths = [max(len(column), *(len(row[position]) for row in rows)) for position, column in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))

    console.print(f"[bold]{name}: cost preview[/]")
    console.print(line(header), highlight=False, soft_wrap=True)
    console.print("  ".join("-" * w for w in widths), highlight=False, soft_wrap=True)
    for row in rows:
        console.print(line(row), highlight=False, soft_wrap=True)
    for note in notes:
        console.print(note)
    total = f"Total: {_money(report['totalCostUsd'])}"
    if spending:
        total += f", spent so far {_money(report['spentUsd'])}, remaining {_money(report['remainingUsd'])}"
    console.print(total)
    if report["priceCatalog"]:
        console.print(f"Prices: {report['priceCatalog']} (approximate list prices; override under spec.backend.prices)")
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")
