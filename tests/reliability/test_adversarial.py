"""What an adversarial user tries: crashes before the phase is recorded, specs that run code or cost
unbounded work, duplicate keys, lost and corrupt state, spec changes that would mix two experiments.
Every answer is a clear one-line error or the right result: never a traceback, never a silent reset."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import NASCTL, REPO, nb201_spec

pytestmark = pytest.mark.slow  # every test here runs the real CLI and trial processes
STATE = Path("state") / "exp"


def _one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


# -- 1. recovery always converges -------------------------------------------------------------------
def _held(lock: Path) -> bool:
    """Whether a trial process still holds its run lock."""
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def test_a_killed_apply_is_followed_by_one_that_records_the_terminal_phase(write_spec, nasctl, tmp_path):
    spec = write_spec(nb201_spec(max_trials=4, parallel=4, top_n=None, trainerArgs={"delaySeconds": 2}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    apply = subprocess.Popen([*NASCTL, "apply", "-f", str(spec), "--yes", "--no-progress"], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    trials_file = tmp_path / STATE / "trials.json"
    deadline = time.time() + 60
    while time.time() < deadline:  # until all four trials are recorded as running
        if trials_file.exists() and sum(t["status"] == "running" for t in
                                        json.loads(trials_file.read_text())["data"]["trials"]) == 4:
            break
        time.sleep(0.05)
    else:
        os.killpg(apply.pid, signal.SIGKILL)
        pytest.fail("the four trials were never recorded as running")
    apply.send_signal(signal.SIGKILL)  # the trials live on in their own sessions
    apply.wait(timeout=10)
    locks = [tmp_path / STATE / "trials" / f"search-{i:04d}" / "run.lock" for i in range(4)]
    deadline = time.time() + 120
    while any(_held(lock) for lock in locks) and time.time() < deadline:  # they finish with nobody watching
        time.sleep(0.1)

    stale = json.loads(nasctl("status", "-f", str(spec), "-o", "json", check=True).stdout)
    assert stale["phase"] in ("Pending", "Running"), "killed before it could record more"
    diff = nasctl("diff", "-f", str(spec), "-o", "json", "--detailed-exitcode")
    assert diff.returncode == 2, "recording what finished is a change"
    assert json.loads(diff.stdout)["phaseChange"] == {"from": stale["phase"], "to": "Succeeded"}
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True)
    assert json.loads(nasctl("status", "-f", str(spec), "-o", "json").stdout)["phase"] == "Succeeded"
    assert nasctl("diff", "-f", str(spec), "--detailed-exitcode").returncode == 0


def test_apply_on_a_failed_experiment_exits_non_zero_every_time(write_spec, nasctl, tmp_path):
    (tmp_path / "broken_trainer.py").write_text("def train(ctx):\n    raise RuntimeError('boom')\n")
    spec_doc = nb201_spec(max_trials=3, parallel=1, top_n=None, maxFailedTrials=0)
    spec_doc["spec"]["trainer"] = {"module": "broken_trainer:train"}
    spec = write_spec(spec_doc)
    assert nasctl("apply", "-f", str(spec), "--yes", "--no-progress").returncode == 1
    again = nasctl("apply", "-f", str(spec), "--yes", "--no-progress")
    assert again.returncode == 1 and "TooManyFailedTrials" in again.stderr



def _stall(process: subprocess.Popen, mutex: Path) -> None:
    """SIGSTOP the process at a moment it does not hold the state's mutex (stopped inside a write, it would
    block the takeover for good)."""
    while True:
        process.send_signal(signal.SIGSTOP)
        if not _held(mutex):
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(0.01)


def test_an_apply_whose_lock_was_taken_over_stops_without_writing(write_spec, nasctl, tmp_path):
    """A human force-unlocks a running apply and another holder takes the lock: the deposed apply's next
    write (recording its finished trials) is refused, it exits 1 with one line, the state is the new holder's."""
    from state.local import _MUTEX, LocalStore  # noqa: PLC0415

    spec = write_spec(nb201_spec(max_trials=4, parallel=4, top_n=None, trainerArgs={"delaySeconds": 3}))
    apply = subprocess.Popen([*NASCTL, "apply", "-f", str(spec), "--yes", "--no-progress"], cwd=tmp_path,
                             env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    store = LocalStore(tmp_path / STATE)
    deadline = time.time() + 60
    while time.time() < deadline:  # until all four trials are recorded as running
        trials = store.get("trials.json")
        if trials and sum(t["status"] == "running" for t in trials.data["trials"]) == 4:
            break
        time.sleep(0.05)
    else:
        apply.kill()
        pytest.fail("the four trials were never recorded as running")
    try:
        _stall(apply, store.root / _MUTEX)  # a stalled process: its next write comes after the whole takeover
        store.force_unlock()
        intruder = store.acquire_lock("intruder:1", lease_seconds=600)
        taken_over = store.get("trials.json")
    finally:
        apply.send_signal(signal.SIGCONT)  # never left stopped, whatever failed
    _, stderr = apply.communicate(timeout=60)
    assert apply.returncode == 1 and "Traceback" not in stderr, stderr
    assert "was taken over by intruder:1" in stderr, stderr
    assert store.get("trials.json") == taken_over  # nothing written after the takeover
    assert store.read_lock() == intruder  # and the deposed apply did not release the new holder's lock

# -- 2. diff and validate run no code named by the spec ---------------------------------------------
MARKER_MODULE = """
from pathlib import Path
Path(__file__).with_name("ran.txt").write_text("imported")

def space():
    import pyglove as pg
    return pg.Dict(edges=pg.oneof([["none"] * 6, ["skip_connect"] * 6]))

def candidates(baseline):
    return [{"name": "c", "trainerArgs": {}}]
"""


def test_validate_and_diff_never_import_code_the_spec_names(write_spec, nasctl, tmp_path):
    (tmp_path / "sneaky.py").write_text(MARKER_MODULE)
    spec_doc = nb201_spec(max_trials=2, parallel=2, top_n=None)
    spec_doc["spec"]["searchSpace"] = {"function": "sneaky:space"}
    spec = write_spec(spec_doc)
    assert nasctl("validate", "-f", str(spec)).returncode == 0
    diff = nasctl("diff", "-f", str(spec), "-o", "json", "--detailed-exitcode")
    assert diff.returncode == 2, diff.stderr
    assert [a["reason"] for a in json.loads(diff.stdout)["actions"]] == ["architecture proposed at apply"] * 2
    assert not (tmp_path / "ran.txt").exists(), "diff imported the spec's module"
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True)  # the spec's own folder is trusted
    assert (tmp_path / "ran.txt").exists()


