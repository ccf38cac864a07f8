"""The controller scale benchmark: JSON contract, deterministic history, measurements in child processes."""
from __future__ import annotations

import json
import os

import pytest

from benchmarks.controller_scale import in_child, main, synthetic_history

KEYS = {"space", "trials", "proposeSeconds", "peakRssMb", "tpeAskSeconds"}


def _probe(_: str, trials: int, __: int) -> dict[str, float]:
    return {"pid": float(os.getpid()), "trials": float(trials)}


def test_history_is_deterministic_bounded_and_varied() -> None:
    sizes = (2, 3, 2, 3)
    history = synthetic_history(sizes, 50, seed=1)
    assert history == synthetic_history(sizes, 50, seed=1) != synthetic_history(sizes, 50, seed=2)
    assert len(history) == 50 and all(0 < reward < 1 for _, reward in history)
    assert all(0 <= v < size for dna, _ in history for v, size in zip(dna, sizes))
    assert len({reward for _, reward in history}) > 40


def test_each_measurement_runs_in_its_own_process() -> None:
    first, second = in_child(_probe, "nb201", 3, 0), in_child(_probe, "nb201", 3, 0)
    assert first["trials"] == 3 and len({first["pid"], second["pid"], float(os.getpid())}) == 3


def test_last_line_is_the_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--space", "nb201", "--trials", "30", "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert KEYS <= set(result) and result["space"] == "nb201" and result["trials"] == 30
    assert result["proposeSeconds"] > 0 and result["tpeAskSeconds"] > 0 and result["peakRssMb"] > 0
