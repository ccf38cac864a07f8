"""Human views of plans, status and trials (rich). JSON views are the dicts themselves."""
from __future__ import annotations

import json
import logging
import math
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from state.records import PHASE_DELETED

# soft_wrap: a long line is left for the terminal (or the CI log) to wrap, never broken mid-word by rich
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

_ARCH_WIDTH = 120  # an architecture is shown, cut to this many characters
_SYMBOL_STYLE = {"+": "green", "~": "yellow", "-": "red"}
_COLLAPSE_AFTER = 8


def print_json(data: Any) -> None:
    """Strict JSON: a NaN or infinite number (a diverged trial's metric) is written as null, which every parser
    reads; Python's default would write NaN, which jq tolerates but JSON.parse and Go reject."""
    sys.stdout.write(json.dumps(_finite(data), indent=2, sort_keys=False, default=str, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _action_line(action: dict[str, Any]) -> str:
    from reconciler.plan import SYMBOLS  # noqa: PLC0415

    symbol = SYMBOLS[action["kind"]]
    when = "" if action["now"] else " (blocked)" if action.get("blocked") else " (queued)"
    reason = f"  # {escape(action['reason'])}" if action["reason"] else ""
    detail = ""
    if "arch" in action:
        detail = f" {json.dumps(action['arch'], default=str)[:_ARCH_WIDTH]}"
    if "signal" in action:
        detail = f" {json.dumps(action['signal'])}"
    return (f"[{_SYMBOL_STYLE[symbol]}]{symbol} {action['kind']} trial {action['trial_id']}[/]{when}{reason}"
            f"{escape(detail)}")


def render_plan(name: str, plan: dict[str, Any]) -> None:
    actions = plan["actions"]
    console.print(f"[bold]{name}[/] generation {plan['generation']} (observed {plan['observedGeneration']})")
    for field_change in plan.get("specChanges", []):
        style, note = ("red", f"  # forces replacement: {field_change['refused']}") if field_change["refused"] else (
            "yellow", "")
        console.print(f"  [{style}]~ {escape(field_change['path'])}: {escape(json.dumps(field_change['old']))} → "
                      f"{escape(json.dumps(field_change['new']))}[/]{escape(note)}", highlight=False)
    if plan["phase"] == PHASE_DELETED:
        console.print("  deleted: apply refuses to launch it (`nasctl apply --undelete` launches it again)")
        return
    change = plan.get("phaseChange")
    if change:
        console.print(f"  [yellow]~ record phase {change['from']} → {change['to']}[/]")
    if not actions:
        if not change and not plan.get("specChanges"):
            running = plan.get("running", 0)
            console.print("No changes. The experiment matches its spec" + (
                f"; {running} trial{'s' if running != 1 else ''} running." if running else "."))
        return
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for action in actions:
        groups.setdefault((action["kind"], action["stage"]), []).append(action)
    for group in groups.values():
        shown = group if len(group) <= _COLLAPSE_AFTER else group[: _COLLAPSE_AFTER - 2]
        for action in shown:
            console.print("  " + _action_line(action))
        if len(shown) < len(group):
            console.print(f"  … {len(group) - len(shown) - 1} more …")
            console.print("  " + _action_line(group[-1]))
    summary = plan["summary"]
    console.print(
        f"Plan: {summary['create']} to create, {summary['launch'] + summary['relaunch'] + summary['reopen']} to "
        f"launch, {summary['adopt']} to adopt, {summary['stop']} to stop, {summary['record']} to record, "
        f"{summary['signal']} stop signals, {summary['start-helper']} helper jobs to start."
    )


_COUNT_COLUMNS = ("total", "succeeded", "failed", "running", "pending", "stopped")


def _summary_text(summary: dict[str, Any]) -> str:
    """A stage's own results (CV and verdict, best proxy task, ...): the summary beyond the counts."""
    extra = {k: v for k, v in summary.items() if k not in _COUNT_COLUMNS}
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={json.dumps(v, default=str)}"
                     for k, v in extra.items())


def render_status(status: dict[str, Any]) -> None:
    table = Table(title=f"{status['name']}: {status['phase']}", show_header=True)
    for column in ("stage", "phase", *_COUNT_COLUMNS):
        table.add_column(column, no_wrap=True)
    for stage, info in status["stages"].items():
        table.add_row(stage, info["phase"], *(str(info["summary"].get(k, 0)) for k in _COUNT_COLUMNS))
    console.print(table)
    for stage, info in status["stages"].items():
        console.print(f"{stage}: {escape(_summary_text(info['summary']))}", highlight=False)
    console.print(f"generation {status['generation']}, observed {status['observedGeneration']}")
    for condition in status["conditions"]:
        console.print(escape(f"{condition['type']}={condition['status']} ({condition['reason']}): {condition['message']}"))
    cost = status.get("cost")
    if cost and (cost["spentUsd"] or cost["maxCostUsd"] is not None):
        projected = "?" if cost["projectedUsd"] is None else f"${cost['projectedUsd']:,.2f}"
        budget = "" if cost["maxCostUsd"] is None else f", budget ${cost['maxCostUsd']:,.2f}"
        console.print(f"cost: spent ${cost['spentUsd']:,.2f}, projected {projected}{budget}", highlight=False)
    best = status.get("best")
    if best:
        console.print(f"best: {best['trialId']} reward {best['reward']:.4f} arch {json.dumps(best['arch'])}", markup=False)
    for message in status.get("warnings", []):
        warning(message)
    front = status.get("paretoFront")
    if front:
        console.print(f"Pareto front ({len(front)} trials):")
        for point in front:
            values = ", ".join(f"{name}={value:.4g}" for name, value in point["values"].items())
            console.print(f"  {point['trialId']}: {values}")


_DETAIL_WIDTH = 60  # a trial's architecture or failure, cut: `-o json` has it whole


def render_trials(trials: list[dict[str, Any]]) -> None:
    """A trial's row says why it failed (its message's last line: a traceback's error) or, else, its architecture,
    cut to a line's worth."""
    table = Table(show_header=True)
    table.add_column("id", no_wrap=True, min_width=11)
    table.add_column("status", overflow="fold", min_width=9)
    table.add_column("reward", no_wrap=True)
    table.add_column("metrics", overflow="fold", min_width=16)
    table.add_column("arch / why", overflow="fold")
    for trial in trials:
        reward = "" if trial["reward"] is None else f"{trial['reward']:.4f}"
        status = trial["status"] + (f" ({trial['reason']})" if trial.get("reason") else "")
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(trial["metrics"].items())
                            if isinstance(v, (int, float)) and not isinstance(v, bool))
        lines = (trial.get("message") or "").strip().splitlines()
        detail = lines[-1] if trial["status"] == "failed" and lines else json.dumps(trial["arch"])
        if len(detail) > _DETAIL_WIDTH:
            detail = detail[:_DETAIL_WIDTH - 1] + "…"
        table.add_row(trial["id"], status, reward, metrics, escape(detail))
    console.print(table)


def render_spaces(rows: list[dict[str, Any]]) -> None:
    table = Table(show_header=True)
    for column in ("name", "architectures", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], f"{row['size']:,}", row["description"])
    console.print(table)


def warning(message: str) -> None:
    """One line on stdout, text never markup."""
    console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


class WarningLines(logging.Handler):
    """A package's logged warning (a Vertex call retried after a 429 or 503) as a `warning:` line on stderr,
    printed by rich so that a progress bar there stays whole."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(f"[yellow]warning:[/] {escape(record.getMessage())}", highlight=False)


def show_logged_warnings(*packages: str) -> None:
    """Show the warnings these packages log (once, however often it is called)."""
    for name in packages:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, WarningLines) for handler in logger.handlers):
            logger.addHandler(WarningLines(logging.WARNING))


def error(message: str) -> None:
    """One line on stderr; the message is text, never markup (a spec value may contain '[/oops]')."""
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False)