CONTINUOUS_SPACE = """
def space():
    import pyglove as pg
    return pg.Dict(edges=pg.oneof([["none"] * 6, ["skip_connect"] * 6]), lr=pg.floatv(0.01, 0.1))
"""


@pytest.mark.parametrize("edit, needle, validates", [
    (lambda s: s["spec"].update(searchSpace={"function": "continuous:space"}),
     "bayesopt: decision lr is not a flat pg.oneof", True),  # it takes the space's code (or a run) to tell
    (lambda s: s["spec"]["search"].update(algorithm="evolution",
                                          algorithmSettings={"populationSize": 4, "tournamentSize": 9}),
     "spec.search.algorithmSettings: tournamentSize (9) must not exceed populationSize (4)", False),
])
def test_a_search_the_controller_refuses_stops_apply_before_the_proxy_stages(write_spec, nasctl, tmp_path,
                                                                             edit, needle, validates):
    """The search would start only after the proxy-task stages (hours on real trainers): `apply` builds its
    controller first, so the error comes at once and nothing is launched or recorded."""
    (tmp_path / "continuous.py").write_text(CONTINUOUS_SPACE)
    spec_doc = nb201_spec(max_trials=2, parallel=2, top_n=None, algorithm="bayesopt")
    spec_doc["spec"]["varianceMeasurement"] = {"copies": 2, "trainerArgs": {"mode": "proxy"}}
    edit(spec_doc)
    spec = write_spec(spec_doc)
    assert (nasctl("validate", "-f", str(spec)).returncode == 0) == validates
    _one_line_error(nasctl("apply", "-f", str(spec), "--yes", "--no-progress"), needle)
    assert not (tmp_path / STATE / "trials.json").exists()


