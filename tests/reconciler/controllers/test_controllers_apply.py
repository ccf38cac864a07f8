"""Every controller through the real `nasctl apply`: a search interrupted and resumed has no duplicates."""
from __future__ import annotations

import json

import pytest

from tests.conftest import nb201_spec

SETTINGS = {"random": {}, "grid": {}, "evolution": {"populationSize": 5, "tournamentSize": 2},
            "reinforce": {}, "bayesopt": {"initialTrials": 4}}


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", sorted(SETTINGS))
def test_apply_then_resume_with_more_trials(algorithm: str, write_spec, nasctl) -> None:
    def spec(max_trials: int):
        return write_spec(nb201_spec(max_trials=max_trials, parallel=3, top_n=None, algorithm=algorithm,
                                     algorithmSettings=SETTINGS[algorithm]))

    nasctl("apply", "-f", str(spec(8)), "--yes", "--no-progress", check=True)
    first = json.loads(nasctl("trials", "-f", str(spec(8)), "-o", "json", check=True).stdout)
    nasctl("apply", "-f", str(spec(14)), "--yes", "--no-progress", check=True)
    trials = json.loads(nasctl("trials", "-f", str(spec(14)), "-o", "json", check=True).stdout)
    assert trials[:8] == first
    assert len(trials) == 14 and all(t["status"] == "succeeded" for t in trials)
    assert len({json.dumps(t["arch"], sort_keys=True) for t in trials}) == 14, "an architecture was searched twice"
