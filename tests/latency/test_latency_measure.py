"""Latency measurement: result shape, FLOPs and memory from XLA, stability, the separate process."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from trainers_jax.latency_calculator import LatencyError, measure_trial, run_calculator
from latency.measure import MEASURED_METRICS, LatencyOptions
from trial.dirs import LocalTrialDir, numeric_entries

from tests.support.latency_fixtures import save_random_model

FAST = LatencyOptions(batch_size=2, warmup=3, runs=15)


def test_result_shape_and_consistency(trial_with_model) -> None:
    trial = trial_with_model("shape")
    result = measure_trial(trial, FAST)
    assert result == LocalTrialDir(trial).read_latency()
    assert 0 < result["latency_ms"] <= result["latency_p90_ms"]
    assert math.isfinite(result["latency_cv"]) and result["latency_cv"] >= 0
    assert result["flops"] > 0 and result["memory_mb"] > 0 and result["model_memory_mb"] > 0
    assert (result["batch_size"], result["image_size"], result["runs"]) == (2, 16, 15)
    assert result["device_type"].startswith("cpu")
    assert set(numeric_entries(result)) <= set(MEASURED_METRICS)  # what `validate` lets a reward name


def test_repeated_measurements_describe_the_same_model(trial_with_model) -> None:
    """What does not depend on the machine's load is the same each time (how stable the timings are is
    a benchmark's question, not a test's)."""
    trial = trial_with_model("stable")
    options = LatencyOptions(batch_size=8, warmup=5, runs=30)
    first, second = (measure_trial(trial, options) for _ in range(2))
    steady = ("flops", "memory_mb", "model_memory_mb", "batch_size", "image_size", "runs")
    assert {k: first[k] for k in steady} == {k: second[k] for k in steady}
    assert first["latency_ms"] > 0 and second["latency_ms"] > 0


def test_bigger_model_and_input_cost_more(tmp_path: Path) -> None:
    small, wide = tmp_path / "small", tmp_path / "wide"
    save_random_model(small)
    save_random_model(wide, width=2.0)
    flops = {name: measure_trial(path, FAST)["flops"] for name, path in (("small", small), ("wide", wide))}
    assert flops["wide"] > 2 * flops["small"]
    bigger_input = measure_trial(small, LatencyOptions(batch_size=2, image_size=32, warmup=1, runs=2))
    assert bigger_input["flops"] > 3 * flops["small"] and bigger_input["image_size"] == 32


def test_separate_process_writes_latency_json(trial_with_model) -> None:
    trial = trial_with_model("t-sub")
    result = run_calculator(trial, FAST)
    assert result["latency_ms"] > 0 and LocalTrialDir(trial).read_latency() == result


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LatencyError, match="no saved model"):
        run_calculator(tmp_path, FAST)


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="runs"):
        LatencyOptions(runs=1)
