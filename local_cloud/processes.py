"""Stopping the servers and browsers the tests start."""
from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL if `process` has not exited within `grace_seconds`; always reaped."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
