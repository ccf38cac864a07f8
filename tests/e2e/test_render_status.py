"""The human status view shows each stage's own results, not only its trial counts."""
from __future__ import annotations

from nasctl import render


def test_stage_results_beyond_counts_are_printed(capsys):
    status = {
        "name": "exp", "phase": "Running", "generation": "g", "observedGeneration": "g", "conditions": [],
        "stages": {"varianceMeasurement": {"phase": "Succeeded", "summary": {
            "total": 6, "succeeded": 6, "failed": 0, "running": 0, "pending": 0, "stopped": 0,
            "cv": 0.0123456, "smoothness": 2.5, "verdict": "good"}}},
        "best": None, "warnings": [], "paretoFront": None,
    }
    with render.console.capture() as captured:
        render.render_status(status)
    text = captured.get()
    assert 'varianceMeasurement: cv=0.01235, smoothness=2.5, verdict="good"' in text
    assert "stopped" not in text.split("varianceMeasurement:")[1]
