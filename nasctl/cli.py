"""The nasctl command line: parse arguments, call the packages, render. No reconcile logic here."""
from __future__ import annotations

import functools
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, TypeVar

import typer

from backends.vertex.calls import QuotaExhausted
from nasctl import render
from state.records import PHASE_FAILED
from reconciler.session import Session, shared_state_errors, spec_files
from state.store import StateError, lease_for_poll
from specs.loader import SpecError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Declarative Neural Architecture Search: apply a NASExperiment spec, idempotently.")


@app.callback()
def _every_command() -> None:
    render.show_logged_warnings("backends", "state")  # a Vertex or GCS call retried: `apply` is not silently stuck


F = TypeVar("F", bound=Callable[..., Any])
SpecOption = typer.Option(..., "--file", "-f", help="NASExperiment YAML file.", exists=False)


class Output(str, Enum):
    text = "text"
    json = "json"


OutputOption = typer.Option(Output.text, "--output", "-o", help="Output format.")
TRACEBACK_ENV = "NASCTL_TRACEBACK"  # "1": known failures keep their traceback as well (reporting a bug)
# Credentials, permissions, quota, network: shown as one clear line, never as a traceback.
_CLOUD_ERROR_MODULES = ("google.auth", "google.api_core", "google.cloud.exceptions", "google.resumable_media")


