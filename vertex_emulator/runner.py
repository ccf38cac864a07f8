"""Runs a CustomJobSpec's worker pools for real, as local processes with the environment Vertex gives.

Each replica runs ``container_spec.command + container_spec.args`` (the image is recorded, not
pulled; with no command, the image's entrypoint comes from ``VertexEmulator(image_entrypoints=)``).
Environment (https://cloud.google.com/vertex-ai/docs/training/code-requirements,
.../distributed-training): ``CLOUD_ML_JOB_ID``, ``AIP_MODEL_DIR`` / ``AIP_CHECKPOINT_DIR`` /
``AIP_TENSORBOARD_LOG_DIR`` under ``base_output_directory``, ``container_spec.env``, and for a job of
more than one replica ``CLUSTER_SPEC`` = ``{"cluster": {"workerpool0": [...], ...}, "environment":
"cloud", "task": {"type": "workerpool0", "index": i}, "job": <the job spec>}``. The cluster addresses
are loopback ``127.0.0.1:<free port>`` (Vertex gives ``workerpoolN-I:2222`` host names) so replicas
can really connect. Each replica's stdout and stderr go to ``<work dir>/workerpool<N>-<I>.log``.

Outcome: every replica exits 0 -> success; any non-zero exit -> failure with the service's message
("The replica workerpool0-0 exited with a non-zero status of 1"), the other replicas are killed.
Preemption (VM maintenance): the killed replica restarts with the same environment, or every replica
restarts with ``scheduling.restart_job_on_worker_restart``; after 5 restarts of one worker the job
fails (the service restarts a worker at most 5 times; "Restart workers during the training job" in
https://cloud.google.com/vertex-ai/docs/training/understanding-training-service).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from google.protobuf import json_format

MAX_WORKER_RESTARTS = 5


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    message: str = ""


@dataclass
class Replica:
    pool: int
    index: int
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    preempted: bool = False
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"workerpool{self.pool}-{self.index}"

    def start(self, cwd: Path) -> None:
        if self._log_file is None:
            self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(self.command, env=self.env, cwd=cwd, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def close(self) -> None:
        self.kill()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def output_env(output_uri: str) -> dict[str, str]:
    """The AIP_* directories Vertex derives from base_output_directory (a gs:// prefix)."""
    base = output_uri.rstrip("/")
    return {"AIP_MODEL_DIR": f"{base}/model/", "AIP_CHECKPOINT_DIR": f"{base}/checkpoints/",
            "AIP_TENSORBOARD_LOG_DIR": f"{base}/logs/"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JobRun:
    """The processes of one CustomJobSpec (a CustomJob, or one NAS trial)."""

    def __init__(self, spec: Any, *, job_id: str, work_dir: Path, env: dict[str, str],
                 extra_args: list[str] | None = None, output_uri: str | None = None,
                 image_entrypoints: dict[str, list[str]] | None = None,
                 replica_env: Callable[[str], dict[str, str]] | None = None):
        """`replica_env(name)`: what one replica (``workerpoolN-I``) has of its own machine's, over `env`."""
        self.spec = spec
        self.work_dir = work_dir
        self.restart_all = spec.scheduling.restart_job_on_worker_restart
        work_dir.mkdir(parents=True, exist_ok=True)
        pools = [(i, pool) for i, pool in enumerate(spec.worker_pool_specs) if pool.replica_count > 0]
        total = sum(pool.replica_count for _, pool in pools)
        cluster = {f"workerpool{i}": [f"127.0.0.1:{_free_port()}" for _ in range(pool.replica_count)]
                   for i, pool in pools} if total > 1 else {}
        job_json = json_format.MessageToDict(spec)
        base_env = {**os.environ, **env, "CLOUD_ML_JOB_ID": job_id}
        if output_uri:
            base_env.update(output_env(output_uri))
        self.replicas: list[Replica] = []
        self.error: str | None = None
        for i, pool in pools:
            container = pool.container_spec
            command = list(container.command) or list((image_entrypoints or {}).get(container.image_uri, []))
            if not command:
                self.error = (f"workerpool{i}: container_spec.command is empty and the emulator knows no entrypoint "
                              f"for image {container.image_uri!r} (pass image_entrypoints=)")
            for index in range(pool.replica_count):
                name = f"workerpool{i}-{index}"
                own_env = {**base_env, **(replica_env(name) if replica_env else {}),
                           **{var.name: var.value for var in container.env}}
                if total > 1:
                    own_env["CLUSTER_SPEC"] = json.dumps({
                        "cluster": cluster, "environment": "cloud",
                        "task": {"type": f"workerpool{i}", "index": index}, "job": job_json})
                self.replicas.append(Replica(i, index, [*command, *container.args, *(extra_args or [])],
                                             own_env, work_dir / f"{name}.log"))

    def start(self) -> Outcome | None:
        """Start every replica; an Outcome (failure) if the job cannot run at all."""
        if self.error:
            return Outcome(False, self.error)
        for replica in self.replicas:
            replica.start(self.work_dir)
        return None

    def poll(self) -> Outcome | None:
        """None while running; the job's Outcome once it is decided (processes are then stopped)."""
        for replica in self.replicas:
            code = replica.process.poll() if replica.process else None
            if code is None or code == 0 and not replica.preempted:
                continue
            if replica.preempted:
                replica.preempted = False
                replica.restarts += 1
                if replica.restarts > MAX_WORKER_RESTARTS:
                    self.stop()
                    return Outcome(False, f"The replica {replica.name} was restarted more than "
                                          f"{MAX_WORKER_RESTARTS} times after its VM was preempted.")
                for other in (self.replicas if self.restart_all else [replica]):
                    other.kill()
                    other.start(self.work_dir)
                continue
            self.stop()
            return Outcome(False, f"The replica {replica.name} exited with a non-zero status of {code}. "
                                  f"Logs: {replica.log}")
        if all(r.process is not None and r.process.poll() == 0 for r in self.replicas):
            self.stop()
            return Outcome(True)
        return None

    def preempt(self, pool: int = 0, index: int = 0) -> None:
        """Kill one replica as a VM preemption would; the next poll restarts it."""
        for replica in self.replicas:
            if (replica.pool, replica.index) == (pool, index):
                replica.preempted = True
                replica.kill()
                return
        raise KeyError(f"no replica workerpool{pool}-{index}")

    def stop(self) -> None:
        for replica in self.replicas:
            replica.close()
