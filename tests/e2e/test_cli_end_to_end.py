"""The CLI end to end on the real local backend and the NB201 table: apply, diff, status, trials, faults."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from specs.loader import parse_experiment
from tests.conftest import NASCTL, REPO, nb201_spec
from tests.support.processes import pid_alive

pytestmark = pytest.mark.slow  # every test here runs the real CLI and trial processes


def test_apply_runs_search_and_stage_two_then_everything_is_idempotent(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec(max_trials=12, parallel=3, top_n=3))
    assert nasctl("diff", "-f", str(spec), "--detailed-exitcode").returncode == 2
    assert not (tmp_path / "state").exists(), "diff must write no state"

    applied = nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True)
    assert "Plan: 12 to create" in applied.stdout

    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Succeeded"
    assert status["generation"] == status["observedGeneration"]
    assert status["trials"] == {"total": 15, "succeeded": 15, "failed": 0, "running": 0, "pending": 0,
                                "stopped": 0}
    assert set(status["stages"]) == {"search", "train"}
    assert status["conditions"][0]["reason"] == "AllStagesComplete"

    trials = json.loads(nasctl("trials", "-f", str(spec), "-o", "json", check=True).stdout)
    search = [t for t in trials if t["stage"] == "search"]
    train = [t for t in trials if t["stage"] == "train"]
    assert len(search) == 12 and len({t["id"] for t in search}) == 12 and len(train) == 3
    top3 = sorted(search, key=lambda t: -t["reward"])[:3]
    assert {json.dumps(t["arch"]) for t in train} == {json.dumps(t["arch"]) for t in top3}
    # stage 2 reports the full-training (200-epoch) accuracy, not the proxy
    assert all(t["status"] == "succeeded" and 0 < t["reward"] <= 1 for t in trials)
    assert status["best"]["trialId"] == max(train, key=lambda t: t["reward"])["id"]

    assert nasctl("diff", "-f", str(spec), "--detailed-exitcode").returncode == 0
    again = nasctl("apply", "-f", str(spec), "--yes", check=True)
    assert "No changes" in again.stdout
    assert len(json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)) == 15


def test_raising_max_trials_adds_only_the_difference(write_spec, nasctl):
    spec = write_spec(nb201_spec(max_trials=6, parallel=2, top_n=None))
    nasctl("apply", "-f", str(spec), "--yes", check=True)
    before = json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)
    spec = write_spec(nb201_spec(max_trials=9, parallel=2, top_n=None))
    planned = json.loads(nasctl("diff", "-f", str(spec), "-o", "json").stdout)
    assert [a["trial_id"] for a in planned["actions"]] == ["search-0006", "search-0007", "search-0008"]
    nasctl("apply", "-f", str(spec), "--yes", check=True)
    after = json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)
    assert after[:6] == before and len(after) == 9


def test_diff_and_apply_change_nothing_in_an_experiment_an_older_nasctl_recorded(write_spec, nasctl, tmp_path):
    """The spec recorded without two defaulted fields (one under a refused path) and the generation in
    the older form (a hash with defaults filled in): no change, no refusal, nothing run again."""
    spec_doc = nb201_spec(max_trials=4, parallel=2, top_n=None)
    spec = write_spec(spec_doc)
    nasctl("apply", "-f", str(spec), "--yes", check=True)
    generation = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)["generation"]
    experiment_file = tmp_path / "state" / "exp" / "experiment.json"
    document = json.loads(experiment_file.read_text())
    recorded = document["data"]
    del recorded["spec"]["spec"]["search"]["algorithmSettings"], recorded["spec"]["spec"]["reward"]["softExponent"]
    with_defaults = parse_experiment(yaml.safe_dump(spec_doc)).model_dump(mode="json", by_alias=True)
    recorded["generation"] = recorded["observed_generation"] = hashlib.sha256(
        json.dumps(with_defaults, sort_keys=True).encode()).hexdigest()[:12]
    experiment_file.write_text(json.dumps(document))

    planned = json.loads(nasctl("diff", "-f", str(spec), "-o", "json", check=True).stdout)
    assert planned["specChanges"] == [] and planned["generation"] == planned["observedGeneration"] == generation
    assert nasctl("diff", "-f", str(spec), "--detailed-exitcode").returncode == 0
    assert "No changes" in nasctl("apply", "-f", str(spec), "--yes", check=True).stdout
    assert len(json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)) == 4


def test_non_interactive_apply_without_yes_refuses_and_writes_nothing(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec())
    result = nasctl("apply", "-f", str(spec))
    assert result.returncode == 1 and "pass --yes" in result.stderr
    assert not (tmp_path / "state").exists()


def test_bad_spec_exits_non_zero_with_line_and_writes_nothing(write_spec, nasctl, tmp_path):
    bad = nb201_spec()
    bad["spec"]["search"]["parallelTrials"] = "four"
    spec = write_spec(bad)
    for command in (["validate"], ["diff"], ["apply", "--yes"], ["status"]):
        result = nasctl(*command, "-f", str(spec))
        assert result.returncode == 1, command
        assert "spec.search.parallelTrials" in result.stderr and "exp.yaml:" in result.stderr
    assert not (tmp_path / "state").exists()


def test_corrupt_state_is_an_error_naming_the_file(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec(max_trials=3, parallel=1, top_n=None))
    nasctl("apply", "-f", str(spec), "--yes", check=True)
    trials_file = tmp_path / "state" / "exp" / "trials.json"
    trials_file.write_text("{not json")
    for command in (["status"], ["diff"], ["apply", "--yes"]):
        result = nasctl(*command, "-f", str(spec))
        assert result.returncode == 1
        assert str(trials_file) in result.stderr.replace("\n", "")
    assert trials_file.read_text() == "{not json"


def test_lock_held_by_a_live_apply_is_refused_until_unlocked(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec(max_trials=2, parallel=1, top_n=None))
    lock = tmp_path / "state" / "exp" / "lock.json"
    lock.parent.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "60"])  # a live process on this host holds the lease
    try:
        lock.write_text(json.dumps({"holder": f"{os.uname().nodename}:{sleeper.pid}",
                                    "expires_at": time.time() + 600, "token": "t"}))
        result = nasctl("apply", "-f", str(spec), "--yes")
        assert result.returncode == 1
        assert f":{sleeper.pid} until" in result.stderr and "unlock --force" in result.stderr
        assert not (tmp_path / "state" / "exp" / "trials.json").exists()
        assert nasctl("unlock", "-f", str(spec)).returncode == 1  # needs --force
        assert "removed lock" in nasctl("unlock", "-f", str(spec), "--force", check=True).stdout
        nasctl("apply", "-f", str(spec), "--yes", check=True)
    finally:
        sleeper.kill()


FAULTY_TRAINER = '''
import math, os, time
from trial.protocol import FAILED_NAN, TrialFailure

def train(ctx):
    edges = ctx.arch()["edges"]
    if edges[0] == "none":
        os._exit(3)  # a hard crash: no result written by the trainer
    if edges[0] == "skip_connect":
        raise TrialFailure(FAILED_NAN, "loss became NaN at step 3")
    if edges[0] == "avg_pool_3x3":
        time.sleep(30)  # exceeds timeoutSeconds
    if edges[0] == "nor_conv_1x1":
        return {"accuracy": math.nan}
    return {"accuracy": 0.9}
'''


def test_crashes_nan_and_timeouts_are_recorded_with_reasons(write_spec, nasctl, tmp_path):
    (tmp_path / "faulty_trainer.py").write_text(FAULTY_TRAINER)
    spec = nb201_spec(max_trials=20, parallel=4, top_n=None, timeoutSeconds=3, maxFailedTrials=20)
    spec["spec"]["trainer"] = {"module": "faulty_trainer:train"}
    spec = write_spec(spec)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True, timeout=240)
    trials = json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)
    assert len(trials) == 20
    expected = {"none": "crashed", "skip_connect": "nan", "avg_pool_3x3": "timeout", "nor_conv_1x1": "nan"}
    for trial in trials:
        first = trial["arch"]["edges"][0]
        if first in expected:
            assert (trial["status"], trial["reason"]) == ("failed", expected[first]), trial
        else:
            assert trial["status"] == "succeeded" and trial["reward"] == 0.9
    assert {t["reason"] for t in trials if t["status"] == "failed"} == {"crashed", "nan", "timeout"}, "each kind seen"


def test_exceeding_max_failed_trials_fails_the_experiment_with_a_reason(write_spec, nasctl, tmp_path):
    (tmp_path / "faulty_trainer.py").write_text(FAULTY_TRAINER)
    spec = nb201_spec(max_trials=30, parallel=2, top_n=None, maxFailedTrials=1)
    spec["spec"]["trainer"] = {"module": "faulty_trainer:train"}
    spec["spec"]["searchSpace"] = {"choices": {"edges": [["skip_connect"] * 6]}}
    spec = write_spec(spec)
    result = nasctl("apply", "-f", str(spec), "--yes", "--no-progress", timeout=120)
    assert result.returncode == 1
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json").stdout)
    assert status["phase"] == "Failed"
    [condition] = status["conditions"]
    assert condition["reason"] == "TooManyFailedTrials" and "loss became NaN" in condition["message"]
    assert status["trials"]["failed"] >= 2 and status["trials"]["total"] < 30


def test_apply_once_runs_a_single_pass_and_later_passes_continue(write_spec, nasctl):
    spec = write_spec(nb201_spec(max_trials=5, parallel=2, top_n=None, trainerArgs={"mode": "proxy",
                                                                                     "delaySeconds": 1.0}))
    nasctl("apply", "-f", str(spec), "--yes", "--once", check=True)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json").stdout)
    assert status["phase"] == "Running" and status["trials"]["total"] == 2
    assert status["conditions"][0]["reason"] == "TrialsRunning"
    nasctl("apply", "-f", str(spec), "--yes", check=True)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json").stdout)
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 5


def test_latency_aware_search_reports_front_and_plots(write_spec, nasctl, tmp_path):
    spec = nb201_spec(max_trials=16, parallel=4, top_n=None)
    spec["spec"]["reward"] = {"metric": "accuracy", "latency": {"metric": "latency_fpga_ms", "target": 4.0}}
    spec = write_spec(spec)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    trials = {t["id"]: t for t in json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)}
    front = status["paretoFront"]
    assert front, "a latency-aware search shows its Pareto front"
    for point in front:  # no trial beats a front point on both objectives
        mine = trials[point["trialId"]]["metrics"]
        assert not any(t["metrics"]["accuracy"] > mine["accuracy"]
                       and t["metrics"]["latency_fpga_ms"] < mine["latency_fpga_ms"] for t in trials.values())
    assert any(t["metrics"]["latency_fpga_ms"] <= 4.0 for t in trials.values()), "the seed's search finds feasible ones"
    assert trials[status["best"]["trialId"]]["metrics"]["latency_fpga_ms"] <= 4.0  # so the best is one of them
    assert "Pareto front" in nasctl("status", "-f", str(spec), check=True).stdout

    printed = nasctl("report", "-f", str(spec), check=True).stdout.split()
    assert [Path(p).name for p in printed] == ["search_curve.png", "accuracy_latency.png"]
    for path in printed:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert Path(path).is_relative_to(tmp_path / "state" / "exp")


def test_spaces_lists_prebuilt_spaces_with_sizes_and_samples(nasctl):
    rows = json.loads(nasctl("spaces", "-o", "json", check=True).stdout)
    sizes = {row["name"]: row["size"] for row in rows}
    assert sizes["nb201"] == 15625
    samples = json.loads(nasctl("spaces", "--sample", "nb201", "-n", "4", check=True).stdout)
    assert len(samples) == 4 and len({json.dumps(s) for s in samples}) == 4
    assert nasctl("spaces", "--sample", "nope").returncode == 1


def test_latency_worker_once_on_an_experiment_with_nothing_to_measure(write_spec, nasctl):
    spec = write_spec(nb201_spec(max_trials=2, parallel=1, top_n=None))
    nasctl("apply", "-f", str(spec), "--yes", check=True)
    result = nasctl("latency-worker", "-f", str(spec), "--once", check=True)
    assert "measured 0 trials" in result.stdout  # tabular trials save no model to measure


def test_rewards_outside_vertex_range_are_warned_in_status(write_spec, nasctl, tmp_path):
    (tmp_path / "percent_trainer.py").write_text("def train(ctx):\n    return {'accuracy': 93.5}\n")
    spec = nb201_spec(max_trials=3, parallel=1, top_n=None)
    spec["spec"]["trainer"] = {"module": "percent_trainer:train"}
    spec = write_spec(spec)
    nasctl("apply", "-f", str(spec), "--yes", check=True)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json").stdout)
    [warning] = status["warnings"]
    assert warning.startswith("3 trial(s) have rewards outside [0.001, 10]") and "percentage" in warning
    assert "warning:" in nasctl("status", "-f", str(spec)).stdout
    trials = json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)
    assert all("outside" in t["message"] for t in trials)


def test_missing_cloud_credentials_is_one_clear_line_not_a_traceback(write_spec, tmp_path):
    spec = nb201_spec()
    spec["spec"]["stateUri"] = "gs://some-bucket/state"
    path = write_spec(spec)
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "CLOUDSDK_CONFIG")}
    # never probe a real metadata server: only loopback, and refused
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[2]), NO_GCE_CHECK="True",
               GCE_METADATA_HOST="127.0.0.1:9", GCE_METADATA_IP="127.0.0.1:9", CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
               HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "nasctl.cli", "status", "-f", str(path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Google Cloud: DefaultCredentialsError" in result.stderr
    assert "Traceback" not in result.stderr and "╭" not in result.stderr


def test_a_small_budget_stops_the_search_early_and_status_shows_the_spend(write_spec, nasctl):
    # $0.10 a trial-second; a trial takes 2 s or more (hours unknown: the first runs alone), so a $1
    # budget affords 5 at most of the 10
    spec = nb201_spec(max_trials=10, parallel=2, top_n=None)
    spec["spec"]["backend"]["trialHourUsd"] = 360.0
    spec["spec"]["trainer"]["args"] = {"delaySeconds": 2}
    spec["spec"]["budget"] = {"maxCostUsd": 1}
    path = write_spec(spec)
    result = nasctl("apply", "-f", str(path), "--yes", "--no-progress", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    status = json.loads(nasctl("status", "-f", str(path), "-o", "json", check=True).stdout)
    assert status["phase"] == "Failed"
    [condition] = status["conditions"]
    assert condition["reason"] == "BudgetExhausted" and "maxCostUsd $1.00" in condition["message"]
    assert 1 <= status["trials"]["succeeded"] == status["trials"]["total"] <= 5  # running trials finished
    cost = status["cost"]
    assert cost["maxCostUsd"] == 1 and 0.2 * status["trials"]["total"] <= cost["spentUsd"] <= cost["projectedUsd"]
    text = nasctl("status", "-f", str(path), check=True).stdout
    assert f"spent ${cost['spentUsd']:,.2f}" in text and "budget $1.00" in text
    planned = json.loads(nasctl("diff", "-f", str(path), "-o", "json").stdout)
    blocked = [a for a in planned["actions"] if a["blocked"]]
    assert blocked and all(a["reason"].startswith("budget exhausted") and not a["now"] for a in blocked)
    assert "(blocked)  # budget exhausted" in nasctl("diff", "-f", str(path)).stdout

    spec["spec"]["budget"] = {"maxCostUsd": 100}  # raised: the search goes on from what it has
    nasctl("apply", "-f", str(write_spec(spec)), "--yes", "--no-progress", check=True, timeout=120)
    status = json.loads(nasctl("status", "-f", str(path), "-o", "json", check=True).stdout)
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 10


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_apply_of_an_exhausted_budget_is_refused_before_any_pass_until_the_budget_is_raised(write_spec, nasctl,
                                                                                           tmp_path):
    # $0.10 a trial-second: the first trial (run alone to learn its hours) spends the $0.05 at once
    spec = nb201_spec(max_trials=2, parallel=1, top_n=None)
    spec["spec"]["backend"]["trialHourUsd"] = 360.0
    spec["spec"]["budget"] = {"maxCostUsd": 0.05}
    path = write_spec(spec)
    assert nasctl("apply", "-f", str(path), "--yes", "--no-progress", timeout=120).returncode == 1
    status = json.loads(nasctl("status", "-f", str(path), "-o", "json", check=True).stdout)
    assert (status["phase"], status["conditions"][0]["reason"], status["trials"]["total"]) == (
        "Failed", "BudgetExhausted", 1)
    recorded = _files(tmp_path / "state")

    for args in (["--yes"], []):  # refused before asking to confirm the plan
        refused = nasctl("apply", "-f", str(path), "--no-progress", *args)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "exp is Failed (BudgetExhausted)" in refused.stderr and "raise spec.budget.maxCostUsd" in refused.stderr
        assert "pass --yes" not in refused.stderr
        assert _files(tmp_path / "state") == recorded, "no pass: nothing written, no trial launched"
    assert nasctl("diff", "-f", str(path), "--detailed-exitcode").returncode == 0, "nothing apply would do"

    spec["spec"]["budget"] = {"maxCostUsd": 100}  # raised: not refused, the search goes on
    assert nasctl("diff", "-f", str(write_spec(spec)), "--detailed-exitcode").returncode == 2
    nasctl("apply", "-f", str(path), "--yes", "--no-progress", check=True, timeout=120)
    status = json.loads(nasctl("status", "-f", str(path), "-o", "json", check=True).stdout)
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 2


def _on_a_terminal(cwd: Path, args: list[str], answer: str) -> subprocess.CompletedProcess:
    """The CLI with a pseudo-terminal as stdin (an interactive session), given `answer` to its prompt."""
    import pty

    controller, terminal = pty.openpty()
    os.write(controller, f"{answer}\n".encode())
    try:
        return subprocess.run([*NASCTL, *args], cwd=cwd, env=dict(os.environ, PYTHONPATH=str(REPO)), stdin=terminal,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)




def test_delete_of_an_experiment_never_applied_is_one_clear_error_and_writes_nothing(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec(top_n=None))
    for args in (["--yes"], []):  # not asked to confirm the delete of nothing
        result = nasctl("delete", "-f", str(spec), *args)
        assert result.returncode == 1, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "exp: nothing is recorded at " in line and str(tmp_path / "state" / "exp") in line, line
        assert result.stdout == "" and not (tmp_path / "state").exists()


def test_delete_stops_running_trials_keeps_state_and_apply_refuses_until_undelete(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec(max_trials=4, parallel=2, top_n=None, trainerArgs={"mode": "proxy",
                                                                                     "delaySeconds": 12}))
    nasctl("apply", "-f", str(spec), "--yes", "--once", check=True)  # two trials left running
    pids = [json.loads((tmp_path / "state" / "exp" / "trials" / f"search-000{i}" / "launch.json").read_text())["pid"]
            for i in range(2)]
    assert all(pid_alive(pid) for pid in pids)

    refused = nasctl("delete", "-f", str(spec))  # no TTY, no --yes
    assert refused.returncode == 1 and "pass --yes" in refused.stderr and all(pid_alive(pid) for pid in pids)
    declined = _on_a_terminal(tmp_path, ["delete", "-f", str(spec)], answer="n")
    assert declined.returncode == 1 and "mark it deleted (its state is kept)? [y/N]" in declined.stdout
    assert "Cancelled; nothing was changed." in declined.stdout and all(pid_alive(pid) for pid in pids)

    deleted = nasctl("delete", "-f", str(spec), "--yes", check=True)
    assert "exp deleted; stopped 2: search-0000, search-0001" in deleted.stdout
    deadline = time.time() + 10
    while any(pid_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(pid) for pid in pids)
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Deleted" and status["conditions"][0]["reason"] == "DeletedByUser"
    trials = json.loads(nasctl("trials", "-f", str(spec), "-o", "json", check=True).stdout)
    assert [(t["id"], t["status"], t["reason"]) for t in trials] == [
        ("search-0000", "stopped", "deleted"), ("search-0001", "stopped", "deleted")]  # the records are kept

    again = nasctl("apply", "-f", str(spec), "--yes")
    assert again.returncode == 1 and "exp was deleted" in again.stderr and "apply --undelete" in again.stderr
    assert "deleted: apply refuses" in nasctl("diff", "-f", str(spec), check=True).stdout

    undeleted = nasctl("apply", "-f", str(spec), "--yes", "--undelete", "--no-progress", check=True)
    assert "2 trials the delete stopped run again" in undeleted.stdout
    status = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 4


def test_a_known_failure_keeps_its_traceback_when_asked(write_spec, tmp_path):
    """One line for the user; NASCTL_TRACEBACK=1 adds where it came from, for a bug report."""
    spec = nb201_spec()
    spec["spec"]["search"]["algorithmSettings"] = {"populationSize": 1}
    spec["spec"]["search"]["algorithm"] = "evolution"
    path = write_spec(spec)
    run = [sys.executable, "-m", "nasctl.cli", "validate", "-f", str(path)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    plain = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    traced = subprocess.run(run, cwd=tmp_path, env={**env, "NASCTL_TRACEBACK": "1"}, capture_output=True, text=True,
                            timeout=60)
    assert plain.returncode == traced.returncode == 1
    assert "populationSize" in plain.stderr and "Traceback" not in plain.stderr
    assert "Traceback" in traced.stderr and "SpecError" in traced.stderr and "populationSize" in traced.stderr
