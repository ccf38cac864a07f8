"""What the packages log as warnings (a Vertex or GCS call retried) reaches the user of any command as a
`warning:` line."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from nasctl import render
from nasctl.cli import app


def _shown(logger: logging.Logger) -> list[logging.Handler]:
    return [handler for handler in logger.handlers if isinstance(handler, render.WarningLines)]


@pytest.fixture(params=[("backends", "backends.vertex.calls", "Vertex"), ("state", "state.gcs", "GCS")])
def package_logger(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, str, str]]:
    """A package's logger as no command has set it up yet (an earlier test's command may have), with the name
    of a module in it that logs retries and the service it names."""
    package, module, service = request.param
    logger = logging.getLogger(package)
    kept = list(logger.handlers)
    logger.handlers = [handler for handler in kept if handler not in _shown(logger)]
    yield logger, module, service
    logger.handlers = kept


def test_every_command_shows_the_warnings_packages_log_once(package_logger: tuple[logging.Logger, str, str]) -> None:
    logger, module, service = package_logger
    assert not _shown(logger)
    assert CliRunner().invoke(app, ["spaces"]).exit_code == 0
    assert len(_shown(logger)) == 1
    with render.err_console.capture() as captured:
        logging.getLogger(module).warning("%s answered %s; retrying", service, "[429] Quota exceeded")
        logging.getLogger(module).info("not shown")
    assert captured.get() == f"warning: {service} answered [429] Quota exceeded; retrying\n"
    assert CliRunner().invoke(app, ["spaces"]).exit_code == 0
    assert len(_shown(logger)) == 1
