"""`nasctl build`: the generated Dockerfile, .dockerignore and build commands."""
from __future__ import annotations

from pathlib import Path

import pytest

from nasctl.build import DOCKERFILE_NAME, build_commands, dockerfile, write_build_files


def test_dockerfile_installs_jax_gpu_and_the_project() -> None:
    text = dockerfile()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert 'pip install "jax[cuda12]"' in text
    copy, install = lines.index("COPY . /opt/nasctl"), lines.index("RUN pip install /opt/nasctl")
    assert copy < install  # the project is installed from the copied sources
    assert not any(line.startswith(("CMD", "ENTRYPOINT")) for line in lines)  # Vertex gives the command
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in text


def test_write_build_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    plan = write_build_files("us-docker.pkg.dev/p/r/trainer:1", tmp_path)
    assert plan.dockerfile == tmp_path / DOCKERFILE_NAME and plan.dockerfile.read_text() == dockerfile()
    ignored = plan.dockerignore.read_text().splitlines()
    assert ".venv" in ignored and ".nasctl" in ignored and ".git" in ignored
    assert plan.commands == [
        ["docker", "build", "--platform", "linux/amd64", "-f", str(tmp_path / DOCKERFILE_NAME),
         "-t", "us-docker.pkg.dev/p/r/trainer:1", str(tmp_path)],
        ["docker", "push", "us-docker.pkg.dev/p/r/trainer:1"],
    ]
    assert plan.shell().count(" && ") == 1


def test_an_existing_dockerignore_is_kept(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / ".dockerignore").write_text("mine\n")
    write_build_files("img:1", tmp_path)
    assert (tmp_path / ".dockerignore").read_text() == "mine\n"


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pyproject.toml"):
        write_build_files("img:1", tmp_path)
    with pytest.raises(ValueError, match="invalid container image"):
        build_commands("my image", tmp_path, tmp_path / DOCKERFILE_NAME)