@pytest.mark.parametrize("field, reference", [
    ("searchSpace", {"function": "subprocess:getoutput"}),
    ("searchSpace", {"function": "os:system"}),
    ("trainer", {"module": "subprocess:run"}),
])
def test_apply_never_imports_the_standard_library_as_user_code(write_spec, nasctl, tmp_path, field, reference):
    spec_doc = nb201_spec(max_trials=2, parallel=1, top_n=None)
    spec_doc["spec"][field] = reference
    spec = write_spec(spec_doc)
    _one_line_error(nasctl("apply", "-f", str(spec), "--yes", "--no-progress"), "standard library")
    assert not (tmp_path / STATE / "trials.json").exists(), "nothing recorded"


def test_a_generator_outside_the_spec_repository_needs_an_explicit_allowance(write_spec, nasctl, tmp_path):
    spec_doc = nb201_spec(max_trials=2, parallel=1, top_n=None)
    spec_doc["spec"]["modelSelection"] = {"startModels": 3, "finalModels": 2}
    spec_doc["spec"]["proxyTaskSearch"] = {"generator": "tests.support.trainer_fixtures:nothing"}
    spec = write_spec(spec_doc)
    _one_line_error(nasctl("apply", "-f", str(spec), "--yes", "--no-progress"), "--allow-module")
    assert not (tmp_path / STATE).exists()


# -- 3 and 4. bounded, strict specs -----------------------------------------------------------------
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unbounded_specs_are_refused_by_validate(nasctl, tmp_path):
    base = yaml.safe_dump(nb201_spec(top_n=None))
    _one_line_error(nasctl("validate", "-f", str(_write(tmp_path, base.replace("maxTrials: 12",
                                                                                  "maxTrials: 1000000000")))),
                    "spec.search.maxTrials", "100000")
    bomb = "x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"x{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 10)}]\n" for i in range(7))
    _one_line_error(nasctl("validate", "-f", str(_write(tmp_path, bomb + base))), "aliases are expanded")
    _one_line_error(nasctl("validate", "-f", str(_write(tmp_path, "a: " + "[" * 20000 + "]" * 20000))),
                    "nested deeper than")
    _one_line_error(nasctl("validate", "-f", str(_write(tmp_path, base + "#" * 2_000_000))), "larger than")


def test_duplicate_keys_are_errors_with_both_lines(nasctl, tmp_path):
    text = yaml.safe_dump(nb201_spec(max_trials=4, top_n=None), sort_keys=False).replace(
        "    maxTrials: 4\n", "    maxTrials: 4\n    maxTrials: 400\n")
    path = _write(tmp_path, text)
    first = text.splitlines().index("    maxTrials: 4") + 1
    _one_line_error(nasctl("validate", "-f", str(path)), f"{path}:{first + 1}:", f"first at line {first}")


@pytest.mark.parametrize("edit, needle", [
    (lambda s: s["spec"]["search"].update(maxTrials=True), "expected a number, got a boolean"),
    (lambda s: s["spec"].update(reward={"metric": "accuracy", "latency": {"metric": "l", "target": 1.0,
                                                                         "weight": float("nan")}}), "finite"),
    (lambda s: s["metadata"].update(name="exp\n"), "metadata.name"),
    (lambda s: s["spec"]["train"].update(topN=50), "spec.train: topN (50) is more than search.maxTrials"),
    (lambda s: s["spec"]["trainer"].update(prebuilt="[/oops]"), "[/oops]"),
])
def test_quietly_accepted_values_are_now_clear_errors(write_spec, nasctl, edit, needle):
    spec_doc = nb201_spec(max_trials=12, top_n=3)
    edit(spec_doc)
    _one_line_error(nasctl("validate", "-f", str(write_spec(spec_doc))), needle)


# -- 5 and 6. state that never silently resets; escape hatches on corrupt state -------------------
def _applied(write_spec, nasctl) -> Path:
    spec = write_spec(nb201_spec(max_trials=3, parallel=3, top_n=None))
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True)
    return spec


@pytest.mark.parametrize("content", [None, json.dumps({"generation": 9, "data": {"trials": []}})])
def test_a_lost_or_emptied_trials_file_is_a_named_error_not_a_fresh_start(write_spec, nasctl, tmp_path, content):
    spec = _applied(write_spec, nasctl)
    trials = tmp_path / STATE / "trials.json"
    trials.unlink() if content is None else trials.write_text(content)
    for command in ("status", "diff", "apply"):
        _one_line_error(nasctl(command, "-f", str(spec), "--yes") if command == "apply"
                        else nasctl(command, "-f", str(spec)), "trials.json", "records 3 trials")
    assert not trials.exists() if content is None else json.loads(trials.read_text())["data"]["trials"] == []


