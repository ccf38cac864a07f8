"""Fixtures of the latency tests: trial directories holding a saved model."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from tests.support.latency_fixtures import save_random_model


@pytest.fixture(scope="session")
def saved_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model")
    save_random_model(path)
    return path


@pytest.fixture
def trial_with_model(saved_model_dir: Path, tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        target = tmp_path / "trials" / name
        shutil.copytree(saved_model_dir, target)
        return target

    return make
