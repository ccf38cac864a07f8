"""The build context of the trainer image: a folder that builds the same image wherever it is sent.

It holds only ``Dockerfile``, ``requirements.lock`` (lock.py) and ``src/``: the project's
``pyproject.toml``, readme and the packages setuptools installs, copied from the project root. The
base image is the exact Python release the lock was resolved with (``python:X.Y.Z-slim-bookworm``;
pass a ``name@sha256:...`` reference to pin it by digest). Build tools are pinned too, and nasctl is
installed from ``src/`` without resolving anything again (``--no-deps --no-build-isolation``).
Same project files, installed versions and options → byte-identical folder (no timestamps, sorted).
"""
from __future__ import annotations

import fnmatch
import platform
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from trainer_image.lock import lock_text, locked_requirements
from trainer_image.variants import JAX_EXTRAS, VARIANTS

DOCKERFILE = "Dockerfile"
LOCK_FILE = "requirements.lock"
SOURCES = "src"
# Building nasctl from src/ (pyproject's build-system: setuptools>=77 and wheel) with these exact versions.
BUILD_TOOLS = ("pip==25.1.1", "setuptools==80.9.0", "wheel==0.45.1")
_SKIPPED = ("__pycache__", "*.pyc", ".*")  # caches and hidden files are no part of a package
_DESCRIPTIONS = {"cuda": "JAX for NVIDIA GPUs, CUDA and cuDNN from pip wheels", "tpu": "JAX for Cloud TPU (libtpu)",
                 "cpu": "JAX on CPU"}


@dataclass(frozen=True)
class ImageContext:
    directory: Path
    variant: str
    base_image: str


def default_base_image() -> str:
    """The exact Python release running here: the one the lock's markers were evaluated for."""
    return f"python:{platform.python_version()}-slim-bookworm"


def dockerfile(variant: str, base_image: str) -> str:
    return f"""\
# Trainer image for nasctl trials on Vertex AI, variant {variant} ({_DESCRIPTIONS[variant]}).
# Written by `nasctl build`; every version is pinned: rebuilding gives the same software.
FROM {base_image}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    XLA_PYTHON_CLIENT_PREALLOCATE=false
WORKDIR /opt/nasctl
COPY {LOCK_FILE} /opt/{LOCK_FILE}
RUN pip install {" ".join(BUILD_TOOLS)} && pip install -r /opt/{LOCK_FILE}
COPY {SOURCES} /opt/nasctl
RUN pip install --no-deps --no-build-isolation /opt/nasctl && pip check
# No CMD: each Vertex job supplies `python -m trial.runner /gcs/<bucket>/<trial dir>`.
"""


def source_files(project: Path) -> list[Path]:
    """What `pip install` of the project reads, relative to `project`: pyproject, readme, licence, packages."""
    pyproject_path = project / "pyproject.toml"
    if not pyproject_path.exists():
        raise ValueError(f"{project} is not the nasctl project root (no pyproject.toml): the image installs it")
    pyproject = tomllib.loads(pyproject_path.read_text(encoding="utf-8"))
    readme = pyproject.get("project", {}).get("readme")
    files = [Path("pyproject.toml"), *([Path(readme)] if isinstance(readme, str) else [])]
    files += sorted(path.relative_to(project) for path in project.glob("LICEN[CS]E*") if path.is_file())
    patterns = pyproject.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {}).get("include", [])
    packages = sorted(path for path in project.iterdir()
                      if (path / "__init__.py").exists() and any(fnmatch.fnmatch(path.name, p) for p in patterns))
    for package in packages:
        files += sorted(path.relative_to(project) for path in package.rglob("*")
                        if path.is_file() and not any(fnmatch.fnmatch(part, skip) for skip in _SKIPPED
                                                      for part in path.relative_to(project).parts))
    return files


def _clear(directory: Path) -> None:
    """Empty `directory` for a fresh context, refusing one that holds anything else."""
    if not directory.exists():
        return
    ours = (directory / DOCKERFILE).exists() and "`nasctl build`" in (directory / DOCKERFILE).read_text(encoding="utf-8")
    if any(directory.iterdir()) and not ours:
        raise ValueError(f"{directory} exists and is not a nasctl image context: choose another --output")
    shutil.rmtree(directory)


def write_context(project: Path, output: Path, variant: str, base_image: str | None = None) -> ImageContext:
    """Write the build context of `variant` into `output` (replacing an earlier one there)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown image variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    project, output = Path(project), Path(output)  # kept as given: the commands shown name them so
    files = source_files(project)
    base_image = base_image or default_base_image()
    jax_extra = JAX_EXTRAS[variant]
    lock = lock_text(jax_extra, locked_requirements(jax_extra))
    _clear(output)
    output.mkdir(parents=True)
    (output / DOCKERFILE).write_text(dockerfile(variant, base_image), encoding="utf-8")
    (output / LOCK_FILE).write_text(lock, encoding="utf-8")
    for relative in files:
        target = output / SOURCES / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((project / relative).read_bytes())
    return ImageContext(output, variant, base_image)
