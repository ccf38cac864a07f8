"""Vertex backend with one of our controllers: every trial the reconciler proposes is a CustomJob.

Adoption: every job carries ``nasctl-id`` (the experiment's identity: its state location and name)
and ``nasctl-key`` (the trial's deterministic id) labels. ``launch`` first lists jobs with both and
adopts a live one, so a crash between launching a job and recording it never starts a second copy,
and a same-named experiment elsewhere never adopts this one's jobs. Every call has a deadline and
retries (calls.py); a create that failed transiently is looked up by its labels before it is retried. ``observe`` costs one request per unfinished trial
(a GET of the job it knows, else a label-filtered list), bounded by the stage's parallelTrials.
"""
from __future__ import annotations

import json
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from backends.base import ALIVE, FINISHED, LOST, NO_CAPACITY, NOT_LAUNCHED, Backend, TrialObservation
from backends.vertex.calls import CallPolicy, cancel_job
from backends.vertex.requests import custom_job, latency_job, make_job_client, parent, trial_dir_uri
from backends.vertex.labels import IDENTITY_LABEL, KEY_LABEL, experiment_identity, job_key, job_labels, label_filter
from trial.dirs import GcsTrialDir
from state.records import SEARCH, TRAIN
from specs.model import NASExperiment, VertexBackendSpec
from trial.protocol import FAILED, LATENCY_FILE, TIMEOUT, StopSignal, TrialResult
from trainers_jax.saved_model import MODEL_CONFIG_FILE

if TYPE_CHECKING:
    from google.cloud.aiplatform_v1 import CustomJob, JobServiceClient
    from google.cloud.storage import Client

# Vertex JobState names → what the reconciler sees.
LIVE_JOB_STATES = frozenset({"JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING",
                             "JOB_STATE_PAUSED", "JOB_STATE_UPDATING"})
FAILED_JOB_STATES = frozenset({"JOB_STATE_FAILED", "JOB_STATE_EXPIRED"})
QUEUED_STATE = "JOB_STATE_QUEUED"  # briefly after a create, or for as long as the project lacks the quota
# google.rpc.Code RESOURCE_EXHAUSTED on a failed job: the region had no machines for it ("Resources are
# insufficient in region"), a stockout. The project's quota is refused at create instead (calls.py).
STOCKOUT_CODE = 8
ADOPTION_FIELDS = ("stage", "dna", "args", "seed")  # a live job with a trial's key runs that trial if these match


class ForeignJob(ValueError):
    """A live job carries a trial's key but was started for another trial (an earlier life of the state)."""


def job_state(job: "CustomJob") -> str:
    return job.state.name


def turned_away(job: "CustomJob") -> bool:
    """Whether Vertex failed the job for lack of machines (it never ran its code)."""
    return job_state(job) in FAILED_JOB_STATES and job.error.code == STOCKOUT_CODE


def ran_its_timeout(job: "CustomJob", elapsed: float | None) -> bool:
    """Whether a failed job ran its whole ``scheduling.timeout`` (hoursPerTrial × 1.5, or timeoutSeconds): Vertex
    ended it for time, so the trial timed out (whatever words the service uses for it), not failed."""
    limit = job.job_spec.scheduling.timeout.total_seconds()
    return bool(limit) and elapsed is not None and elapsed >= limit


def timestamp_seconds(timestamp: Any) -> float | None:
    """A protobuf timestamp (as proto-plus returns it) in epoch seconds, or None if unset."""
    if not timestamp:
        return None
    return timestamp.timestamp()


def _helper_key(trial_id: str) -> str:
    return f"{trial_id}-latency"


