"""The reconcile-scale benchmark: its JSON contract, and GCS requests per no-op pass that do not grow with N."""
from __future__ import annotations

import json

import pytest

from benchmarks.reconcile_scale import main

KEYS = {"noopPassSeconds", "statusSeconds", "diffSeconds", "proposePassSeconds", "passInProcessSeconds",
        "gcsRequestsPerNoopPass", "gcsBytesPerNoopPass"}


@pytest.mark.slow
def test_json_contract_and_constant_requests_per_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sizes", "12", "40", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(result["sizes"]) == {"12", "40"}
    small, large = result["sizes"]["12"], result["sizes"]["40"]
    assert set(small) == KEYS and set(large) == KEYS
    assert all(value > 0 for value in (*small.values(), *large.values()))
    assert small["gcsRequestsPerNoopPass"] == large["gcsRequestsPerNoopPass"], "one read per document, any N"
    assert large["gcsBytesPerNoopPass"] > small["gcsBytesPerNoopPass"], "the trial index is read whole"
