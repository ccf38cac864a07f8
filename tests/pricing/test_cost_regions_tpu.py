"""The price catalog covers every Vertex training region and TPUs: `nasctl cost` prices them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nasctl.cli import app
from reconciler.cost import estimate_cost
from specs.model import NASExperiment
from specs.vertex import TRAINING_REGIONS

EXAMPLE = Path(__file__).resolve().parents[2] / "specs" / "examples" / "test-drive-vertex.yaml"


def _spec(tmp_path: Path, region: str, search: dict | None = None) -> dict:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["stateUri"] = str(tmp_path / "state")
    data["spec"]["backend"]["region"] = region
    data["spec"]["search"]["algorithm"] = "random"  # CustomJobs: any training region
    if search:
        data["spec"]["backend"]["search"] = search
    return data


@pytest.mark.parametrize("region", sorted(TRAINING_REGIONS))
def test_every_training_region_is_priced(tmp_path: Path, region: str) -> None:
    report = estimate_cost(NASExperiment.model_validate(_spec(tmp_path, region))).to_json()
    assert report["totalCostUsd"] > 0


def test_cost_prices_a_tpu_search_in_asia_northeast1(tmp_path: Path) -> None:
    tpu = {"machineType": "cloud-tpu", "acceleratorType": "TPU_V3", "acceleratorCount": 8, "hoursPerTrial": 2}
    path = tmp_path / "tpu.yaml"
    path.write_text(yaml.safe_dump(_spec(tmp_path, "asia-northeast1", tpu)))
    result = CliRunner().invoke(app, ["cost", "-f", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    (stage,) = json.loads(result.output)["stages"]
    catalog = json.loads((Path(__file__).resolve().parents[2] / "pricing" / "prices.json").read_text())
    regions = catalog["regions"]
    hourly = 8 * regions["us-central1"]["accelerators"]["TPU_V3"] * regions["asia-northeast1"]["multiplier"]
    assert stage["costUsd"] == pytest.approx(stage["trials"] * 2 * hourly, rel=0.01)
