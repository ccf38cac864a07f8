"""Validation of the proxy-task stages' spec fields: clear errors for inconsistent settings."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from specs.model import NASExperiment


def experiment(**spec: Any) -> NASExperiment:
    body = {"searchSpace": {"prebuilt": "nb201"}, "trainer": {"prebuilt": "nb201-tabular"},
            "search": {"maxTrials": 2}, **spec}
    return NASExperiment.model_validate({"kind": "NASExperiment", "metadata": {"name": "exp"}, "spec": body})


def test_defaults_follow_vertex() -> None:
    spec = experiment(varianceMeasurement={}, modelSelection={},
                      proxyTaskSearch={"candidates": [{"name": "d25", "trainerArgs": {"trainFraction": 0.25}}]}).spec
    assert (spec.variance_measurement.copies, spec.variance_measurement.max_workable_attempts) == (5, 10)
    assert (spec.variance_measurement.max_cv, spec.variance_measurement.max_smoothness) == (0.4, 10.0)
    selection = spec.model_selection
    assert (selection.start_models, selection.final_models, selection.remove_per_round) == (30, 10, 5)
    assert selection.max_failure_fraction == 0.2
    search = spec.proxy_task_search
    assert (search.desired_correlation, search.desired_latency_correlation, search.min_pairs) == (0.65, 0.65, 5)


@pytest.mark.parametrize(("spec", "message"), [
    ({"modelSelection": {"startModels": 5, "finalModels": 8}}, "finalModels (8) must not exceed startModels (5)"),
    ({"proxyTaskSearch": {"candidates": [{"name": "a"}]}}, "add modelSelection"),
    ({"modelSelection": {}, "proxyTaskSearch": {}}, "set candidates, generator, or both"),
    ({"modelSelection": {}, "proxyTaskSearch": {"candidates": [{"name": "a"}, {"name": "a"}]}}, "repeated: ['a']"),
    ({"modelSelection": {}, "proxyTaskSearch": {"candidates": [{"name": "a"}], "desiredCorrelation": None}},
     "set desiredCorrelation or desiredAccuracy"),
    ({"modelSelection": {}, "proxyTaskSearch": {"generator": "not a reference"}}, "package.module:function"),
    ({"modelSelection": {}, "proxyTaskSearch": {"candidates": [{"name": "bad name"}]}}, "letters, digits"),
    ({"search": {"maxTrials": 2, "useBestProxyTask": True}}, "needs a proxyTaskSearch stage"),
    ({"varianceMeasurement": {"copies": 1}}, "greater than or equal to 2"),
    ({"train": {"frequency": 0}}, "greater than or equal to 1"),
    ({"backend": {"type": "vertex", "project": "p", "region": "us-central1", "containerImage": "img:1",
                  "stagingUri": "gs://b/s"}, "search": {"maxTrials": 2, "algorithm": "REINFORCEMENT_LEARNING"},
      "varianceMeasurement": {}}, "which a Vertex NasJob (REINFORCEMENT_LEARNING) does not run"),
])
def test_inconsistent_settings_are_rejected(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        experiment(**spec)
