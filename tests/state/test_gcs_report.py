"""On gs:// state, the proxy-task stages' plots are stored in the bucket and `nasctl report` brings them out."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adaptors.gcp import storage_client
from tests.conftest import nb201_spec


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_stage_plots_and_report_work_on_gcs_state(gcs_bucket: str, tmp_path: Path) -> None:
    spec = nb201_spec(max_trials=2, parallel=2, top_n=None)
    spec["spec"]["stateUri"] = f"gs://{gcs_bucket}/state"
    spec["spec"]["varianceMeasurement"] = {"copies": 2, "parallelTrials": 2, "trainerArgs": {"mode": "proxy"}}
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")

    def nasctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nasctl.cli", *args, "-f", str(path)], cwd=tmp_path,
                              env=dict(os.environ, COLUMNS="200"), capture_output=True, text=True, timeout=200)

    applied = nasctl("apply", "--yes", "--no-progress")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    stored = {blob.name for blob in storage_client().list_blobs(gcs_bucket, prefix="state/exp/varianceMeasurement/")}
    assert stored == {"state/exp/varianceMeasurement/state.json", "state/exp/varianceMeasurement/variance_curves.png"}

    report = nasctl("report")
    assert report.returncode == 0, report.stdout + report.stderr
    printed = [Path(line) for line in report.stdout.split()]
    plot = tmp_path / "nasctl-report" / "exp" / "varianceMeasurement" / "variance_curves.png"
    assert plot.relative_to(tmp_path) in [p if not p.is_absolute() else p.relative_to(tmp_path) for p in printed]
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "nasctl-report" / "exp" / "search_curve.png").read_bytes().startswith(b"\x89PNG")
