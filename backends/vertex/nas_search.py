"""Stage 1 with Vertex's own controller: one NasJob, adopted by label, resumed once past the 14-day limit.

``apply`` is the controller here too: each pass calls :meth:`VertexNasSearch.reconcile`, which finds
the experiment's NasJobs, creates the first (or a resumed one with ``resume_nas_job_id`` when the
previous job ended at Vertex's 14-day limit, or was cancelled by ``nasctl delete`` and then undeleted)
and maps the jobs' trials to nasctl trial statuses.

Vertex resumes a search once: a resumed job cannot be resumed again (NAS client docs: "The previous
search job should not itself be a resume job"), so a search runs 28 days at most and ends with the
trials it has when its resumed job ends the same way. A resumed job's ``maxTrialCount`` may count only
its own trials (the docs do not say; the emulator reads it so), so once the search's finished trials
reach ``maxTrials`` while that job runs more, nasctl ends it itself. Trials cut short by the 14-day limit, the delete or
that end are stopped, not failed: they do not count against ``maxFailedTrials``.

Which jobs belong to this experiment: those labelled with its identity (``nasctl-id``, a hash of
stateUri and name: a same-named experiment elsewhere is another one) that its state recorded, plus
the one whose creation the state recorded as intent (``nasctl-key``, fresh for each new job). A job
from an earlier life of the state (state deleted, same spec applied again) is never adopted: its key
is not in the new state. The intent is written before the create, and a create whose answer is lost
is found again by that key, so a crash or a retried call never starts a second NasJob.

A resumed job's trials: the emulator (and, most likely, the service) lists the earlier job's trials among
its own and numbers new ones after them; but if the service numbered them from 1 again, their ids would
name the earlier job's trials. Each NasJob therefore writes its trials' folders in a job dir of its own,
and a job whose trial ids name earlier trials of other architectures has its trials numbered after every
earlier one (:func:`merged_trials`), so nothing recorded is overwritten either way.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from adaptors import gcp
from backends.vertex.calls import CallPolicy, cancel_job
from backends.vertex.custom_jobs import LIVE_JOB_STATES, timestamp_seconds
from backends.vertex.requests import (
    make_job_client, nas_dir_uri, nas_experiment_uri, nas_job, nas_trials_dir_uri, parent,
)
from backends.vertex.labels import IDENTITY_LABEL, KEY_LABEL, experiment_identity, job_key, job_labels, label_filter
from state.records import (
    FAILED, PENDING, REASON_DELETED, REASON_JOB_ENDED, REASON_JOB_TIME_LIMIT, REASON_MAX_TRIALS, RUNNING, SEARCH,
    STOPPED, SUCCEEDED, TRAIN, TrialRecord,
)
from specs.model import VERTEX_ALGORITHMS, NASExperiment, VertexBackendSpec
from trial.nas_entry import trial_folder

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import JobServiceClient, NasJob, NasTrial
    from google.cloud.storage import Client

    from search_spaces.space import SearchSpace

NAS_JOB_LIMIT_SECONDS = 14 * 24 * 3600  # Vertex stops a NasJob after 14 days (seed doc)
# A NasJob that ran this long before ending hit the 14-day limit (not a real failure): resume it.
LIMIT_REACHED_SECONDS = NAS_JOB_LIMIT_SECONDS - 12 * 3600
# A trial that failed this close to the end of a job stopped by the 14-day limit was cut short by it.
CUT_SHORT_SECONDS = 60.0

# Vertex NasTrial states → nasctl trial statuses.
NAS_TRIAL_STATUS = {"REQUESTED": PENDING, "ACTIVE": RUNNING, "STOPPING": RUNNING,
                    "SUCCEEDED": SUCCEEDED, "INFEASIBLE": FAILED}


@dataclass(frozen=True)
class NasTrialView:
    id: str  # e.g. "search-0003" / "train-0001", from Vertex's trial id
    stage: str
    status: str
    reward: float | None
    parameters: str  # the architecture Vertex proposed, as Vertex serialises it
    started_at: float | None
    finished_at: float | None
    reason: str | None = None
    job: str = ""  # the NasJob it was listed from
    folder: str = ""  # where it wrote its protocol files (trial.json, result.json): gs://.../<stage>-<id>


@dataclass
class NasSearchStatus:
    job: str
    state: str
    jobs: list[str] = field(default_factory=list)  # every job of the search, oldest first
    created: bool = False
    resumed_from: str | None = None
    trials: list[NasTrialView] = field(default_factory=list)
    cannot_resume: bool = False  # the last job ended at the limit or by a delete, and was itself a resume
    deleted: bool = False  # the last job was cancelled by `nasctl delete`
    completed: bool = False  # nasctl ended the last job: the search reached maxTrials
    ends_by: float | None = None  # when the live job reaches the 14-day limit (epoch seconds)
    resumes_left: int = 1  # after the live job: 1 for a first job, 0 for a resume (Vertex resumes once)
    surplus: list[str] = field(default_factory=list)  # search trials past maxTrials this pass stops, ending the job

    @property
    def finished(self) -> bool:
        return self.state == "JOB_STATE_SUCCEEDED" or self.completed

    def finished_search_trials(self) -> int:
        """Search trials with a result or a failure of their own (not those stopped from outside)."""
        return sum(1 for view in self.trials if view.stage == SEARCH and view.status in (SUCCEEDED, FAILED))


def _metric(trial: "NasTrial", metric: str) -> float | None:
    for item in trial.final_measurement.metrics:
        if item.metric_id == metric:
            return float(item.value)
    return None


def _trial_view(stage: str, trial: "NasTrial", parameters: str, metric: str, job: str, job_dir: str) -> NasTrialView:
    state = trial.state.name
    status = NAS_TRIAL_STATUS.get(state, PENDING)
    folder = trial_folder(stage, str(trial.id))
    return NasTrialView(
        id=folder, stage=stage, status=status, reward=_metric(trial, metric) if status == SUCCEEDED else None,
        parameters=parameters, started_at=timestamp_seconds(trial.start_time),
        finished_at=timestamp_seconds(trial.end_time),
        reason="infeasible" if state == "INFEASIBLE" else None, job=job, folder=f"{job_dir}/{folder}",
    )


def _number(trial_id: str) -> int:
    """The number of a trial id such as ``search-0012`` (Vertex numbers trials from 1); 0 if it has none."""
    suffix = trial_id.rsplit("-", 1)[1]
    return int(suffix) if suffix.isdigit() else 0


def merged_trials(jobs_trials: list[list[NasTrialView]]) -> list[NasTrialView]:
    """The search's trials from each of its jobs' listings (oldest job first), each under one id.

    A resumed job's listing of an earlier trial (same id, same architecture) replaces the earlier copy
    but keeps the folder it ran in. A job whose trial ids name earlier trials of other architectures
    numbers its own from 1 again: all its trials (a train trial shares its search trial's number) are
    numbered after every earlier one, so no earlier record is overwritten. Only a job whose every trial
    repeats the architecture under its id cannot be told from a listing of the earlier ones (a chance of
    about one in the space's size per trial); once one differs, the job's trials get their own ids.
    """
    views: dict[str, NasTrialView] = {}
    for job_trials in jobs_trials:
        renumbers = any(view.id in views and views[view.id].parameters != view.parameters for view in job_trials)
        offset = max(map(_number, views), default=0) if renumbers else 0
        for view in job_trials:
            if offset:
                view = replace(view, id=f"{view.stage}-{_number(view.id) + offset:04d}")
            earlier = views.get(view.id)
            views[view.id] = view if earlier is None else replace(view, folder=earlier.folder)
    return sorted(views.values(), key=lambda v: (v.stage != SEARCH, v.id))


@dataclass(frozen=True)
class SearchPreview:
    """What the next pass of the search finds (`nasctl diff`)."""

    status: NasSearchStatus | None  # None: the pass creates a NasJob
    resumes: str | None = None  # the NasJob that one resumes (past the 14-day limit or a delete)


@dataclass
class NasJobsRecord:
    """What the state records of the search's NasJobs: their names, oldest first, a pending intent, and
    what `nasctl delete` cancelled (recorded before it cancels)."""

    jobs: list[str] = field(default_factory=list)
    intent: str | None = None  # the nasctl-key of a NasJob being created
    deleted_jobs: list[str] = field(default_factory=list)  # cancelled by the delete: resumed after --undelete
    deleted_trials: list[str] = field(default_factory=list)  # unfinished when the delete cancelled their job
    completed_jobs: list[str] = field(default_factory=list)  # cancelled by nasctl: the search reached maxTrials
    surplus_trials: list[str] = field(default_factory=list)  # search trials past maxTrials that this cut short
    stopped_jobs: list[str] = field(default_factory=list)  # cancelled by nasctl: the experiment failed

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> NasJobsRecord:
        return cls(list(summary.get("jobs", [])), summary.get("intent"), list(summary.get("deletedJobs", [])),
                   list(summary.get("deletedTrials", [])), list(summary.get("completedJobs", [])),
                   list(summary.get("surplusTrials", [])), list(summary.get("stoppedJobs", [])))

    def kept_summary(self) -> dict[str, list[str]]:
        """The part of the stage summary kept from pass to pass: what a delete cancelled, what nasctl ended."""
        kept = {}
        if self.deleted_jobs:
            kept |= {"deletedJobs": self.deleted_jobs, "deletedTrials": self.deleted_trials}
        if self.completed_jobs:
            kept |= {"completedJobs": self.completed_jobs, "surplusTrials": self.surplus_trials}
        if self.stopped_jobs:
            kept |= {"stoppedJobs": self.stopped_jobs}
        return kept

    def cancelled_by_nasctl(self, job: str) -> bool:
        return job in self.deleted_jobs or job in self.completed_jobs or job in self.stopped_jobs


class VertexNasSearch:
    def __init__(self, experiment: NASExperiment, client: "JobServiceClient | None" = None,
                 storage_client: "Client | None" = None):
        backend = experiment.spec.backend
        if not isinstance(backend, VertexBackendSpec) or experiment.spec.search.algorithm not in VERTEX_ALGORITHMS:
            raise ValueError(f"a Vertex NasJob needs backend vertex and an algorithm in {VERTEX_ALGORITHMS}")
        self.experiment = experiment
        self.backend = backend
        self.name = experiment.metadata.name
        self.identity = experiment_identity(experiment.spec.state_uri, self.name)
        self.calls = CallPolicy.from_spec(backend.retry)
        self._given_client = client
        self._storage = storage_client
        # The trials of a NasJob that has ended no longer change: listed once per process, not every pass
        # (a finished 1,100-trial first job is 11 list pages on every pass of its resumed job's 14 days).
        self._ended_job_trials: dict[str, list[NasTrialView]] = {}

    @cached_property
    def _client(self) -> "JobServiceClient":
        return self._given_client or make_job_client(self.backend)

    def labelled_jobs(self) -> list["NasJob"]:
        """Every NasJob labelled with this experiment's identity, oldest first (this state's or not)."""
        request = {"parent": parent(self.backend), "filter": label_filter({IDENTITY_LABEL: self.identity})}
        jobs = self.calls.run(lambda timeout: list(self._client.list_nas_jobs(request=request, timeout=timeout)))
        return sorted(jobs, key=lambda job: (timestamp_seconds(job.create_time) or 0.0, job.name))

    def jobs(self, record: NasJobsRecord) -> list["NasJob"]:
        """This state's NasJobs: recorded ones and the one its intent names, oldest first."""
        return [job for job in self.labelled_jobs()
                if job.name in record.jobs or (record.intent and job.labels.get(KEY_LABEL) == record.intent)]

    def live_resumed_job(self, record: NasJobsRecord) -> list[str]:
        """The search's live job when it is itself a resume (what cannot be resumed once cancelled)."""
        return [job.name for job in self.jobs(record)[-1:] if job.state.name in LIVE_JOB_STATES and _is_resume(job)]

    def _request(self, search_space_json: str, run: str, key: str, resume_from: str | None) -> "NasJob":
        search, train = self.experiment.spec.search, self.experiment.spec.train
        return nas_job(
            self.backend, self.name, run, algorithm=search.algorithm, search_space_json=search_space_json,
            metric=self.experiment.spec.reward.metric, max_trials=search.max_trials,
            parallel_trials=search.parallel_trials, max_failed_trials=search.failure_budget,
            labels=job_labels(self.name, self.identity, key, SEARCH),
            train_trials=train.top_n if train else None, train_frequency=train.frequency if train else None,
            search_timeout_seconds=search.timeout_seconds, train_timeout_seconds=train.timeout_seconds if train else None,
            resume_nas_job_id=resume_from,
        )

    def _create(self, search_space_json: str, jobs: list["NasJob"], record: NasJobsRecord,
                save_record: Callable[[NasJobsRecord], None]) -> tuple[NasSearchStatus, "NasJob"]:
        resume_from = jobs[-1].name.rsplit("/", 1)[1] if jobs else None
        run = f"search-{uuid.uuid4().hex[:12]}"  # names the job's key and its job dir
        key = job_key(self.name, run)
        save_record(replace(record, jobs=[job.name for job in jobs], intent=key))  # intent before action
        self._write_experiment()
        request = self._request(search_space_json, run, key, resume_from)

        def found() -> "NasJob | None":
            return next((job for job in self.labelled_jobs() if job.labels.get(KEY_LABEL) == key), None)

        created = self.calls.create(lambda timeout: self._client.create_nas_job(
            parent=parent(self.backend), nas_job=request, timeout=timeout), found)
        status = NasSearchStatus(created.name, created.state.name, [j.name for j in jobs] + [created.name],
                                 created=True, resumed_from=resume_from, resumes_left=0 if resume_from else 1)
        return status, created

    def reconcile(self, search_space_json: str, record: NasJobsRecord,
                  save_record: Callable[[NasJobsRecord], None]) -> NasSearchStatus:
        """Adopt, create or resume the search's NasJob; then read its trials, and end a resumed job once
        the search has its maxTrials. `save_record` saves the state's record of the jobs before a NasJob
        is created or ended."""
        jobs = self.jobs(record)
        status = self._latest(jobs, record)
        if status is None:
            status, created = self._create(search_space_json, jobs, record, save_record)
            jobs = [*jobs, created]
        status.trials = self._views(jobs, record)
        if not status.created:
            self._end_at_max_trials(jobs[-1], status, record, save_record)
        return status

    def peek(self, record: NasJobsRecord) -> SearchPreview:
        """What the next :meth:`reconcile` finds, from reads alone (`nasctl diff`): the search's status, with
        the trials it would stop past maxTrials already stopped; or the NasJob it would create."""
        jobs = self.jobs(record)
        status = self._latest(jobs, record)
        if status is None:
            return SearchPreview(None, jobs[-1].name if jobs else None)
        status.trials = self._views(jobs, record)
        _end(status, self._surplus(jobs[-1], status))
        return SearchPreview(status)

    def _latest(self, jobs: list["NasJob"], record: NasJobsRecord) -> NasSearchStatus | None:
        """The search's status as its latest NasJob leaves it (trials not read yet); None when a NasJob is to
        be created: the first, or a resume of one ended by the 14-day limit or a delete."""
        latest = jobs[-1] if jobs else None
        if latest is None:
            return None
        deleted = self._cancelled_by_delete(latest, record)
        ended = deleted or self._hit_time_limit(latest, record)
        if ended and not _is_resume(latest):
            return None
        started = timestamp_seconds(latest.start_time)
        return NasSearchStatus(latest.name, latest.state.name, [j.name for j in jobs], cannot_resume=ended,
                               deleted=deleted, completed=latest.name in record.completed_jobs,
                               ends_by=None if started is None else started + NAS_JOB_LIMIT_SECONDS,
                               resumes_left=0 if _is_resume(latest) else 1)

    def _views(self, jobs: list["NasJob"], record: NasJobsRecord) -> list[NasTrialView]:
        """The search's trials; a failure is a stop when the delete, the 14-day limit or nasctl ended it, and a
        trial its job's end left unfinished is stopped."""
        limit_jobs = {job.name: timestamp_seconds(job.end_time) or 0.0 for job in jobs
                      if self._hit_time_limit(job, record)}
        ended = {job.name for job in jobs if job.state.name not in LIVE_JOB_STATES}
        return [replace(view, status=STOPPED, reason=reason)
                if (reason := stop_reason(view, record, ended, limit_jobs)) else view
                for view in self.trials(jobs, ended)]

    def _end_at_max_trials(self, latest: "NasJob", status: NasSearchStatus, record: NasJobsRecord,
                           save_record: Callable[[NasJobsRecord], None]) -> None:
        """Cancel a live resumed job that runs search trials past maxTrials: those trials are recorded
        first, as stopped, not failed."""
        surplus = self._surplus(latest, status)
        if not surplus:
            return
        record.jobs, record.intent = list(status.jobs), None
        record.completed_jobs = sorted(set(record.completed_jobs) | {latest.name})
        record.surplus_trials = sorted(set(record.surplus_trials) | set(surplus))
        save_record(record)
        self._cancel([latest])
        _end(status, surplus)

    def _surplus(self, latest: "NasJob", status: NasSearchStatus) -> list[str]:
        """The unfinished search trials of a live resumed job once the search's finished trials reached
        maxTrials while stage 2 is not training (the top models being trained finish first). A job with
        nothing past the budget is left to end by itself, with its last stage-2 trainings."""
        if not _is_resume(latest) or latest.state.name not in LIVE_JOB_STATES:
            return []
        if status.finished_search_trials() < self.experiment.spec.search.max_trials:
            return []
        if any(view.stage == TRAIN and view.status in (PENDING, RUNNING) for view in status.trials):
            return []
        return [view.id for view in status.trials if view.stage == SEARCH and view.status in (PENDING, RUNNING)]

    def failure(self, view: NasTrialView) -> tuple[str, str]:
        """Why a failed trial failed, from the result.json it wrote (timeout, nan, oom, error and the message):
        Vertex only says INFEASIBLE. A trial that wrote none keeps that."""
        from trial.dirs import GcsTrialDir  # noqa: PLC0415
        from trial.protocol import failure_reason  # noqa: PLC0415

        result = GcsTrialDir(view.folder, self._storage).read_result()
        return (view.reason or "infeasible", "") if result is None else (failure_reason(result.status), result.message)

    def _write_experiment(self) -> None:
        """The spec the job's trials read (see trial.nas_entry); written before the job exists."""
        bucket, path = gcp.parse_gs_uri(nas_experiment_uri(self.backend, self.name))
        client = self._storage or gcp.storage_client()
        client.bucket(bucket).blob(path).upload_from_string(self.experiment.model_dump_json(by_alias=True),
                                                             content_type="application/json")

    @staticmethod
    def _cancelled_by_delete(job: "NasJob", record: NasJobsRecord) -> bool:
        """Cancelled by `nasctl delete` (undeleted since: a pass runs): resumed; any other cancel fails the search."""
        return job.state.name == "JOB_STATE_CANCELLED" and job.name in record.deleted_jobs

    @staticmethod
    def _hit_time_limit(job: "NasJob", record: NasJobsRecord) -> bool:
        """Ended by Vertex's 14-day limit: failed or cancelled (which one the service uses is not documented;
        Google's NAS client says a job past its timeout "gets cancelled") after running that long, and not
        cancelled by nasctl."""
        if job.state.name not in ("JOB_STATE_FAILED", "JOB_STATE_EXPIRED", "JOB_STATE_CANCELLED"):
            return False
        if record.cancelled_by_nasctl(job.name):
            return False
        started, ended = timestamp_seconds(job.start_time), timestamp_seconds(job.end_time)
        return started is not None and ended is not None and ended - started >= LIMIT_REACHED_SECONDS

    def trials(self, jobs: list["NasJob"], ended: Collection[str] = ()) -> list[NasTrialView]:
        """Every search and train trial of the search's `jobs` (oldest first), merged by :func:`merged_trials`.
        The trials of the `ended` jobs (seen in a final state before their trials are read) are kept."""
        listings = []
        for job in jobs:
            job_trials = self._ended_job_trials.get(job.name)
            if job_trials is None:
                job_trials = self._job_trials(job)
                if job.name in ended:
                    self._ended_job_trials[job.name] = job_trials
            listings.append(job_trials)
        return merged_trials(listings)

    def _job_trials(self, job: "NasJob") -> list[NasTrialView]:
        metric = self.experiment.spec.reward.metric
        # every job nasctl created names its dir in its spec (those from before job dirs: the shared nas/ dir);
        # the fallback is for a labelled job that does not
        job_dir = nas_trials_dir_uri(job) or nas_dir_uri(self.backend, self.name)
        details = self.calls.run(lambda timeout: list(self._client.list_nas_trial_details(parent=job.name,
                                                                                          timeout=timeout)))
        return [_trial_view(stage, trial, detail.parameters, metric, job.name, job_dir)
                for detail in details
                for stage, trial in ((SEARCH, detail.search_trial), (TRAIN, detail.train_trial)) if trial.id]

    def stop(self, record: NasJobsRecord) -> list[str]:
        """Cancel this state's live NasJobs; returns what was cancelled."""
        return self._cancel(self.jobs(record))

    def stop_all(self, record_deleting: Callable[[list[str], list[str]], None]) -> list[str]:
        """Cancel every live NasJob labelled with this experiment's identity, recorded or not (`nasctl delete`).
        `record_deleting(jobs, unfinished trials)` saves what is cancelled first, for `apply --undelete`."""
        labelled = self.labelled_jobs()
        live = [job for job in labelled if job.state.name in LIVE_JOB_STATES]
        if live:
            unfinished = [view.id for job in live for view in self.trials(_lineage(job, labelled))
                          if view.job == job.name and view.status in (PENDING, RUNNING)]
            record_deleting([job.name for job in live], unfinished)
        return self._cancel(live)

    def _cancel(self, jobs: list["NasJob"]) -> list[str]:
        cancelled = [job.name for job in jobs if job.state.name in LIVE_JOB_STATES]
        for name in cancelled:
            cancel_job(self.calls, self._client.cancel_nas_job, name)
        return cancelled


def stop_reason(view: NasTrialView, record: NasJobsRecord, ended: Collection[str],
                limit_ends: Mapping[str, float]) -> str | None:
    """Why a trial that Vertex reports failed, or still running in a job that has ended, was stopped from
    outside (not a failure of its own): `nasctl delete`, maxTrials, or its job's end (`limit_ends`: when each
    job ended by the 14-day limit did). Vertex may report a trial its job's end cut short as INFEASIBLE or
    leave it ACTIVE (not documented); either way it is stopped. None: the trial's own outcome stands."""
    unfinished = view.status in (PENDING, RUNNING) and view.job in ended
    if view.status != FAILED and not unfinished:
        return None
    if view.id in record.deleted_trials:
        return REASON_DELETED
    if view.id in record.surplus_trials:
        return REASON_MAX_TRIALS
    if unfinished:
        return REASON_JOB_TIME_LIMIT if view.job in limit_ends else REASON_JOB_ENDED
    if view.finished_at is not None and any(abs(view.finished_at - end) <= CUT_SHORT_SECONDS
                                            for end in limit_ends.values()):
        return REASON_JOB_TIME_LIMIT
    return None


def _is_resume(job: "NasJob") -> bool:
    return bool(job.nas_job_spec.resume_nas_job_id)


def _lineage(job: "NasJob", jobs: list["NasJob"]) -> list["NasJob"]:
    """`job` and, when it is a resume, the job it resumes (Vertex resumes a search once), oldest first:
    the jobs whose trials give `job`'s trials their ids."""
    resumed = job.nas_job_spec.resume_nas_job_id
    return [*(earlier for earlier in jobs if resumed and earlier.name.rsplit("/", 1)[1] == resumed), job]


def _end(status: NasSearchStatus, surplus: list[str]) -> None:
    """The search as it stands once its job is ended at maxTrials: complete, the surplus trials stopped."""
    if not surplus:
        return
    status.completed, status.surplus = True, surplus
    status.trials = [replace(view, status=STOPPED, reason=REASON_MAX_TRIALS) if view.id in surplus else view
                     for view in status.trials]


def trial_records(status: NasSearchStatus, space: "SearchSpace | None",
                  recorded: Mapping[str, TrialRecord] | None = None,
                  explain: Callable[[NasTrialView], tuple[str, str]] | None = None) -> list[TrialRecord]:
    """The NasJob's trials as nasctl trial records (what `status` and `trials` show), in order.

    Vertex proposes the architectures, so the records are derived from its trial details on every
    pass (level-triggered): the reconciler replaces its search/train records with these. Decoding and
    materialising an architecture costs about 0.2 s on the MnasNet space (minutes a pass at 2,000
    trials), so each is done once: a trial `recorded` with the same parameters' digest keeps its DNA
    and architecture. Without a `space` (`nasctl diff`, which runs no user code) nothing is decoded: each
    DNA is a key made from the parameters' digest, which tells architectures apart as well, and a recorded
    trial keeps its architecture. A failed trial's reason and message come from `explain` once (Vertex
    says only INFEASIBLE), then from its record. `backend_ref["folder"]` is where the trial wrote its files
    (its NasJob's job dir: not derivable from the trial id).
    """
    records = []
    for view in status.trials:
        digest = hashlib.sha256(view.parameters.encode()).hexdigest()[:16]
        before = (recorded or {}).get(view.id)
        if before is not None and before.backend_ref.get("parameters") != digest:
            before = None  # the id names another architecture (not the trial recorded under it)
        if space is None:
            dna, arch = list(bytes.fromhex(digest)), before.arch if before is not None else None
        elif before is not None:
            dna, arch = before.dna, before.arch
        else:
            dna, arch = _decoded(view.parameters, space)
        reason, message = view.reason, ""
        if view.status == FAILED:
            if before is not None and before.status == FAILED:
                reason, message = before.reason, before.message
            elif explain is not None:
                reason, message = explain(view)
        index = _number(view.id) or len(records)
        records.append(TrialRecord(
            id=view.id, stage=view.stage, index=index, dna=dna, arch=arch, status=view.status, reason=reason,
            message=message, reward=view.reward, launched_at=view.started_at, finished_at=view.finished_at,
            backend_ref={"nas_job": status.job, "parameters": digest, "folder": view.folder},
        ))
    return records


def _decoded(parameters: str, space: "SearchSpace") -> tuple[list[int], Any]:
    """The DNA (as decision numbers) and the architecture of Vertex's serialised trial parameters."""
    import pyglove as pg  # noqa: PLC0415

    if not parameters:
        return [], None
    dna = pg.DNA.from_parameters(json.loads(parameters), space.dna_spec)
    return list(space.numbers(dna)), space.materialize(dna)
