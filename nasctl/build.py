"""`nasctl build`: the trainer container for Vertex AI (a JAX GPU image with this project installed).

It writes the Dockerfile and .dockerignore and returns the commands that build and push the image;
it runs nothing itself, so it works without Docker and the user sees exactly what will run.
A Vertex trial runs ``python -m trial.runner /gcs/<bucket>/<trial dir>`` in this image.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE_NAME = "Dockerfile.nasctl"
PYTHON_VERSION = "3.11"
JAX_EXTRA = "cuda12"  # pip's jax[cuda12] brings its own CUDA and cuDNN: no CUDA base image needed

_IGNORED = [".git", ".venv", ".nasctl", "**/__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis"]


def dockerfile(python_version: str = PYTHON_VERSION, jax_extra: str = JAX_EXTRA) -> str:
    return f"""\
# Trainer image for nasctl trials on Vertex AI (written by `nasctl build`).
FROM python:{python_version}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \\
    XLA_PYTHON_CLIENT_PREALLOCATE=false
WORKDIR /opt/nasctl
RUN pip install --upgrade pip && pip install "jax[{jax_extra}]"
COPY . /opt/nasctl
RUN pip install /opt/nasctl
# No CMD: each Vertex job supplies `python -m trial.runner /gcs/<bucket>/<trial dir>`.
"""


def dockerignore() -> str:
    return "\n".join(_IGNORED) + "\n"


@dataclass(frozen=True)
class BuildPlan:
    dockerfile: Path
    dockerignore: Path
    commands: list[list[str]]

    def shell(self) -> str:
        """The commands as one copy-pasteable shell line."""
        return " && ".join(shlex.join(command) for command in self.commands)


def build_commands(image: str, context: Path, dockerfile_path: Path) -> list[list[str]]:
    """Build for the linux/amd64 machines Vertex runs, then push to the registry named by `image`."""
    if not image or any(c.isspace() for c in image):
        raise ValueError(f"invalid container image name {image!r}")
    return [
        ["docker", "build", "--platform", "linux/amd64", "-f", str(dockerfile_path), "-t", image, str(context)],
        ["docker", "push", image],
    ]


def write_build_files(image: str, context: Path) -> BuildPlan:
    """Write Dockerfile.nasctl (and a .dockerignore, unless one exists) into the project root; plan the build."""
    context = Path(context)
    if not (context / "pyproject.toml").exists():
        raise ValueError(f"{context} is not the nasctl project root (no pyproject.toml): the image installs it")
    docker_path = context / DOCKERFILE_NAME
    ignore_path = context / ".dockerignore"
    docker_path.write_text(dockerfile(), encoding="utf-8")
    if not ignore_path.exists():
        ignore_path.write_text(dockerignore(), encoding="utf-8")
    return BuildPlan(docker_path, ignore_path, build_commands(image, context, docker_path))
