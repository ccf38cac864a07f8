"""The proxy-task stages on real training: the image-classifier trainer on digits (slow: minutes on CPU)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from tests.reconciler.proxy.test_proxy_stages_e2e import STATE, trials_of

pytestmark = pytest.mark.slow

BASELINE = {"dataset": "digits", "imageSize": 8, "nb201Channels": 4, "nb201Cells": 1, "batchSize": 64,
            "learningRate": 0.05, "steps": 40, "evalEvery": 4}


def digits_spec() -> dict:
    return {
        "apiVersion": "nasctl.dev/v1alpha1", "kind": "NASExperiment", "metadata": {"name": "exp"},
        "spec": {
            "stateUri": "state", "backend": {"type": "local", "pollSeconds": 0.2},
            "searchSpace": {"prebuilt": "nb201"},
            "trainer": {"prebuilt": "image-classifier", "args": BASELINE},
            "varianceMeasurement": {"copies": 2, "workableFraction": 0.1, "parallelTrials": 2,
                                    "trainerArgs": {"steps": 20}},
            "modelSelection": {"startModels": 4, "finalModels": 3, "removePerRound": 1, "parallelTrials": 2},
            "proxyTaskSearch": {"candidates": [{"name": "data-50pct", "trainerArgs": {"trainFraction": 0.5}}],
                                "desiredCorrelation": 0.6, "parallelTrials": 2},
            "search": {"maxTrials": 1, "parallelTrials": 1, "useBestProxyTask": False},
        },
    }


def test_proxy_stages_on_digits(nasctl, tmp_path: Path):
    spec = tmp_path / "exp.yaml"
    spec.write_text(yaml.safe_dump(digits_spec()))
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=1200)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Succeeded", status["conditions"]
    summary = {name: stage["summary"] for name, stage in status["stages"].items()}

    variance = summary["varianceMeasurement"]
    assert math.isfinite(variance["cv"]) and variance["cv"] >= 0 and variance["verdict"] in ("good", "bad")
    attempt = trials_of(tmp_path, "varianceMeasurement")[0]
    attempt_steps = [json.loads(line)["step"] for line in
                     (tmp_path / STATE / "trials" / attempt["id"] / "metrics.jsonl").read_text().splitlines()]
    assert attempt_steps == [2], "the workable attempt stops at 10 % of its 20 steps"

    selection = summary["modelSelection"]
    assert selection["iterations"] == 2 and len(selection["finalModels"]) == 3
    for model in selection["finalModels"]:
        cycles = [json.loads(line) for line in
                  (tmp_path / STATE / "trials" / model / "metrics.jsonl").read_text().splitlines()]
        steps = [c["step"] for c in cycles]
        # round 1 stopped at 1/4 of training; round 2 continued from that checkpoint to the end
        assert steps == sorted(set(steps)) and steps[-1] == 40 and 10 in steps, steps
        assert cycles[-1]["metrics"]["learning_rate"] == pytest.approx(0.0, abs=1e-3)  # cosine reached 0

    candidate = summary["proxyTaskSearch"]["candidates"]["data-50pct"]
    assert candidate["stoppingState"] in ("Met desired correlation", "Ran till completion", "Excess trial failures")
    assert (candidate["finalTrainingSteps"] is not None) == (candidate["stoppingState"] == "Met desired correlation")
    for plot in ("varianceMeasurement/variance_curves.png", "modelSelection/round-1/filtered_trial_scores.png",
                 "proxyTaskSearch/correlation_vs_steps.png"):
        assert (tmp_path / STATE / plot).exists(), plot
