"""A CustomJob's life: quota, workers, outcome, ``scheduling.timeout``, cancel.

QUEUED from its create until its accelerators fit the region's quota (the training service's page,
"Queue a new job": "if your Google Cloud project does not have sufficient remaining custom training
quotas for your job, then Vertex AI keeps the job queued until you have sufficient quotas"; the design
anchors said PENDING); PENDING while its machines are found, or until it fails for lack of them in a
stockout (capacity.py; a FLEX_START job queues through one, up to its max wait); RUNNING with every
worker up; then the processes decide SUCCEEDED or FAILED (runner.py). ``scheduling.timeout``
("The maximum job running time. The default is 7 days.") counts job time from ``start_time``; past it
the workers are stopped and the job FAILS with DEADLINE_EXCEEDED. A non-zero exit fails the job with
error code 3, as the service reports user-code failures.
"""
from __future__ import annotations

from typing import Any

from vertex_emulator.capacity import TURNED_AWAY, WAITING, MachineWait
from vertex_emulator.jobs import CANCELLED, CANCELLING, FAILED, PENDING, QUEUED, RUNNING, SUCCEEDED, Job
from vertex_emulator.quota import demand
from vertex_emulator.runner import JobRun

DEFAULT_TIMEOUT_SECONDS = 7 * 24 * 3600  # Scheduling.timeout: "The default is 7 days."


def timeout_seconds(job_spec: Any) -> float:
    """A CustomJobSpec's ``scheduling.timeout`` in seconds, 7 days when unset."""
    timeout = job_spec.scheduling.timeout
    return timeout.seconds + timeout.nanos / 1e9 or DEFAULT_TIMEOUT_SECONDS


class CustomJobDriver:
    def __init__(self, job: Job, ctx: Any):
        self.job, self.ctx = job, ctx
        self.spec = job.resource.job_spec
        self.run: JobRun | None = None
        self.machines = MachineWait(job.region, self.spec)

    def step(self, now: float) -> None:
        state = self.job.state
        if state == QUEUED:
            if self.ctx.quota.try_acquire(self.job.name, self.job.region, demand(self.spec)):
                self.job.move(PENDING, now)  # else it stays queued until GPUs free up
        elif state == PENDING:
            machines = self.machines.ask(self.ctx.capacity, now)
            if machines == TURNED_AWAY:
                self._end(FAILED, now, ("RESOURCE_EXHAUSTED", self.machines.failure()))
                return
            if machines == WAITING:
                return
            prefix = self.spec.base_output_directory.output_uri_prefix
            self.run = JobRun(self.spec, job_id=self.job.id, work_dir=self.ctx.work_dir / self.job.id,
                              env=self.ctx.env, output_uri=prefix or None,
                              image_entrypoints=self.ctx.image_entrypoints)
            failure = self.run.start()
            if failure is not None:
                self._end(FAILED, now, ("INVALID_ARGUMENT", failure.message))
            else:
                self.job.move(RUNNING, now)
        elif state == RUNNING:
            assert self.run is not None
            limit = timeout_seconds(self.spec)
            if now - (self.job.start_seconds or now) >= limit:
                self._end(FAILED, now, ("DEADLINE_EXCEEDED",
                                        f"The job exceeded its maximum running time (Scheduling.timeout = {limit:g}s)."))
                return
            outcome = self.run.poll()
            if outcome is not None:
                if outcome.succeeded:
                    self._end(SUCCEEDED, now)
                else:
                    self._end(FAILED, now, ("INVALID_ARGUMENT", outcome.message))
        elif state == CANCELLING:
            self._end(CANCELLED, now, ("CANCELLED", "CANCELLED"))

    def _end(self, state: str, now: float, error: tuple[str, str] | None = None) -> None:
        if self.run is not None:
            self.run.stop()
        self.ctx.quota.release(self.job.name)
        self.job.move(state, now, error)

    def preempt(self, pool: int = 0, index: int = 0) -> None:
        if self.run is None or self.job.state != RUNNING:
            raise KeyError(f"{self.job.name} has no running workers")
        self.run.preempt(pool, index)
