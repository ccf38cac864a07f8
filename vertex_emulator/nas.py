"""A NasJob with Vertex semantics: proposes architectures, runs trials as processes, stage 2, resume.

* ``search_space_spec`` is a PyGlove DNA spec, ``pg.search_space(space).to_json_str(...)``, read back
  with ``pg.from_json_str`` (google/vertex-ai-nas ``vertex_nas_cli.py`` sends it this way).
* Controller: the service's REINFORCEMENT_LEARNING controller is closed source; it is stood in for by
  ``pg.geno.Random`` seeded per search (so a search is reproducible). GRID_SEARCH enumerates the space
  in order with ``pg.geno.Sweeping`` and the search ends early when the grid is exhausted.
  ``MULTI_TRIAL_ALGORITHM_UNSPECIFIED`` means REINFORCEMENT_LEARNING (the field's documented default).
* A trial runs ``search_trial_job_spec`` like a CustomJob (see runner.py), with
  ``--nas_params_str=<json>`` appended to the args: ``json.dumps(dna.parameters(use_literal_values=True))``,
  what ``vertex_nas_cli.sample_nas_trial_param_str`` produces and ``cloud_nas_utils.
  parse_and_save_nas_params_str`` reads with ``pg.materialize``. Env: ``CLOUD_ML_TRIAL_ID`` ("1", "2",
  ...), ``CLOUD_ML_JOB_ID`` (the NasJob id), ``CLOUD_ML_HP_METRIC_TAG`` (the metric id),
  ``CLOUD_ML_HP_METRIC_FILE``, ``AIP_MODEL_DIR`` = ``<base_output_directory>/<trial id>/model/``.
* A trial reports its metric the way google/vertex-ai-nas ``metrics_reporter.NasMetricsReporter`` does:
  JSON lines appended to the file named by ``CLOUD_ML_HP_METRIC_FILE`` (its default
  ``/tmp/hypertune/output.metrics`` is never read by the emulator), each line
  ``{"<metric tag>": "<value>", "global_step": "<n>", "model_flops": "<f>", "key_0": k, "value_0": v, ...}``.
  The last line holding the metric tag is the trial's final measurement. Each replica of a multi-replica
  trial has a file of its own (on Vertex, each on its own machine); the chief's (``workerpool0-0``) is the
  trial's, what the other replicas write is never read. A trial that exits 0 without
  reporting the metric, or exits non-zero, or passes its trial timeout, is INFEASIBLE.
* At most ``max_parallel_trial_count`` search trials at once, ``max_trial_count`` in this job;
  each trial also needs its accelerator quota. A trial that meets a stockout (capacity.py) is INFEASIBLE
  at once, without running (how long the service retries first is not documented); with a FLEX_START
  trial job spec it stays REQUESTED, queued for machines up to its max wait.
  ``max_failed_trial_count``: that many INFEASIBLE search
  trials fail the NasJob; 0 lets the service choose, and the emulator chooses 20 % of
  ``max_trial_count`` (at least 1), the NAS guidance's "stop if more than 20 % of trials fail".
* Stage 2: each time another ``train_trial_spec.frequency`` search trials have finished, the top
  ``train_trial_spec.max_parallel_trial_count`` succeeded search trials not trained yet (by the metric's
  goal) are trained with ``train_trial_job_spec`` and the same ``--nas_params_str``; a train trial has
  its search trial's id and shares its ``nasTrialDetails`` entry.
* The whole NasJob stops at 14 days of job time (seed doc: "작업은 14일 후에 종료됩니다"): running trials
  are stopped (INFEASIBLE) and the job FAILS with DEADLINE_EXCEEDED, or, with the emulator's
  ``nas_limit_state`` CANCELLED, is cancelled (the end state is not documented; nasctl copes with both).
* ``resume_nas_job_id``: the new job takes the old one's search space, algorithm, metric and controller
  state (the proposals are replayed, so no architecture is proposed twice by GRID_SEARCH), lists the old
  job's finished trials among its own, numbers new trials after them, and runs up to its own
  ``max_trial_count`` new search trials (the docs do not say which; nasctl copes with either). A resumed
  job cannot be resumed again (engine.py refuses it: NAS client docs). With the emulator's
  ``nas_resume_numbering`` RESTART, the resumed job lists only its own trials and numbers them from 1 again
  (the docs do not say which the service does; nasctl copes with both).
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vertex_emulator.capacity import TURNED_AWAY, WAITING, MachineWait
from vertex_emulator.custom import timeout_seconds
from vertex_emulator.errors import invalid
from vertex_emulator.jobs import CANCELLED, CANCELLING, FAILED, PENDING, QUEUED, RUNNING, SUCCEEDED, Job
from vertex_emulator.quota import demand
from vertex_emulator.runner import JobRun, Outcome

NAS_JOB_LIMIT_SECONDS = 14 * 24 * 3600
REQUESTED, ACTIVE, TRIAL_SUCCEEDED, INFEASIBLE = "REQUESTED", "ACTIVE", "SUCCEEDED", "INFEASIBLE"
CONTINUE, RESTART = "continue", "restart"  # how a resumed job numbers its trials (``nas_resume_numbering``)
CHIEF = "workerpool0-0"  # the replica whose metric is the trial's


def metrics_file(work_dir: Path, replica: str) -> Path:
    """One replica's hypertune metrics file in a trial's work dir."""
    return work_dir / replica / "hypertune" / "output.metrics"


def _metrics_env(work_dir: Path, replica: str) -> dict[str, str]:
    path = metrics_file(work_dir, replica)
    path.parent.mkdir(parents=True, exist_ok=True)
    return {"CLOUD_ML_HP_METRIC_FILE": str(path)}


def read_measurement(path: Path, metric_id: str) -> tuple[float, int, dict[str, float]] | None:
    """(value, step, other metrics) from the last metrics-file line holding `metric_id`, if any."""
    if not path.exists():
        return None
    final = None
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and metric_id in record:
            final = record
    if final is None:
        return None
    others = {str(final[f"key_{i}"]): float(final[f"value_{i}"]) for i in range(5) if f"key_{i}" in final}
    if float(final.get("model_flops", 0) or 0):
        others["model_flops"] = float(final["model_flops"])
    return float(final[metric_id]), int(float(final.get("global_step", 0) or 0)), others


@dataclass
class Trial:
    id: str
    stage: str  # "search" | "train"
    parameters: str  # the nas_params_str JSON
    state: str = REQUESTED
    run: JobRun | None = None
    start: float | None = None
    end: float | None = None
    value: float | None = None  # the search metric, once SUCCEEDED
    step: int = 0
    metrics: dict[str, float] | None = None  # the final measurement: the search metric first
    inherited: bool = False
    machines: MachineWait | None = None  # its wait for machines, from its first launch attempt

    def to_proto(self, message: Any) -> None:
        """Fill a raw NasTrial message."""
        message.id = self.id
        message.state = message.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_name[self.state].number
        if self.start is not None:
            message.start_time.FromNanoseconds(int(self.start * 1e9))
        if self.end is not None:
            message.end_time.FromNanoseconds(int(self.end * 1e9))
        if self.value is not None:
            measurement = message.final_measurement
            measurement.step_count = self.step
            measurement.elapsed_duration.FromNanoseconds(int(((self.end or 0) - (self.start or 0)) * 1e9))
            for metric_id, value in (self.metrics or {}).items():
                metric = measurement.metrics.add()
                metric.metric_id, metric.value = metric_id, value


class NasJobDriver:
    """Moves one NasJob and its trials forward on every engine tick."""

    def __init__(self, job: Job, ctx: Any, previous: NasJobDriver | None = None):
        import pyglove as pg  # noqa: PLC0415 - heavy

        self.job, self.ctx = job, ctx
        spec = job.resource.nas_job_spec
        algo = spec.multi_trial_algorithm_spec
        self.search_spec = algo.search_trial_spec
        self.train_spec = algo.train_trial_spec if algo.HasField("train_trial_spec") else None
        if previous is not None:
            self.space, self.algorithm = previous.space, previous.algorithm
            self.metric_id, self.minimize, self.seed = previous.metric_id, previous.minimize, previous.seed
            self.proposed = previous.proposed
            self.trials = [Trial(**{**t.__dict__, "run": None, "inherited": True}) for t in previous.trials
                           if ctx.nas_resume_numbering == CONTINUE]
        else:
            try:
                self.space = pg.from_json_str(spec.search_space_spec)
            except Exception as error:  # noqa: BLE001 - any parse failure is the client's
                raise invalid(f"nas_job.nas_job_spec.search_space_spec is not a PyGlove DNA spec: {error}") from None
            if not isinstance(self.space, pg.geno.DNASpec):
                raise invalid("nas_job.nas_job_spec.search_space_spec must be a PyGlove DNA spec "
                              "(pg.search_space(space).to_json_str()).")
            algorithm_enum = algo.DESCRIPTOR.fields_by_name["multi_trial_algorithm"].enum_type
            self.algorithm = algorithm_enum.values_by_number[algo.multi_trial_algorithm].name
            self.metric_id = algo.metric.metric_id
            self.minimize = algo.metric.goal == 2  # GoalType.MINIMIZE
            self.seed = ctx.seed ^ zlib.crc32(job.id.encode())
            self.proposed = 0
            self.trials = []
        self.generator = self._generator()
        for _ in range(self.proposed):
            self.generator.propose()
        self.exhausted = False
        self.rounds_done = 0
        limit = self.search_spec.max_failed_trial_count
        self.failure_limit = limit or max(1, -(-self.search_spec.max_trial_count * 20 // 100))

    def _generator(self) -> Any:
        import pyglove as pg  # noqa: PLC0415

        generator = pg.geno.Sweeping() if self.algorithm == "GRID_SEARCH" else pg.geno.Random(seed=self.seed)
        generator.setup(self.space)
        return generator

    # -- what the server reads -----------------------------------------------------------------------
    def fill_output(self) -> None:
        output = self.job.resource.nas_job_output.multi_trial_job_output
        del output.search_trials[:]
        del output.train_trials[:]
        for trial in self.trials:
            trial.to_proto((output.search_trials if trial.stage == "search" else output.train_trials).add())

    def details(self, detail_class: Any) -> list[Any]:
        """NasTrialDetail messages, one per search trial, in trial-id order."""
        train = {t.id: t for t in self.trials if t.stage == "train"}
        details = []
        for trial in sorted((t for t in self.trials if t.stage == "search"), key=lambda t: int(t.id)):
            detail = detail_class(name=f"{self.job.name}/nasTrialDetails/{trial.id}", parameters=trial.parameters)
            trial.to_proto(detail.search_trial)
            if trial.id in train:
                train[trial.id].to_proto(detail.train_trial)
            details.append(detail)
        return details

    # -- the state machine ----------------------------------------------------------------------------
    def step(self, now: float) -> None:
        state = self.job.state
        if state == QUEUED:
            self.job.move(PENDING, now)
        elif state == PENDING:
            self.job.move(RUNNING, now)
        elif state == CANCELLING:
            self._stop_all(now)
            self.job.move(CANCELLED, now, ("CANCELLED", "CANCELLED"))
        elif state == RUNNING:
            self._run(now)

    def _run(self, now: float) -> None:
        if now - (self.job.start_seconds or now) >= NAS_JOB_LIMIT_SECONDS:
            self._stop_all(now)
            if self.ctx.nas_limit_state == CANCELLED:
                self.job.move(CANCELLING, now)
                self.job.move(CANCELLED, now, ("CANCELLED", "CANCELLED"))
            else:
                self.job.move(FAILED, now, ("DEADLINE_EXCEEDED", "The NasJob reached the maximum duration of 14 days. "
                                            "Continue the search with a new NasJob whose resume_nas_job_id is this job."))
            return
        for trial in self.trials:
            if trial.state == ACTIVE:
                self._poll(trial, now)
        own_failed = sum(1 for t in self.trials if t.stage == "search" and t.state == INFEASIBLE and not t.inherited)
        if own_failed >= self.failure_limit:
            self._stop_all(now)
            self.job.move(FAILED, now, ("FAILED_PRECONDITION", (
                f"{own_failed} search trials failed, reaching the limit of {self.failure_limit} "
                "(max_failed_trial_count).")))
            return
        self._schedule_stage2()
        self._propose()
        for trial in self.trials:
            if trial.state == REQUESTED:
                self._launch(trial, now)
        if self._search_done() and all(t.state in (TRIAL_SUCCEEDED, INFEASIBLE) for t in self.trials):
            self.job.move(SUCCEEDED, now)

    def _own_search(self) -> list[Trial]:
        return [t for t in self.trials if t.stage == "search" and not t.inherited]

    def _search_done(self) -> bool:
        return self.exhausted or len(self._own_search()) >= self.search_spec.max_trial_count

    def _propose(self) -> None:
        busy = sum(1 for t in self._own_search() if t.state in (REQUESTED, ACTIVE))
        while busy < self.search_spec.max_parallel_trial_count and not self._search_done():
            try:
                dna = self.generator.propose()
            except StopIteration:
                self.exhausted = True
                return
            self.proposed += 1
            dna.use_spec(self.space)
            next_id = max((int(t.id) for t in self.trials), default=0) + 1
            self.trials.append(Trial(str(next_id), "search", json.dumps(dna.parameters(use_literal_values=True))))
            busy += 1

    def _schedule_stage2(self) -> None:
        if self.train_spec is None:
            return
        finished = [t for t in self._own_search() if t.state in (TRIAL_SUCCEEDED, INFEASIBLE)]
        trained = {t.id for t in self.trials if t.stage == "train"}
        while self.rounds_done < len(finished) // self.train_spec.frequency:
            self.rounds_done += 1
            candidates = [t for t in self.trials if t.stage == "search" and t.state == TRIAL_SUCCEEDED
                          and t.id not in trained]
            candidates.sort(key=lambda t: t.value if self.minimize else -(t.value or 0.0))
            for trial in candidates[:self.train_spec.max_parallel_trial_count]:
                self.trials.append(Trial(trial.id, "train", trial.parameters))
                trained.add(trial.id)

    def _job_spec(self, trial: Trial) -> Any:
        return self.search_spec.search_trial_job_spec if trial.stage == "search" else self.train_spec.train_trial_job_spec

    def _launch(self, trial: Trial, now: float) -> None:
        spec = self._job_spec(trial)
        if trial.stage == "train":
            active = sum(1 for t in self.trials if t.stage == "train" and t.state == ACTIVE)
            if active >= self.train_spec.max_parallel_trial_count:
                return
        if trial.machines is None:
            trial.machines = MachineWait(self.job.region, spec, gives_up_at_once=True)
        machines = trial.machines.ask(self.ctx.capacity, now)
        if machines == TURNED_AWAY:  # a stockout: the trial never runs
            trial.state, trial.start, trial.end = INFEASIBLE, now, now
            return
        if machines == WAITING:  # FLEX_START: queued for machines
            return
        if not self.ctx.quota.try_acquire(self._holder(trial), self.job.region, demand(spec)):
            return
        work_dir = self.ctx.work_dir / self.job.id / trial.stage / trial.id
        prefix = spec.base_output_directory.output_uri_prefix
        trial.run = JobRun(
            spec, job_id=self.job.id, work_dir=work_dir, output_uri=f"{prefix.rstrip('/')}/{trial.id}" if prefix else None,
            env={**self.ctx.env, "CLOUD_ML_TRIAL_ID": trial.id, "CLOUD_ML_HP_METRIC_TAG": self.metric_id},
            replica_env=lambda replica: _metrics_env(work_dir, replica),
            extra_args=[f"--nas_params_str={trial.parameters}"], image_entrypoints=self.ctx.image_entrypoints)
        trial.state, trial.start = ACTIVE, now
        failure = trial.run.start()
        if failure is not None:
            self._finish(trial, now, failure)

    def _holder(self, trial: Trial) -> str:
        return f"{self.job.name}/{trial.stage}/{trial.id}"

    def _poll(self, trial: Trial, now: float) -> None:
        assert trial.run is not None and trial.start is not None
        if now - trial.start >= timeout_seconds(self._job_spec(trial)):
            trial.run.stop()
            self._finish(trial, now, Outcome(False, "trial timeout"))
            return
        outcome = trial.run.poll()
        if outcome is not None:
            self._finish(trial, now, outcome)

    def _finish(self, trial: Trial, now: float, outcome: Outcome) -> None:
        assert trial.run is not None
        measurement = read_measurement(metrics_file(trial.run.work_dir, CHIEF), self.metric_id)
        if outcome.succeeded and measurement is not None:
            trial.state = TRIAL_SUCCEEDED
            trial.value, trial.step, others = measurement
            trial.metrics = {self.metric_id: trial.value, **others}
        else:
            trial.state = INFEASIBLE
        trial.end = now
        trial.run.stop()
        self.ctx.quota.release(self._holder(trial))

    def _stop_all(self, now: float) -> None:
        for trial in self.trials:
            if trial.state in (REQUESTED, ACTIVE):
                if trial.run is not None:
                    trial.run.stop()
                self.ctx.quota.release(self._holder(trial))
                trial.state, trial.end = INFEASIBLE, now

    def stop_processes(self) -> None:
        """Kill every trial's processes (the emulator is shutting down)."""
        for trial in self.trials:
            if trial.run is not None:
                trial.run.stop()

    def preempt(self, trial_id: str, pool: int = 0, index: int = 0, stage: str = "search") -> None:
        for trial in self.trials:
            if (trial.id, trial.stage) == (trial_id, stage) and trial.run is not None and trial.state == ACTIVE:
                trial.run.preempt(pool, index)
                return
        raise KeyError(f"no active {stage} trial {trial_id} in {self.job.name}")
