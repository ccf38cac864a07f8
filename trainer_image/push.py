"""Building and pushing the image: with Docker when its daemon answers, else with Cloud Build (gcloud).

Each command is shown before it runs and its output is passed on line by line as it comes. With
neither tool installed, the error says what to install and the exact commands to run by hand.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOCKER, GCLOUD = "docker", "gcloud"
DOCKER_INFO_TIMEOUT_SECONDS = 30


class ImageBuildError(RuntimeError):
    """No tool to build with, or a build or push command failed."""


@dataclass(frozen=True)
class PushPlan:
    tool: str
    commands: tuple[tuple[str, ...], ...]


def _check_image(image: str) -> None:
    if not image or any(c.isspace() for c in image):
        raise ValueError(f"invalid container image name {image!r}")


def docker_commands(image: str, context: Path) -> tuple[tuple[str, ...], ...]:
    """Build for the linux/amd64 machines Vertex runs, then push to the registry named by `image`."""
    _check_image(image)
    return (("docker", "build", "--platform", "linux/amd64", "-t", image, str(context)), ("docker", "push", image))


def cloud_build_commands(image: str, context: Path, project: str) -> tuple[tuple[str, ...], ...]:
    """Cloud Build builds `context` (its Dockerfile) in `project` and pushes the result to `image`."""
    _check_image(image)
    return (("gcloud", "builds", "submit", "--project", project, "--tag", image, str(context)),)


def shell(commands: tuple[tuple[str, ...], ...]) -> str:
    """Commands as one copy-pasteable shell line."""
    return " && ".join(shlex.join(command) for command in commands)


def docker_answers() -> bool:
    """Whether `docker` is on PATH and its daemon answers (a client alone cannot build)."""
    if shutil.which(DOCKER) is None:
        return False
    try:
        return subprocess.run([DOCKER, "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, timeout=DOCKER_INFO_TIMEOUT_SECONDS).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def push_plan(image: str, context: Path, project: str) -> PushPlan:
    """Docker if its daemon answers, else Cloud Build if gcloud is on PATH; ImageBuildError naming both ways otherwise."""
    docker, cloud_build = docker_commands(image, context), cloud_build_commands(image, context, project)
    if docker_answers():
        return PushPlan(DOCKER, docker)
    if shutil.which(GCLOUD):
        return PushPlan(GCLOUD, cloud_build)
    docker_state = ("docker is on PATH but its daemon does not answer (docker info failed)" if shutil.which(DOCKER)
                    else "docker is not on PATH")
    raise ImageBuildError(
        f"cannot build the image: {docker_state}, and gcloud is not on PATH. Start or install Docker and run:\n"
        f"  {shell(docker)}\n"
        "or install the Google Cloud CLI (gcloud), log in (gcloud auth login) and run:\n"
        f"  {shell(cloud_build)}")


def run_plan(plan: PushPlan, show_command: Callable[[str], None], show_line: Callable[[str], None]) -> None:
    """Run the commands in order, each shown first, their output streamed; stop at the first failure."""
    for command in plan.commands:
        show_command(shlex.join(command))
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              text=True, bufsize=1) as process:
            assert process.stdout is not None
            for line in process.stdout:
                show_line(line.rstrip("\n"))
        if process.returncode != 0:
            raise ImageBuildError(f"{shlex.join(command)} exited with status {process.returncode}")
