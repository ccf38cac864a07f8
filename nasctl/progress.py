"""A rich progress bar over an experiment's trials, updated after every reconcile pass."""
from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from nasctl.render import err_console
from reconciler.graph import planned_trials
from specs.model import NASExperiment

if TYPE_CHECKING:
    from reconciler.apply import PassResult


class ApplyProgress:
    def __init__(self, experiment: NASExperiment, enabled: bool = True):
        self.total = planned_trials(experiment)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=err_console, disable=not enabled, transient=False)
        self.task = self.progress.add_task(experiment.metadata.name, total=self.total)

    def __enter__(self) -> "ApplyProgress":
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.progress.stop()

    def update(self, result: PassResult) -> None:
        trials = result.state.trials.values()
        done = sum(t.terminal for t in trials)
        running = sum(not t.terminal for t in trials)
        total = max(self.total, len(result.state.trials))
        description = f"{result.plan.phase}: {running} running"
        self.progress.update(self.task, completed=done, total=total, description=description)


def count_progress(description: str, total: int, enabled: bool = True) -> Progress:
    """A bar over `total` items with the time taken and left, on stderr (stdout stays for results)."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=err_console, disable=not enabled)
    progress.add_task(description, total=total)
    return progress
