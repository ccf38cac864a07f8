"""`nasctl build [--push]`: the context is written, then Docker (its daemon answering) or else Cloud Build
builds and pushes it. `docker` and `gcloud` here are real executables on a PATH holding nothing else:
small shell scripts that record their command lines and exit as told (no Docker daemon on test machines)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nasctl.cli import app
from tests.conftest import REPO

IMAGE = "us-central1-docker.pkg.dev/my-project/nasctl/trainer:latest"
runner = CliRunner()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """The test-drive example (2 T4 per trial) with its state in a local folder."""
    data = yaml.safe_load((REPO / "specs" / "examples" / "test-drive-vertex.yaml").read_text())
    data["spec"]["stateUri"] = str(tmp_path / "state")
    path = tmp_path / "test-drive.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def path_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The only folder on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def install(folder: Path, name: str, exit_code: int = 0, info_exit_code: int = 0) -> None:
    """A `name` executable that appends its command line to calls.log, prints a line and exits `exit_code`
    (`info_exit_code` for `name info`: Docker's daemon check)."""
    script = folder / name
    script.write_text(f"""#!/bin/sh
{{ printf '%s' "${{0##*/}}"; for arg in "$@"; do printf ' %s' "$arg"; done; printf '\\n'; }} >> "{folder}/calls.log"
if [ "$1" = info ]; then exit {info_exit_code}; fi
echo "$1 step 1/1 done"
exit {exit_code}
""")
    script.chmod(0o755)


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _build(spec: Path, output: Path, *extra: str):  # noqa: ANN202
    return runner.invoke(app, ["build", "-f", str(spec), "--context", str(REPO), "--output", str(output), *extra],
                         env={"COLUMNS": "250"})


def test_without_push_it_writes_the_context_and_prints_the_commands(spec: Path, tmp_path: Path,
                                                                    path_dir: Path) -> None:
    install(path_dir, "docker")
    result = _build(spec, tmp_path / "ctx")
    assert result.exit_code == 0, result.output
    assert "wrote the cuda build context" in result.output  # T4s in the spec: the CUDA variant
    assert f"docker build --platform linux/amd64 -t {IMAGE} {tmp_path / 'ctx'} && docker push {IMAGE}" in result.output
    assert "jax-cuda12-plugin[with-cuda]==" in (tmp_path / "ctx" / "requirements.lock").read_text()
    assert calls(path_dir) == []  # nothing ran


def test_push_builds_and_pushes_with_docker_when_its_daemon_answers(spec: Path, tmp_path: Path,
                                                                    path_dir: Path) -> None:
    install(path_dir, "docker")
    install(path_dir, "gcloud")
    context = tmp_path / "ctx"
    result = _build(spec, context, "--push", "--variant", "tpu")
    assert result.exit_code == 0, result.output
    assert calls(path_dir) == ["docker info", f"docker build --platform linux/amd64 -t {IMAGE} {context}",
                               f"docker push {IMAGE}"]
    assert f"$ docker build --platform linux/amd64 -t {IMAGE} {context}\nbuild step 1/1 done\n" in result.output
    assert f"$ docker push {IMAGE}\npush step 1/1 done\n" in result.output and f"pushed {IMAGE} (docker)" in result.output
    assert "libtpu==" in (context / "requirements.lock").read_text()  # --variant wins over the spec's T4s


@pytest.mark.parametrize("docker_present", [False, True])
def test_push_falls_back_to_cloud_build(spec: Path, tmp_path: Path, path_dir: Path, docker_present: bool) -> None:
    if docker_present:
        install(path_dir, "docker", info_exit_code=1)  # a client whose daemon does not answer cannot build
    install(path_dir, "gcloud")
    context = tmp_path / "ctx"
    result = _build(spec, context, "--push")
    assert result.exit_code == 0, result.output
    submit = f"gcloud builds submit --project my-project --tag {IMAGE} {context}"
    assert calls(path_dir) == [*(["docker info"] if docker_present else []), submit]
    assert f"$ {submit}\nbuilds step 1/1 done\n" in result.output and f"pushed {IMAGE} (gcloud)" in result.output


def test_with_neither_tool_it_says_what_to_install_and_run(spec: Path, tmp_path: Path, path_dir: Path) -> None:
    context = tmp_path / "ctx"
    result = _build(spec, context, "--push")
    assert result.exit_code == 1
    message = " ".join(result.output.split())  # the error console may wrap
    assert "docker is not on PATH, and gcloud is not on PATH" in message
    assert f"docker build --platform linux/amd64 -t {IMAGE} {context} && docker push {IMAGE}" in message
    assert f"install the Google Cloud CLI (gcloud), log in (gcloud auth login) and run: " \
           f"gcloud builds submit --project my-project --tag {IMAGE} {context}" in message
    assert (context / "Dockerfile").exists()  # the context is there to build by hand


def test_a_failed_build_stops_before_the_push(spec: Path, tmp_path: Path, path_dir: Path) -> None:
    install(path_dir, "docker", exit_code=1)
    result = _build(spec, tmp_path / "ctx", "--push")
    assert result.exit_code == 1
    assert [call.split()[:2] for call in calls(path_dir)] == [["docker", "info"], ["docker", "build"]]
    assert "build step 1/1 done" in result.output and "exited with status 1" in " ".join(result.output.split())


def test_build_needs_a_vertex_backend(tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text(yaml.safe_dump({
        "kind": "NASExperiment", "metadata": {"name": "local"},
        "spec": {"stateUri": str(tmp_path / "s"), "searchSpace": {"prebuilt": "nb201"},
                 "trainer": {"prebuilt": "nb201-tabular"}, "search": {"maxTrials": 2}}}))
    result = runner.invoke(app, ["build", "-f", str(local)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "backend must be of type vertex" in result.output
