"""What the packages log as warnings (a Vertex call retried) reaches the user of any command as a `warning:` line."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from nasctl import render
from nasctl.cli import app


def _shown(logger: logging.Logger) -> list[logging.Handler]:
    return [handler for handler in logger.handlers if isinstance(handler, render.WarningLines)]


@pytest.fixture
def backends_logger() -> Iterator[logging.Logger]:
    """The `backends` logger as no command has set it up yet (an earlier test's command may have)."""
    logger = logging.getLogger("backends")
    kept = list(logger.handlers)
    logger.handlers = [handler for handler in kept if handler not in _shown(logger)]
    yield logger
    logger.handlers = kept


def test_every_command_shows_the_warnings_backends_log_once(backends_logger: logging.Logger) -> None:
    assert not _shown(backends_logger)
    assert CliRunner().invoke(app, ["spaces"]).exit_code == 0
    assert len(_shown(backends_logger)) == 1
    with render.err_console.capture() as captured:
        logging.getLogger("backends.vertex.calls").warning("Vertex answered %s; retrying", "[429] Quota exceeded")
        logging.getLogger("backends.vertex.calls").info("not shown")
    assert captured.get() == "warning: Vertex answered [429] Quota exceeded; retrying\n"
    assert CliRunner().invoke(app, ["spaces"]).exit_code == 0
    assert len(_shown(backends_logger)) == 1
