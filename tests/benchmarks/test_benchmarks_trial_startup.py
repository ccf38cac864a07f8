"""The trial start-up benchmark: its JSON contract, on one real digits trial per kind."""
from __future__ import annotations

import json

import pytest

from benchmarks.trial_startup import main


@pytest.mark.slow  # three trial processes
def test_last_line_is_the_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(result) == {"runs", "coldSeconds", "warmSeconds", "peakRssMb", "floorSeconds", "floorRssMb",
                           "warmOverFloor"}
    assert result["runs"] == 1 and 0 < result["floorSeconds"] < result["warmSeconds"]
    assert result["peakRssMb"] > result["floorRssMb"] > 0
    assert result["warmOverFloor"] == pytest.approx(result["warmSeconds"] / result["floorSeconds"], rel=0.05)
