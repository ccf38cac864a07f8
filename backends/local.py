"""Local backend: each trial is a subprocess in its own session and its own trial directory.

Liveness is the trial's ``run.lock``: the launcher takes an exclusive ``flock`` on it *before* the
process exists and hands the descriptor to the child, so "lock held" means "a process is running this
trial", with no window and no trust in pids (which get reused). Trials outlive a killed ``apply``
(new session), and the next ``apply`` adopts them.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from adaptors.user_code import with_import_roots
from backends.base import ALIVE, FINISHED, LOST, NOT_LAUNCHED, Backend, TrialObservation
from trial.protocol import COMPILATION_CACHE_ENV, LAUNCH_FILE, RESULT_FILE, StopSignal
from trial.dirs import LocalTrialDir
from state.files import write_json_atomic

_TIMEOUT_GRACE_SECONDS = 5.0


def _lock_is_held(path: Path) -> bool:
    """Whether a process holds the run lock. Read-only: `diff` on a read-only state directory works."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class LocalBackend(Backend):
    def __init__(self, work_dir: Path, gpus: list[int] | None = None, trials_per_gpu: int = 1):
        self.work_dir = Path(work_dir)
        self.gpu_slots = [gpu for gpu in (gpus or []) for _ in range(trials_per_gpu)]
        self.trials_per_gpu = trials_per_gpu
        self._children: dict[str, subprocess.Popen] = {}  # launched by this process, reaped when done

    @property
    def slots(self) -> int:
        """GPU slots when GPUs are configured; on CPU only the stages' parallelTrials limit trials."""
        return len(self.gpu_slots) if self.gpu_slots else 1 << 30

    def trial_dir_uri(self, trial_id: str) -> str:
        return str(self.work_dir / trial_id)

    def trial_dir(self, trial_id: str) -> LocalTrialDir:
        return LocalTrialDir(self.work_dir / trial_id)

    def _busy_gpus(self) -> list[int]:
        busy = []
        for launch_file in self.work_dir.glob(f"*/{LAUNCH_FILE}"):
            trial = LocalTrialDir(launch_file.parent)
            if _lock_is_held(trial.run_lock):
                gpu = json.loads(launch_file.read_text()).get("gpu")
                if gpu is not None:
                    busy.append(gpu)
        return busy

    def _environment(self, gpu: int | None) -> dict[str, str]:
        env = with_import_roots(dict(os.environ))
        # one persistent XLA compilation cache (and GPU autotuning results) shared by all trials
        env.setdefault(COMPILATION_CACHE_ENV, str(self.work_dir.parent / "jax-cache"))
        if gpu is None:
            env.setdefault("JAX_PLATFORMS", "cpu")
            return env
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{0.9 / self.trials_per_gpu:.3f}"
        return env

    def _free_gpu(self) -> int | None:
        if not self.gpu_slots:
            return None
        free = list(self.gpu_slots)
        for gpu in self._busy_gpus():
            if gpu in free:
                free.remove(gpu)
        if not free:
            raise RuntimeError("no free GPU slot")
        return free[0]

    def launch(self, trial_id: str, trial_spec: dict[str, Any]) -> dict[str, Any]:
        trial = self.trial_dir(trial_id)
        trial.path.mkdir(parents=True, exist_ok=True)
        if _lock_is_held(trial.run_lock):  # already running: adopt, never start a second copy
            return {"trial_dir": str(trial.path), "adopted": True}
        (trial.path / RESULT_FILE).unlink(missing_ok=True)  # a continued trial reports anew
        trial.write_spec(trial_spec)
        gpu = self._free_gpu()
        lock_fd = os.open(trial.run_lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with open(trial.log, "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "trial.runner", str(trial.path)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self._environment(gpu), start_new_session=True, pass_fds=(lock_fd,),
                    cwd=trial_spec.get("workdir") or None,
                )
        finally:
            os.close(lock_fd)  # the child keeps the lock through its inherited descriptor
        self._children[trial_id] = process
        write_json_atomic(trial.path / LAUNCH_FILE, {"pid": process.pid, "started_at": time.time(), "gpu": gpu})
        return {"trial_dir": str(trial.path), "pid": process.pid, "gpu": gpu}

    def signal(self, trial_id: str, stop_signal: StopSignal) -> None:
        self.trial_dir(trial_id).write_stop(stop_signal)

    def observe(self, trial_id: str) -> TrialObservation:
        child = self._children.get(trial_id)
        if child is not None and child.poll() is not None:  # reap: no zombie per finished trial
            del self._children[trial_id]
        trial = self.trial_dir(trial_id)
        result = trial.final_result()
        alive = _lock_is_held(trial.run_lock)
        launch = self._launch_info(trial)
        elapsed = time.time() - launch["started_at"] if launch else None
        cycles = trial.read_metrics()
        stop = trial.read_stop()
        if result is not None and not alive:
            return TrialObservation(FINISHED, result, cycles, elapsed, stop)
        if alive:
            return TrialObservation(ALIVE, None, cycles, elapsed, stop)
        if launch is None:
            return TrialObservation(NOT_LAUNCHED, stop_signal=stop)
        return TrialObservation(LOST, None, cycles, elapsed, stop)

    @staticmethod
    def _launch_info(trial: LocalTrialDir) -> dict[str, Any] | None:
        try:
            return json.loads((trial.path / LAUNCH_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self, trial_id: str, reason: str) -> None:
        trial = self.trial_dir(trial_id)
        launch = self._launch_info(trial)
        if launch is None or not _lock_is_held(trial.run_lock):
            return
        try:
            os.killpg(launch["pid"], signal.SIGTERM)
            if not _lock_released(trial, _TIMEOUT_GRACE_SECONDS):
                os.killpg(launch["pid"], signal.SIGKILL)
                _lock_released(trial, _TIMEOUT_GRACE_SECONDS)  # a relaunch right after must not adopt the dying one
        except ProcessLookupError:
            pass


def _lock_released(trial: LocalTrialDir, seconds: float) -> bool:
    """Wait up to `seconds` for the trial's process to let go of its run lock (it has ended)."""
    deadline = time.time() + seconds
    while _lock_is_held(trial.run_lock) and time.time() < deadline:
        time.sleep(0.05)
    return not _lock_is_held(trial.run_lock)
