"""Write the report file, once or every N seconds while `apply` runs.

Each rewrite reads the state documents afresh (no lock: readers never block the reconciler) and
replaces the file atomically, so a browser reloading it never sees half a page.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from nasctl.html_report.model import build_report
from nasctl.html_report.page import render_page
from reconciler.session import Session
from state.files import atomic_write


def write_html(session: Session, path: Path, refresh_seconds: float | None = None) -> Path:
    """Build the view model from the session's recorded state and write the page to `path`."""
    model = build_report(session.experiment, session.state(), session.store)
    atomic_write(path, render_page(model, refresh_seconds).encode("utf-8"))
    return path


def watch(rewrite: Callable[[], object], seconds: float, max_rewrites: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Call `rewrite` every `seconds` until interrupted, or `max_rewrites` times; returns how many ran."""
    done = 0
    while max_rewrites is None or done < max_rewrites:
        if done:
            sleep(seconds)
        rewrite()
        done += 1
    return done
