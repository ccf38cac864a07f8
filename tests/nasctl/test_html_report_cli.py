"""`nasctl report --html [--watch]` on local and GCS state: what it writes, and that it never locks."""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.report_generation import synthetic_trials, write_experiment
from nasctl.cli import app
from nasctl.html_report.watch import watch, write_html
from reconciler.session import Session
from state.records import VARIANCE
from state.snapshot import save_trials
from tests.conftest import REPO, nb201_spec

runner = CliRunner()


def _embedded(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S).group(1))


def test_html_on_local_state(tmp_path: Path) -> None:
    spec = write_experiment(tmp_path, 40)
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["report", "-f", str(spec), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    assert len(_embedded(out)["trials"]) == 50  # 40 searched, 10 trained
    assert 'http-equiv="refresh"' not in out.read_text()


def test_watch_reads_the_state_afresh_for_every_rewrite(tmp_path: Path) -> None:
    session = Session.open(write_experiment(tmp_path, 20))
    out = tmp_path / "report.html"
    seen = []

    def between_rewrites(seconds: float) -> None:  # apply records more trials meanwhile
        seen.append(len(_embedded(out)["trials"]))
        state = session.state()
        state.trials = {t.id: t for t in synthetic_trials(30)}
        save_trials(session.store, state)

    assert watch(functools.partial(write_html, session, out, 5), 5, max_rewrites=2, sleep=between_rewrites) == 2
    assert seen == [30] and len(_embedded(out)["trials"]) == 40
    assert '<meta http-equiv="refresh" content="5">' in out.read_text()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_watch_runs_while_apply_holds_the_state_lock(tmp_path: Path) -> None:
    spec = write_experiment(tmp_path, 10)
    store = Session.open(spec).store
    with store.locked(holder="apply on another machine"):
        result = subprocess.run(
            [sys.executable, "-m", "nasctl.cli", "report", "-f", str(spec), "--watch", "1", "--max-rewrites", "2"],
            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200"), capture_output=True, text=True,
            timeout=100)
        assert result.returncode == 0, result.stdout + result.stderr
        assert store.read_lock().holder == "apply on another machine"
    page = Path(result.stdout.split()[-1])
    assert page == store.local_root / "report" / "report.html"
    assert len(_embedded(page)["trials"]) == 20


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_html_on_gcs_state_embeds_the_stage_plots_from_the_bucket(gcs_bucket: str, tmp_path: Path) -> None:
    spec = write_experiment(tmp_path, 30, state_uri=f"gs://{gcs_bucket}/state")
    store = Session.open(spec).store
    store.put_artifact(f"{VARIANCE}/state.json", json.dumps({"verdict": "GOOD", "cv": 0.01}).encode())
    store.put_artifact(f"{VARIANCE}/variance_curves.png", b"\x89PNG from the bucket")
    text = spec.read_text().replace("spec:\n", "spec:\n  varianceMeasurement: {copies: 2}\n", 1)
    spec.write_text(text)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "-f", str(spec), "--html", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert len(_embedded(out)["trials"]) == 40
    assert "data:image/png;base64,iVBORyBmcm9tIHRoZSBidWNrZXQ=" in page
    assert "varianceMeasurement: <span class=\"verdict\">GOOD</span>" in page


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_watch_beside_a_running_apply(write_spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both run to the end: apply is never blocked by the report, and the last page shows its trials."""
    spec = write_spec(nb201_spec(max_trials=12, parallel=3, top_n=None))
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    out = tmp_path / "live.html"
    apply = subprocess.Popen([sys.executable, "-m", "nasctl.cli", "apply", "-f", str(spec), "--yes", "--no-progress"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    report = subprocess.run([sys.executable, "-m", "nasctl.cli", "report", "-f", str(spec), "--html", str(out),
                             "--watch", "1", "--max-rewrites", "3"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    applied = apply.communicate(timeout=200)[0]
    assert report.returncode == 0, report.stdout + report.stderr
    assert apply.returncode == 0, applied
    assert out.exists() and 'http-equiv="refresh"' in out.read_text()
    monkeypatch.chdir(tmp_path)  # where the spec's relative stateUri lies
    assert runner.invoke(app, ["report", "-f", str(spec), "--html", str(out)]).exit_code == 0
    assert len(_embedded(out)["trials"]) == 12


def test_the_benchmark_state_is_one_apply_would_leave(tmp_path: Path) -> None:
    """Its stage-2 trainings are the top distinct architectures by the spec's reward: a finished search plans none."""
    spec = write_experiment(tmp_path, 2000)
    result = runner.invoke(app, ["diff", "-f", str(spec), "-o", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["summary"]["create"] == 0 and plan["phaseChange"]["to"] == "Succeeded"