class VertexCustomJobBackend(Backend):
    def __init__(self, experiment: NASExperiment, client: "JobServiceClient | None" = None,
                 storage_client: "Client | None" = None):
        spec = experiment.spec.backend
        if not isinstance(spec, VertexBackendSpec):
            raise ValueError("VertexCustomJobBackend needs a backend of type vertex")
        self.spec = spec
        self.experiment = experiment.metadata.name
        self.identity = experiment_identity(experiment.spec.state_uri, self.experiment)
        self.calls = CallPolicy.from_spec(spec.retry)
        self._timeouts = {SEARCH: experiment.spec.search.timeout_seconds,
                          TRAIN: experiment.spec.train.timeout_seconds if experiment.spec.train else None}
        self._given_client = client
        self._storage = storage_client
        self._jobs: dict[str, str] = {}  # trial id → job name, learned this process

    @cached_property
    def _client(self) -> "JobServiceClient":
        """Made on first use: building the backend (plan preview, dry run) needs no credentials."""
        return self._given_client or make_job_client(self.spec)

    @property
    def slots(self) -> int:
        gpus = self.spec.search.gpus  # every replica's
        if self.spec.gpu_quota is not None and gpus:
            return max(1, self.spec.gpu_quota // gpus)
        return 1 << 30

    def trial_dir_uri(self, trial_id: str) -> str:
        return trial_dir_uri(self.spec, self.experiment, trial_id)

    def trial_dir(self, trial_id: str) -> GcsTrialDir:
        return GcsTrialDir(self.trial_dir_uri(trial_id), self._storage)

    def _latest_job(self, trial_id: str) -> "CustomJob | None":
        """The newest job of this trial: by the name we know, else by its key label."""
        name = self._jobs.get(trial_id)
        if name is not None:
            return self.calls.run(lambda timeout: self._client.get_custom_job(name=name, timeout=timeout))
        request = {"parent": parent(self.spec),
                   "filter": label_filter({IDENTITY_LABEL: self.identity, KEY_LABEL: job_key(self.experiment, trial_id)})}
        jobs = self.calls.run(lambda timeout: list(self._client.list_custom_jobs(request=request, timeout=timeout)))
        if not jobs:
            return None
        latest = max(jobs, key=lambda job: (timestamp_seconds(job.create_time) or 0.0, job.name))
        self._jobs[trial_id] = latest.name
        return latest

    def launch(self, trial_id: str, trial_spec: dict[str, Any]) -> dict[str, Any]:
        self._jobs.pop(trial_id, None)  # always ask Vertex: it is the truth about what runs
        existing = self._latest_job(trial_id)
        if existing is not None and job_state(existing) in LIVE_JOB_STATES:
            self._check_adoptable(trial_id, existing, trial_spec)
            return {"job": existing.name, "trial_dir": self.trial_dir_uri(trial_id), "adopted": True}
        stage = str(trial_spec.get("stage", SEARCH))
        self.trial_dir(trial_id).write_spec(trial_spec)
        labels = job_labels(self.experiment, self.identity, job_key(self.experiment, trial_id), stage)
        job = custom_job(self.spec, self.experiment, trial_id, stage, labels, self._timeouts.get(stage))
        created = self._create(trial_id, job)
        return {"job": created.name, "trial_dir": self.trial_dir_uri(trial_id)}

    def _check_adoptable(self, trial_id: str, job: "CustomJob", trial_spec: dict[str, Any]) -> None:
        """Adopt a live job only if the trial.json it was started with is this trial's: after the state was
        removed while jobs ran, and the spec changed, the same id names another trial, and adopting the old
        job would record its result for the new architecture."""
        try:
            started_with = self.trial_dir(trial_id).read_spec()
        except FileNotFoundError:
            return  # nothing to compare with (the spec is written before the job is created, so rare): adopt
        differing = [name for name in ADOPTION_FIELDS
                     if json.dumps(started_with.get(name), sort_keys=True) != json.dumps(trial_spec.get(name),
                                                                                          sort_keys=True)]
        if differing:
            raise ForeignJob(
                f"{job.name} runs trial {trial_id} with another {', '.join(differing)} than the state records (a job "
                "of an earlier life of this experiment's state, removed while it ran?); adopting it would record its "
                f"result for another trial: cancel it (gcloud ai custom-jobs cancel {job.name}) and apply again")

    def observe(self, trial_id: str) -> TrialObservation:
        job = self._latest_job(trial_id)
        if job is None:
            return TrialObservation(NOT_LAUNCHED)
        state = job_state(job)
        started = timestamp_seconds(job.start_time)
        ended = timestamp_seconds(job.end_time)
        elapsed = None if started is None else (ended or time.time()) - started
        directory = self.trial_dir(trial_id)
        cycles, stop = directory.read_metrics(), directory.read_stop()
        if state == QUEUED_STATE:  # Vertex keeps a job QUEUED while the project lacks the quota for it
            created = timestamp_seconds(job.create_time)
            return TrialObservation(ALIVE, None, cycles, elapsed, stop, message=f"Vertex keeps {job.name} queued",
                                    queued_seconds=None if created is None else max(0.0, time.time() - created))
        if state in LIVE_JOB_STATES:
            return TrialObservation(ALIVE, None, cycles, elapsed, stop)
        result = directory.final_result()
        if result is None and turned_away(job):
            return TrialObservation(NO_CAPACITY, None, cycles, elapsed, stop, message=job.error.message)
        if result is None and state in FAILED_JOB_STATES:
            message = job.error.message or state
            status = TIMEOUT if ran_its_timeout(job, elapsed) else FAILED
            result = TrialResult(status, message=f"Vertex job {job.name} {state}: {message}"[:500])
        if result is None:  # cancelled, or succeeded without writing a result
            return TrialObservation(LOST, None, cycles, elapsed, stop)
        return TrialObservation(FINISHED, result, cycles, elapsed, stop)

    def observe_helpers(self, running: list[str]) -> tuple[frozenset[str], frozenset[str]]:
        """Running trials that saved their model but have no latency.json yet want a latency-calculator job
        (the trainer waits for it, as Vertex's trainers wait for its latency calculator); one that was
        launched already, in any state but turned away by a stockout, is not launched again (its outcome lands
        in latency.json)."""
        if self.spec.latency is None:
            return frozenset(), frozenset()
        wanted = set()
        for trial_id in running:
            directory = self.trial_dir(trial_id)
            if directory.exists(MODEL_CONFIG_FILE) and not directory.exists(LATENCY_FILE):
                wanted.add(trial_id)
        live = {trial_id for trial_id in wanted if self._has_helper(trial_id)}
        return frozenset(wanted), frozenset(live)

    def start_helper(self, trial_id: str) -> None:
        """The trial's latency-calculator job, labelled like trials (key ``<trial>-latency``), so a crash
        never starts a second calculator for one trial."""
        if self._has_helper(trial_id):
            return
        helper = _helper_key(trial_id)
        labels = job_labels(self.experiment, self.identity, job_key(self.experiment, helper), "latency")
        self._create(helper, latency_job(self.spec, self.experiment, trial_id, labels))

    def _has_helper(self, trial_id: str) -> bool:
        job = self._latest_job(_helper_key(trial_id))
        return job is not None and not turned_away(job)

    def _create(self, key: str, job: "CustomJob") -> "CustomJob":
        """Create `job` once, even when a create's answer is lost (the retry adopts the job by its labels)."""
        created = self.calls.create(
            lambda timeout: self._client.create_custom_job(parent=parent(self.spec), custom_job=job, timeout=timeout),
            lambda: self._latest_job(key))
        self._jobs[key] = created.name
        return created

    def stop(self, trial_id: str, reason: str) -> None:
        job = self._latest_job(trial_id)
        if job is not None and job_state(job) in LIVE_JOB_STATES:
            cancel_job(self.calls, self._client.cancel_custom_job, job.name)

    def stop_all(self, trial_ids: list[str]) -> list[str]:
        """Cancel every live CustomJob labelled with this experiment's identity: trials, latency
        calculators and jobs no record knows of (a launch whose record was lost)."""
        live = self.live_jobs()
        for name in live:
            cancel_job(self.calls, self._client.cancel_custom_job, name)
        return live

    def live_jobs(self) -> list[str]:
        """Every live CustomJob labelled with this experiment's identity."""
        request = {"parent": parent(self.spec), "filter": label_filter({IDENTITY_LABEL: self.identity})}
        jobs = self.calls.run(lambda timeout: list(self._client.list_custom_jobs(request=request, timeout=timeout)))
        return sorted(job.name for job in jobs if job_state(job) in LIVE_JOB_STATES)

    def signal(self, trial_id: str, stop_signal: StopSignal) -> None:
        self.trial_dir(trial_id).write_stop(stop_signal)