def handles_errors(command: F) -> F:
    """Known failures (bad spec, locked or corrupt state) become a clear message and exit code 1;
    with NASCTL_TRACEBACK=1 they keep their traceback too (a bug that raises ValueError reads like bad input)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - only the known failures are rendered; the rest propagate
            lines = _error_lines(exc)
            if lines is None or os.environ.get(TRACEBACK_ENV) == "1":
                raise
            for line in lines:
                render.error(line)
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def _error_lines(exc: Exception) -> list[str] | None:
    """The error lines of a known failure (bad spec, locked or corrupt state, a disk or cloud error, a
    ValueError: how the packages refuse input); None for anything else, which is a bug and keeps its traceback."""
    if isinstance(exc, SpecError):
        return [issue.render(exc.source) for issue in exc.issues]
    if isinstance(exc, (StateError, ValueError, QuotaExhausted)):
        return [str(exc)]
    if isinstance(exc, OSError):  # a read-only or full disk, a missing file: what and where, not a traceback
        return [f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc)]
    if type(exc).__module__.startswith(_CLOUD_ERROR_MODULES):
        return [f"Google Cloud: {type(exc).__name__}: {exc}"]
    return None


@app.command()
@handles_errors
def validate(file: Path = SpecOption, output: Output = OutputOption) -> None:
    """Check a spec: schema, values, names of spaces, trainers and algorithms. Writes nothing."""
    session = Session.open(file)
    if output is Output.json:
        render.print_json({"valid": True, "name": session.experiment.metadata.name,
                           "spec": session.experiment.model_dump(mode="json", by_alias=True)})
    else:
        render.console.print(f"{file}: valid NASExperiment {session.experiment.metadata.name!r}", markup=False)


@app.command()
@handles_errors
def diff(file: Path = SpecOption, output: Output = OutputOption,
         detailed_exitcode: bool = typer.Option(False, "--detailed-exitcode",
                                                help="Exit 0: no changes, 2: changes, 1: error.")) -> None:
    """Show what `apply` would do, acting on nothing. A folder diffs every spec in it: a bad one is an error
    that stops none of the others."""
    from reconciler.delete import refuse_leftovers  # noqa: PLC0415

    paths = spec_files(file)
    if not paths:
        raise ValueError(f"{file}: no *.yaml or *.yml spec in this folder")
    plans, failures = [], []
    for path in paths:
        try:
            session = Session.open(path)
            reconciler = session.reconciler()
            refuse_leftovers(reconciler)  # what apply refuses, diff does not plan
            plans.append((session, reconciler.preview().plan))
        except Exception as exc:  # noqa: BLE001 - a known failure of one spec of a folder; others propagate
            lines = _error_lines(exc)
            if lines is None or len(paths) == 1:
                raise
            failures.append((path, lines))
    failures += shared_state_errors([session for session, _ in plans])
    if output is Output.json:
        views = [{"name": s.experiment.metadata.name, "file": str(s.path), **p.to_json()} for s, p in plans]
        views += [{"file": str(path), "errors": lines} for path, lines in failures]
        render.print_json(views[0] if len(views) == 1 and not Path(file).is_dir() else views)
    else:
        for session, plan in plans:
            render.render_plan(session.experiment.metadata.name, plan.to_json())
    refused = [(session, change) for session, plan in plans for change in plan.refused]
    for session, change in refused:
        render.error(f"{session.path}: {change.path} cannot change in place: {change.refused}")
    for path, lines in failures:
        for line in lines:
            render.error(line if line.startswith(str(path)) else f"{path}: {line}")
    if refused or failures:
        raise typer.Exit(1)
    if detailed_exitcode and any(plan.would_act for _, plan in plans):
        raise typer.Exit(2)


@app.command()
@handles_errors
def apply(file: Path = SpecOption,
          yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
          progress: bool = typer.Option(True, help="Show a progress bar."),
          dry_run: bool = typer.Option(False, "--dry-run", help="Print the cost preview and act on nothing."),
          once: bool = typer.Option(False, "--once", help="One reconcile pass, then return (for CI and cron)."),
          undelete: bool = typer.Option(False, "--undelete", help="Clear a `nasctl delete` and launch the experiment "
                                                                  "again from its recorded trials."),
          allow_module: list[str] = typer.Option(
              [], "--allow-module", help="Trust this module prefix for code the spec names (besides the spec's "
                                         "own repository); repeatable. Also NASCTL_ALLOW_MODULES.")) -> None:
    """Reconcile: launch or resume what is missing, until the experiment succeeds or fails."""
    from nasctl.progress import ApplyProgress  # noqa: PLC0415
    from reconciler.apply import SpecChangeRefused  # noqa: PLC0415
    from reconciler.delete import refuse_if_deleted, refuse_leftovers, undelete as undelete_experiment  # noqa: PLC0415

    session = Session.open(file)
    if dry_run:
        _render_cost(session, Output.text)
        render.console.print("Dry run: nothing was applied.")
        return
    reconciler = session.reconciler(acting=True, allow_modules=tuple(allow_module))
    name = session.experiment.metadata.name
    lease = lease_for_poll(session.experiment.spec.backend.poll_seconds)
    if undelete:
        reopened = undelete_experiment(reconciler, lease)
        if reopened is not None:
            render.console.print(f"{name} undeleted; {len(reopened)} trials the delete stopped run again")
    refuse_if_deleted(reconciler, lease)
    refuse_leftovers(reconciler)
    plan = reconciler.preview().plan
    render.render_plan(name, plan.to_json())
    if plan.refused:
        raise SpecChangeRefused(plan.refused)
    if plan.stuck_on_budget:  # a pass would launch nothing: refused before asking, locking or writing
        render.error(f"{name} is Failed ({plan.next_condition.reason}): {plan.next_condition.message}")
        raise typer.Exit(1)
    if plan.settled:
        if plan.phase == PHASE_FAILED:
            render.error(f"{name} is Failed ({plan.condition.reason}): {plan.condition.message}")
            raise typer.Exit(1)
        return
    if plan.has_changes and not yes:
        _confirm_or_exit("Apply this plan?", "apply")
    with session.store.locked(lease_seconds=lease) as lock, ApplyProgress(session.experiment, enabled=progress) as bar:
        try:
            result = (reconciler.run_pass() if once else
                      reconciler.run(lock, session.experiment.spec.backend.poll_seconds, on_pass=bar.update))
        except KeyboardInterrupt:
            render.error("interrupted: running trials keep running; `nasctl apply` again adopts them")
            raise typer.Exit(130) from None
    from nasctl.views import status_view  # noqa: PLC0415

    view = status_view(session.experiment, result.state)
    render.render_status(view)
    if view["phase"] == PHASE_FAILED:
        raise typer.Exit(1)


def _confirm_or_exit(question: str, verb: str) -> None:
    """Ask on a terminal; without one (CI), refuse: acting takes --yes there."""
    if not sys.stdin.isatty():
        render.error(f"refusing to {verb} without confirmation in a non-interactive session: pass --yes")
        raise typer.Exit(1)
    if not typer.confirm(question):
        render.console.print("Cancelled; nothing was changed.")
        raise typer.Exit(1)


@app.command()
@handles_errors
def delete(file: Path = SpecOption,
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Cancel every job of the experiment and mark it deleted; its state (trials, results) is kept and
    `apply` refuses it until `apply --undelete`. With nothing recorded, cancel the jobs labelled with it
    that still run (left from an earlier life of its state)."""
    from reconciler.delete import delete as delete_experiment, delete_scope, delete_warnings  # noqa: PLC0415

    session = Session.open(file)
    name = session.experiment.metadata.name
    reconciler = session.reconciler()
    scope = delete_scope(reconciler)  # nothing to confirm for an experiment never applied, nothing left running
    for message in delete_warnings(reconciler):
        render.warning(message)
    question = (f"Cancel every job of {name} and mark it deleted (its state is kept)?" if scope.recorded else
                f"Nothing is recorded for {name} at {session.store.uri}, but {len(scope.leftovers)} job(s) labelled "
                f"with it still run (left from an earlier life of its state): {', '.join(scope.leftovers)}. "
                "Cancel them?")
    if not yes:
        _confirm_or_exit(question, "delete")
    lease = lease_for_poll(session.experiment.spec.backend.poll_seconds)
    cancelled = delete_experiment(reconciler, lease)
    stopped = f"stopped {len(cancelled)}: {', '.join(cancelled) or '-'}"
    outcome = (f"{name} deleted; {stopped}; state kept at {session.store.uri}" if scope.recorded else
               f"{name}: nothing was recorded at {session.store.uri}; {stopped}; no state written")
    render.console.print(outcome, highlight=False, soft_wrap=True)


