"""A search space and trainer of the user's own, in the spec's repository, run wherever `apply` is started."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # the real CLI and trial processes

SPACE = '''
import pyglove as pg

def space(width: int = 2):
    return pg.Dict(a=pg.oneof(list(range(width))), b=pg.oneof(["x", "y"]))
'''
TRAINER = '''
def train(ctx):
    arch = ctx.arch()
    return {"accuracy": 0.5 + 0.1 * arch["a"] + (0.05 if arch["b"] == "y" else 0.0)}
'''


def _spec(state: Path, package: str) -> dict:
    return {"apiVersion": "nasctl.dev/v1alpha1", "kind": "NASExperiment", "metadata": {"name": "mine"},
            "spec": {"stateUri": str(state), "searchSpace": {"function": f"{package}myspace:space", "args": {"width": 4}},
                     "trainer": {"module": f"{package}mytrainer:train"},
                     "search": {"algorithm": "random", "maxTrials": 3, "parallelTrials": 2}}}


@pytest.mark.parametrize("layout", ["beside the spec", "in a package of the spec's git repository"])
def test_apply_from_another_folder_imports_the_spec_repositorys_modules(nasctl, tmp_path, layout):
    repository = tmp_path / "repository"
    if layout == "beside the spec":
        code, spec_folder, package = repository, repository, ""
    else:  # experiments/exp.yaml names nasmods.myspace:space, nasmods/ at the repository's root
        (repository / ".git").mkdir(parents=True)
        code, spec_folder, package = repository / "nasmods", repository / "experiments", "nasmods."
        code.mkdir(parents=True)
        (code / "__init__.py").write_text("")
    spec_folder.mkdir(parents=True, exist_ok=True)
    (code / "myspace.py").write_text(SPACE)
    (code / "mytrainer.py").write_text(TRAINER)
    spec = spec_folder / "exp.yaml"
    spec.write_text(yaml.safe_dump(_spec(tmp_path / "state", package)))

    result = nasctl("apply", "-f", str(spec), "--yes", "--no-progress", timeout=300)  # run in tmp_path, not there
    assert result.returncode == 0, result.stdout + result.stderr
    trials = json.loads(nasctl("trials", "-f", str(spec), "-o", "json", check=True).stdout)
    assert [t["status"] for t in trials] == ["succeeded"] * 3
    for trial in trials:  # the user's trainer scored the user's space's architectures
        arch = trial["arch"]
        assert trial["reward"] == pytest.approx(0.5 + 0.1 * arch["a"] + (0.05 if arch["b"] == "y" else 0.0))
