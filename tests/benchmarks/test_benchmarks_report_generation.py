"""The report benchmark's harness runs end to end and reports time and size per trial count."""
from __future__ import annotations

import json

import pytest

from benchmarks.report_generation import main


def test_json_output_has_seconds_and_bytes_per_trial_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--trials", "10,30", "--runs", "1", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert list(results) == ["10", "30"]
    assert all(row["seconds"] > 0 for row in results.values())
    assert results["10"]["bytes"] < results["30"]["bytes"]  # more trials, more rows embedded
