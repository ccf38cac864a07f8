"""Fixtures of the trainer tests: trial directories."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from trial.protocol import StopSignal
from trial.dirs import LocalTrialDir
from tests.support.trainer_fixtures import FAST_ARGS, TINY_ARCH


@pytest.fixture
def make_trial(tmp_path: Path) -> Callable[..., LocalTrialDir]:
    def make(name: str = "trial", arch: Any = None, args: dict[str, Any] | None = None,
             trainer: dict[str, Any] | None = None, stop: StopSignal | None = None, seed: int = 0) -> LocalTrialDir:
        trial = LocalTrialDir(tmp_path / name)
        trial.path.mkdir(parents=True, exist_ok=True)
        trial.write_spec({"id": name, "stage": "search", "arch": TINY_ARCH if arch is None else arch,
                          "trainer": trainer or {"prebuilt": "image-classifier"},
                          "args": {**FAST_ARGS, **(args or {})}, "seed": seed})
        if stop is not None:
            trial.write_stop(stop)
        return trial

    return make
