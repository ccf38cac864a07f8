"""`status`, `diff` and `validate` start fast: they never import JAX, Flax or the Vertex SDK."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, nb201_spec

HEAVY = ("jax", "flax", "optax", "orbax", "google.cloud.aiplatform", "google.cloud.aiplatform_v1",
         "google.cloud.storage", "matplotlib")


@pytest.mark.parametrize("command", [["status"], ["diff"], ["validate"], ["trials"]])
def test_read_commands_import_nothing_heavy(write_spec, tmp_path, command):
    spec = write_spec(nb201_spec())
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "nasctl.cli", *command, "-f", str(spec)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert not sorted(m for m in imported if m in HEAVY or m.split(".")[0] in ("jax", "flax", "optax"))
