"""Random specs and random state corruptions through the CLI: never a traceback, never a write outside
the state directory, never a silent fresh start."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from nasctl.cli import app
from tests.conftest import nb201_spec

SPEC = "exp.yaml"
STATE = Path("state") / "exp"
CORRUPTIBLE = ["experiment.json", "trials.json", "lock.json", "trials/search-0000/result.json",
               "trials/search-0000/metrics.jsonl", "trials/search-0000/launch.json", "trials/search-0001/stop.json"]
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
                           | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished experiment's folder (spec and state), copied afresh by each example."""
    folder = tmp_path_factory.mktemp("applied")
    (folder / SPEC).write_text(yaml.safe_dump(nb201_spec(max_trials=3, parallel=3, top_n=None)))
    with _inside(folder):
        result = CliRunner().invoke(app, ["apply", "-f", SPEC, "--yes", "--no-progress"])
    assert result.exit_code == 0, result.output
    return folder


class _inside:  # noqa: N801 - a context manager used like a function
    def __init__(self, folder: Path):
        self.folder, self.previous = folder, Path.cwd()

    def __enter__(self) -> None:
        os.chdir(self.folder)

    def __exit__(self, *_: Any) -> None:
        os.chdir(self.previous)


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def _run(args: list[str]) -> Any:
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"nasctl {' '.join(args)} raised {result.exception!r}:\n{result.output}")
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    return result


def _corrupt(path: Path, how: str, value: Any) -> None:
    if how == "delete":
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"empty": b"", "garbage": b"\x00\xff{[not json", "truncated": path.read_bytes()[: len(path.read_bytes()) // 2]
               if path.exists() else b"{", "json": json.dumps(value).encode(),
               "envelope": json.dumps({"generation": 1, "data": value}).encode()}[how]
    path.write_bytes(payload)


@contextlib.contextmanager
def _copy_of(folder: Path) -> Iterator[Path]:
    """A fresh copy of `folder`, as the working directory, removed afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "exp"
        shutil.copytree(folder, copy)
        with _inside(copy):
            yield copy


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(CORRUPTIBLE),
       how=st.sampled_from(["delete", "empty", "garbage", "truncated", "json", "envelope"]), value=JSON_VALUES,
       command=st.sampled_from([["status", "-o", "json"], ["diff", "-o", "json"], ["trials", "-o", "json"],
                                ["unlock", "--force"], ["cost", "-o", "json"]]))
def test_corrupt_state_gives_clear_errors_and_never_a_silent_reset(applied, target, how, value, command):
    with _copy_of(applied) as folder:
        _corrupt(folder / STATE / target, how, value)
        before = _files(folder)
        result = _run([command[0], "-f", SPEC, *command[1:]])
        written = _files(folder) - before
        assert all(str(p).startswith(str(STATE)) for p in written), written
        if result.exit_code == 0 or (command[0] == "diff" and result.exit_code == 2):
            _assert_nothing_forgotten(command[0], result.stdout)


def _assert_nothing_forgotten(command: str, stdout: str) -> None:
    """A command that succeeds on damaged state still sees the 3 recorded trials: it reads them, or it is an error."""
    if command == "trials":
        assert len(json.loads(stdout)) == 3, "the recorded trials are all still there, or it is an error"
    elif command == "status":
        assert json.loads(stdout)["trials"]["total"] == 3, "status shows the recorded trials, or it is an error"
    elif command == "diff":
        created = [a["trial_id"] for a in json.loads(stdout)["actions"] if a["kind"] == "create"]
        assert not created, f"diff plans {created} again: the state was read as empty"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(["spec", "search", "maxTrials", "trainer", "args", "searchSpace", "metadata",
                                      "name", "reward", "train", "topN", "backend", "type", "stateUri", "seed"]),
                     min_size=1, max_size=4), value=JSON_VALUES,
       command=st.sampled_from(["validate", "diff"]))
def test_random_specs_are_valid_or_a_clear_error(applied, path, value, command):
    document: Any = nb201_spec(max_trials=3, parallel=3, top_n=None)
    node = document
    for key in path[:-1]:
        if not isinstance(node, dict):
            break
        node = node.setdefault(key, {})
    if isinstance(node, dict):
        node[path[-1]] = value
    with _copy_of(applied) as folder:
        (folder / SPEC).write_text(yaml.safe_dump(document))
        before = _files(folder)
        result = _run([command, "-f", SPEC])
        assert _files(folder) == before, "validate and diff write nothing"
        if result.exit_code == 1:
            assert result.output.strip(), "an error says what is wrong"