def _render_cost(session: Session, output: Output) -> None:
    from nasctl.cost_view import render_cost  # noqa: PLC0415
    from reconciler.cost import cost_preview  # noqa: PLC0415

    report = cost_preview(session.experiment, session.store).to_json()
    render.print_json(report) if output is Output.json else render_cost(session.experiment.metadata.name, report)


@app.command()
@handles_errors
def cost(file: Path = SpecOption, output: Output = OutputOption) -> None:
    """Preview runtime, GPU-hours, GPU quota and dollars per stage (spent and remaining once under way)."""
    _render_cost(Session.open(file), output)


class Variant(str, Enum):
    cuda = "cuda"
    tpu = "tpu"
    cpu = "cpu"


@app.command()
@handles_errors
def build(file: Path = SpecOption,
          context: Path = typer.Option(Path("."), help="The nasctl project root (holds pyproject.toml)."),
          variant: Variant = typer.Option(None, help="JAX build in the image; default: from the spec's machines "
                                                     "(TPU machine types → tpu, GPU accelerators → cuda, else cpu)."),
          output: Path = typer.Option(None, help="Where to write the build context; default: build/trainer-image "
                                                 "under --context."),
          base_image: str = typer.Option(None, help="Base image, e.g. a python:X.Y.Z-slim-bookworm@sha256:... digest; "
                                                    "default: this Python's exact release."),
          push: bool = typer.Option(False, "--push", help="Build and push to the spec's containerImage "
                                                          "(docker, else gcloud builds submit).")) -> None:
    """Write the trainer image's pinned build context for Vertex AI; with --push, build and push it."""
    from trainer_image.context import write_context  # noqa: PLC0415
    from trainer_image.push import ImageBuildError, docker_commands, push_plan, run_plan, shell  # noqa: PLC0415
    from trainer_image.variants import variant_for  # noqa: PLC0415

    backend = Session.open(file).experiment.spec.backend
    if backend.type != "vertex":
        render.error("nasctl build makes the Vertex AI trainer image: the spec's backend must be of type vertex")
        raise typer.Exit(1)
    chosen = variant.value if variant else variant_for(backend)
    made = write_context(context, output or context / "build" / "trainer-image", chosen, base_image)
    render.console.print(f"wrote the {made.variant} build context {made.directory} (FROM {made.base_image})",
                         markup=False)
    if not push:
        render.console.print("build and push it with (or run nasctl build --push):", markup=False)
        render.console.print(shell(docker_commands(backend.container_image, made.directory)), markup=False)
        return
    try:
        plan = push_plan(backend.container_image, made.directory, backend.project)
        run_plan(plan, lambda command: render.console.print(f"$ {command}", markup=False, style="bold"),
                 lambda line: render.console.print(line, markup=False, highlight=False))
    except ImageBuildError as exc:
        render.error(str(exc))
        raise typer.Exit(1) from None
    render.console.print(f"pushed {backend.container_image} ({plan.tool})", markup=False)