def test_unlock_force_removes_a_garbage_lock(write_spec, nasctl, tmp_path):
    spec = _applied(write_spec, nasctl)
    (tmp_path / STATE / "lock.json").write_bytes(b"\x00\xffnot json")
    removed = nasctl("unlock", "-f", str(spec), "--force")
    assert removed.returncode == 0 and "unreadable lock" in removed.stdout
    assert not (tmp_path / STATE / "lock.json").exists()


MALFORMED_TRAINER = """
import json, os


def train(ctx):
    (ctx.dir.path / "result.json").write_text(json.dumps({result!r}) if {raw!r} is None else {raw!r})
    os._exit(0)  # the runner never writes the real result
"""


@pytest.mark.parametrize("result, raw, needle", [
    ({"metrics": {"accuracy": 0.5}}, None, "not a trial result"),
    ([1, 2, 3], None, "not a trial result"),
    ({"status": "great"}, None, "not a trial result"),
    (None, "{not json", "not valid JSON"),
])
def test_a_malformed_result_fails_its_trial_with_the_reason(write_spec, nasctl, tmp_path, result, raw, needle):
    (tmp_path / "malformed_trainer.py").write_text(MALFORMED_TRAINER.format(result=result, raw=raw))
    spec_doc = nb201_spec(max_trials=1, parallel=1, top_n=None, maxFailedTrials=1)
    spec_doc["spec"]["trainer"] = {"module": "malformed_trainer:train"}
    spec = write_spec(spec_doc)
    applied = nasctl("apply", "-f", str(spec), "--yes", "--no-progress")
    assert applied.returncode == 0 and "Traceback" not in applied.stderr, applied.stderr
    [trial] = json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)
    assert trial["status"] == "failed" and needle in trial["message"], trial


def test_a_trial_id_with_path_parts_is_a_named_error(write_spec, nasctl, tmp_path):
    spec = _applied(write_spec, nasctl)
    path = tmp_path / STATE / "trials.json"
    document = json.loads(path.read_text())
    document["data"]["trials"][0]["id"] = "../../escape-0000"
    path.write_text(json.dumps(document))
    _one_line_error(nasctl("diff", "-f", str(spec)), "trials.json", "invalid trial id")
    assert not (tmp_path / "escape-0000").exists()


# -- 7. spec changes are shown; those that cannot apply in place are refused ------------------------
def test_diff_shows_every_changed_field_and_refuses_replacements(write_spec, nasctl, tmp_path):
    spec_doc = nb201_spec(max_trials=4, parallel=2, top_n=None)
    spec = write_spec(spec_doc)
    nasctl("apply", "-f", str(spec), "--yes", "--no-progress", check=True)

    spec_doc["spec"]["search"]["maxTrials"] = 6  # in place
    raised = json.loads(nasctl("diff", "-f", str(write_spec(spec_doc)), "-o", "json").stdout)
    assert {"path": "spec.search.maxTrials", "old": 4, "new": 6, "refused": None} in raised["specChanges"]

    for edit, path in ((lambda s: s["spec"]["search"].update(maxTrials=2), "spec.search.maxTrials"),
                       (lambda s: s["spec"]["search"].update(seed=99), "spec.search.seed"),
                       (lambda s: s["spec"]["searchSpace"].update(prebuilt="mnasnet"), "spec.searchSpace.prebuilt"),
                       (lambda s: s["spec"]["search"].update(trainerArgs={"mode": "full"}),
                        "spec.search.trainerArgs.mode"),
                       (lambda s: s["spec"].update(reward={"limit": "soft"}), "spec.reward.limit")):
        changed = json.loads(json.dumps(nb201_spec(max_trials=4, parallel=2, top_n=None)))
        edit(changed)
        write_spec(changed)
        _one_line_error(nasctl("diff", "-f", str(spec)), path, "new metadata.name")
        _one_line_error(nasctl("apply", "-f", str(spec), "--yes", "--no-progress"), path)
    trials = json.loads(nasctl("trials", "-f", str(spec), "-o", "json").stdout)
    assert len(trials) == 4, "a refused change touched nothing"
