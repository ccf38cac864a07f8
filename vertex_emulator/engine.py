"""The service's back end: the job table, the drivers that move jobs, and the tick thread."""
from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vertex_emulator.capacity import Capacity
from vertex_emulator.clock import Clock
from vertex_emulator.custom import CustomJobDriver
from vertex_emulator.errors import ApiError
from vertex_emulator.jobs import CANCELLING, FAILED, RUNNING, TERMINAL, Job, new_job
from vertex_emulator.listing import page, parse_filter
from vertex_emulator.nas import CONTINUE, NasJobDriver
from vertex_emulator.quota import Quota, demand
from vertex_emulator.validation import check_custom_job, check_encryption, check_nas_job, not_found

FIRST_JOB_ID = 1_000_000_000_000_000_000  # Vertex job ids are 19-digit numbers


@dataclass
class Context:
    """What drivers share: time, quota, where processes write, and the env every process gets."""

    clock: Clock
    quota: Quota
    work_dir: Path
    env: dict[str, str]
    image_entrypoints: dict[str, list[str]]
    seed: int = 0
    nas_limit_state: str = "JOB_STATE_FAILED"  # how a NasJob ends at 14 days (see nas.py)
    nas_resume_numbering: str = CONTINUE  # how a resumed NasJob numbers its trials (see nas.py)
    capacity: Capacity = field(default_factory=Capacity)


@dataclass
class Engine:
    ctx: Context
    tick_seconds: float = 0.02
    jobs: dict[str, Job] = field(default_factory=dict)
    drivers: dict[str, CustomJobDriver | NasJobDriver] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(FIRST_JOB_ID))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # -- API operations ----------------------------------------------------------------------------
    def create(self, parent: str, collection: str, resource: Any) -> Job:
        region = parent.split("/")[3]
        check_encryption(resource, region)
        if collection == "customJobs":
            check_custom_job(resource)
            self.ctx.quota.check_fits(region, demand(resource.job_spec))
        else:
            check_nas_job(resource)
            algo = resource.nas_job_spec.multi_trial_algorithm_spec
            self.ctx.quota.check_fits(region, demand(algo.search_trial_spec.search_trial_job_spec))
            if algo.HasField("train_trial_spec"):
                self.ctx.quota.check_fits(region, demand(algo.train_trial_spec.train_trial_job_spec))
        with self._lock:
            name = f"{parent}/{collection}/{next(self._ids)}"
            job = new_job(collection, resource, name, region, self.ctx.clock.now())
            if collection == "customJobs":
                driver: CustomJobDriver | NasJobDriver = CustomJobDriver(job, self.ctx)
            else:
                driver = NasJobDriver(job, self.ctx, self._resumed(parent, resource))
            self.jobs[name] = job
            self.drivers[name] = driver
        return job

    def _resumed(self, parent: str, resource: Any) -> NasJobDriver | None:
        resume_id = resource.nas_job_spec.resume_nas_job_id
        if not resume_id:
            return None
        name = f"{parent}/nasJobs/{resume_id}"
        previous = self.drivers.get(name)
        if not isinstance(previous, NasJobDriver):
            raise ApiError("NOT_FOUND", f"resume_nas_job_id: NasJob {name} was not found.")
        if previous.job.state not in TERMINAL:
            raise ApiError("FAILED_PRECONDITION",
                           f"resume_nas_job_id: NasJob {name} is still {previous.job.state}; only an ended job "
                           "can be resumed.")
        earlier = previous.job.resource.nas_job_spec.resume_nas_job_id
        if earlier:
            raise ApiError("FAILED_PRECONDITION",
                           f"resume_nas_job_id: NasJob {name} itself resumed NasJob {earlier}; a resumed job cannot "
                           "be resumed again.")
        return previous

    def get(self, name: str, collection: str) -> Job:
        job = self.jobs.get(name)
        if job is None or job.collection != collection:
            raise not_found(name)
        return job

    def list(self, parent: str, collection: str, filter_: str, page_size: int, page_token: str
             ) -> tuple[list[Job], str]:
        wanted = parse_filter(filter_)
        with self._lock:
            jobs = [job for job in self.jobs.values() if job.collection == collection
                    and job.name.startswith(f"{parent}/{collection}/")]
        jobs = [job for job in jobs if wanted((dict(job.resource.labels), job.state, job.resource.display_name))]
        return page(jobs, page_size, page_token, f"{parent}|{collection}|{filter_}")

    def cancel(self, name: str, collection: str) -> None:
        self.get(name, collection).request_cancel(self.ctx.clock.now())

    def nas_driver(self, name: str) -> NasJobDriver:
        driver = self.drivers.get(name)
        if not isinstance(driver, NasJobDriver):
            raise not_found(name)
        return driver

    def preempt(self, name: str, pool: int = 0, index: int = 0, trial_id: str | None = None) -> None:
        """Kill a running worker as a VM preemption would (for a NasJob, one of trial `trial_id`'s)."""
        driver = self.drivers[name]
        with driver.job.lock:
            if isinstance(driver, NasJobDriver):
                driver.preempt(str(trial_id), pool, index)
            else:
                driver.preempt(pool, index)

    def read(self, job: Job, render: Callable[[Any], bytes]) -> bytes:
        """`job`'s resource rendered under its lock (a NasJob with its trials filled in)."""
        with job.lock:
            driver = self.drivers[job.name]
            if isinstance(driver, NasJobDriver) and job.state in (RUNNING, *TERMINAL):
                driver.fill_output()
            return render(job.resource)

    # -- time ---------------------------------------------------------------------------------------
    def tick(self) -> None:
        with self._lock:
            drivers = [d for d in self.drivers.values() if d.job.state not in TERMINAL]
        for driver in drivers:
            with driver.job.lock:
                now = self.ctx.clock.now()
                try:
                    driver.step(now)
                except Exception as error:  # noqa: BLE001 - a bug must fail its job, not the engine
                    logging.getLogger(__name__).exception("driver of %s failed", driver.job.name)
                    if driver.job.state not in (*TERMINAL, CANCELLING):
                        driver.job.move(FAILED, now, ("INTERNAL", f"emulator error: {error!r}"))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="vertex-emulator-engine", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for driver in self.drivers.values():
            with driver.job.lock:
                if isinstance(driver, NasJobDriver):
                    driver.stop_processes()
                elif driver.run is not None:
                    driver.run.stop()