@app.command()
@handles_errors
def status(file: Path = SpecOption, output: Output = OutputOption) -> None:
    """Where the experiment stands, from recorded state alone."""
    from nasctl.views import status_view  # noqa: PLC0415

    session = Session.open(file)
    view = status_view(session.experiment, session.state(), location=session.store.uri)
    render.print_json(view) if output is Output.json else render.render_status(view)


@app.command()
@handles_errors
def trials(file: Path = SpecOption, output: Output = OutputOption,
           stage: str = typer.Option(None, help="Only this stage's trials (search, train, ...)."),
           status: str = typer.Option(None, help="Only trials in this status (pending, running, succeeded, failed, "
                                                 "stopped)."),
           top: int = typer.Option(None, min=1,
                                   help="Only the best N by the experiment's ranking, best first.")) -> None:
    """Every recorded trial: architecture, status, reward, metrics."""
    from nasctl.views import trials_view  # noqa: PLC0415

    session = Session.open(file)
    views = trials_view(session.state(), session.experiment, stage=stage, status=status, top=top)
    render.print_json(views) if output is Output.json else render.render_trials(views)


@app.command()
@handles_errors
def report(file: Path = SpecOption,
           html: Path = typer.Option(None, "--html", help="Write one self-contained HTML page here instead of PNGs."),
           watch: float = typer.Option(None, "--watch", min=1, metavar="SECONDS",
                                       help="Rewrite the HTML page every SECONDS until interrupted (never locks)."),
           max_rewrites: int = typer.Option(None, "--max-rewrites", hidden=True, min=1,
                                            help="Stop --watch after this many rewrites (tests).")) -> None:
    """Write the search's plots (search curve; accuracy vs latency with the Pareto front) as PNG files,
    and list the proxy-task stages' plots (copied out of the bucket when the state is on GCS).
    With --html (or --watch): one HTML page of the whole experiment instead."""
    session = Session.open(file)
    if html is not None or watch is not None:
        from nasctl.html_report.watch import watch as rewrite_every, write_html  # noqa: PLC0415

        path = html if html is not None else session.report_dir() / "report.html"
        rewrite = functools.partial(write_html, session, path, watch)
        if watch is None:
            rewrite()
        else:
            render.console.print(f"rewriting {path} every {watch:g} s; Ctrl-C to stop", highlight=False)
            try:
                rewrite_every(rewrite, watch, max_rewrites)
            except KeyboardInterrupt:
                pass
        render.console.print(str(path), highlight=False)
        return
    from nasctl.report import stage_plots, write_report  # noqa: PLC0415
    from reconciler.graph import STAGE_NAMES  # noqa: PLC0415

    trials = list(session.state().trials.values())
    written = write_report(session.experiment, trials, session.report_dir())
    for path in written + stage_plots(session.store, STAGE_NAMES, session.report_dir()):
        render.console.print(str(path), highlight=False)


@app.command()
@handles_errors
def spaces(output: Output = OutputOption,
           sample: str = typer.Option(None, help="Print random architectures of this prebuilt space."),
           count: int = typer.Option(3, "--count", "-n", min=1, max=10_000, help="How many architectures to sample."),
           seed: int = typer.Option(0, help="Seed of the samples.")) -> None:
    """List the prebuilt search spaces with their sizes, or sample architectures of one."""
    from search_spaces import catalog  # noqa: PLC0415

    if sample is not None:
        render.print_json(catalog.sample(sample, count, seed))
        return
    rows = catalog.list_spaces()
    render.print_json(rows) if output is Output.json else render.render_spaces(rows)


