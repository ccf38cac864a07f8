"""The user-code policy of `apply`: what it imports, from where, and what its trial processes import."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from adaptors import user_code
from adaptors.user_code import UserCodeRefused, policy_for_apply, set_policy, with_import_roots


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec's repository holding one module; the process's import path and policy restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(user_code, "_policy", user_code._policy)
    (tmp_path / ".git").mkdir()
    (tmp_path / "experiments").mkdir()
    (tmp_path / "spaces_of_mine.py").write_text("def space():\n    return 1\n")
    return tmp_path


def test_the_spec_repository_goes_on_the_import_path_of_apply_and_its_trials(repository):
    policy = policy_for_apply(repository / "experiments" / "exp.yaml")
    set_policy(policy)
    policy.check("spaces_of_mine:space")  # found under the root, from any working directory
    assert user_code.import_reference("spaces_of_mine:space")() == 1
    env = with_import_roots({"PYTHONPATH": os.pathsep.join(["/opt/other", str(repository)])})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(repository), "/opt/other"]


def test_a_module_found_nowhere_says_where_it_was_looked_for(repository):
    policy = policy_for_apply(repository / "experiments" / "exp.yaml")
    set_policy(policy)
    with pytest.raises(UserCodeRefused, match=r"no module 'spaces_of_yours' in the spec's repository \(.*\) nor "
                                              r"installed; module names are relative to the repository's root"):
        policy.check("spaces_of_yours:space")


def test_diff_puts_nothing_on_the_import_path_of_its_processes(repository):
    set_policy(user_code.NO_USER_CODE)
    assert with_import_roots({"PYTHONPATH": "/opt/other"}) == {"PYTHONPATH": "/opt/other"}
    assert with_import_roots({}) == {}


def test_a_package_installed_in_a_virtualenv_inside_the_repository_is_not_the_repositorys_code(monkeypatch):
    """`make test` keeps .venv inside the repository: its packages (yaml, jax ...) are not user code."""
    import yaml  # noqa: PLC0415 - where it is installed is the point

    repository = Path(yaml.__file__).resolve().parents[3]  # a folder holding lib/pythonX.Y/site-packages/yaml
    policy = user_code.UserCodePolicy(enabled=True, roots=(repository,))
    with pytest.raises(UserCodeRefused, match="--allow-module yaml"):
        policy.check("yaml:unsafe_load")