@app.command("latency-worker")
@handles_errors
def latency_worker(file: Path = SpecOption,
                   batch_size: int = typer.Option(1, min=1, help="Images per timed forward pass."),
                   image_size: int = typer.Option(None, min=1, help="Input size; default: the size the model trained at."),
                   warmup: int = typer.Option(20, min=0, help="Untimed runs first."),
                   runs: int = typer.Option(50, min=2, help="Timed runs (median, p90 and CV are reported)."),
                   poll_seconds: float = typer.Option(5.0, min=0.1, help="How often to look for new trials."),
                   once: bool = typer.Option(False, "--once", help="Measure what is waiting, then exit.")) -> None:
    """Measure each trial's saved model on this machine (an on-prem latency worker); Ctrl-C stops."""
    from latency.measure import LatencyOptions  # noqa: PLC0415
    from latency.worker import run_worker  # noqa: PLC0415
    from backends.factory import local_work_dir  # noqa: PLC0415
    from trainers_jax.latency_calculator import run_calculator  # noqa: PLC0415
    from trainers_jax.saved_model import has_saved_model  # noqa: PLC0415

    session = Session.open(file)
    options = LatencyOptions(batch_size=batch_size, image_size=image_size, warmup=warmup, runs=runs)
    try:
        measured = run_worker(session.store, local_work_dir(session.experiment, session.store),
                              measure=run_calculator, ready=has_saved_model, options=options, poll_seconds=poll_seconds, once=once)
    except KeyboardInterrupt:
        return
    render.console.print(f"measured {len(measured)} trials: {', '.join(measured) or '-'}")


@app.command()
def schema() -> None:
    """Print the NASExperiment JSON Schema (for editors and CI linters)."""
    from specs.model import NASExperiment  # noqa: PLC0415

    sys.stdout.write(json.dumps(NASExperiment.model_json_schema(by_alias=True), indent=2) + "\n")


@app.command()
@handles_errors
def unlock(file: Path = SpecOption,
           force: bool = typer.Option(False, "--force", help="Required: remove the lock whoever holds it.")) -> None:
    """Remove a stale state lock left by a holder that is gone."""
    if not force:
        render.error("unlock removes another holder's lock; pass --force if that holder is gone")
        raise typer.Exit(1)
    removed = Session.open(file).store.force_unlock()
    render.console.print(f"removed lock held by {removed.describe()}" if removed else "no lock was held")


data_app = typer.Typer(no_args_is_help=True, help="Prepare training data for the prebuilt image classifier.")
app.add_typer(data_app, name="data")


@data_app.command("convert")
@handles_errors
def data_convert(source: str = typer.Argument(..., help="Image folder (one sub-folder per class; optional train/ and test/ or val/): local, /gcs/... or gs://..."),
                 destination: str = typer.Argument(..., help="Folder for the shards: local or gs://..."),
                 shard_mb: float = typer.Option(256, "--shard-mb", min=0.001, help="Approximate size of one shard."),
                 resize_shorter: int = typer.Option(None, "--resize-shorter", min=8,
                                                    help="Shrink each image so its shorter side is this many pixels (re-encoded as JPEG)."),
                 workers: int = typer.Option(8, "--workers", min=1, help="Images read (or resized) in parallel."),
                 progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
                 output: Output = OutputOption) -> None:
    """Convert an image folder into ArrayRecord shards (the trainer's `dataset:` can then point at them)."""
    from dataclasses import asdict  # noqa: PLC0415

    from nasctl.progress import count_progress  # noqa: PLC0415
    from trainers_jax.convert import ConvertOptions, convert, plan_conversion  # noqa: PLC0415

    plan = plan_conversion(source)
    with count_progress(f"converting {len(plan.classes)} classes", plan.images, enabled=progress) as bar:
        summary = convert(plan, destination, ConvertOptions(shard_mb, resize_shorter, workers),
                          on_images=lambda done: bar.advance(bar.task_ids[0], done))
    if output is Output.json:
        render.print_json(asdict(summary))
        return
    render.console.print(f"wrote {summary.images} images of {summary.classes} classes into {summary.shards} shards "
                         f"({summary.bytes_written / 2**20:.1f} MiB) at {summary.destination}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
