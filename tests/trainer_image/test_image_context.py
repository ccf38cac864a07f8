"""The trainer image's build context: byte-identical for the same inputs, every dependency pinned."""
from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO
from trainer_image.context import BUILD_TOOLS, DOCKERFILE, LOCK_FILE, SOURCES, write_context
from trainer_image.lock import LockError, _applies, _exact, locked_requirements


def _tree(directory: Path) -> dict[str, bytes]:
    return {path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def _pins(lines: list[str]) -> dict[str, str]:
    """{canonical name (extras dropped): the pinned specifier} of lock lines."""
    pins = {}
    for line in lines:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier  # exactly one specifier per line
        assert specifier.operator == "==", line
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def test_the_same_inputs_give_a_byte_identical_context(tmp_path: Path) -> None:
    first = write_context(REPO, tmp_path / "a", "cuda")
    second = write_context(REPO, tmp_path / "b", "cuda")
    assert _tree(first.directory) == _tree(second.directory)
    again = write_context(REPO, tmp_path / "a", "cuda")  # rewritten in place
    assert _tree(again.directory) == _tree(second.directory)
    assert _tree(write_context(REPO, tmp_path / "c", "tpu").directory) != _tree(first.directory)


def test_the_dockerfile_pins_the_base_image_and_build_tools_and_installs_from_the_lock(tmp_path: Path) -> None:
    made = write_context(REPO, tmp_path / "ctx", "tpu")
    lines = [line for line in (made.directory / DOCKERFILE).read_text().splitlines() if line and line[0] != "#"]
    base = f"python:{platform.python_version()}-slim-bookworm"  # the release the lock was resolved with
    assert lines[0] == f"FROM {base}" and made.base_image == base
    assert f"(Python {platform.python_version()};" in (made.directory / LOCK_FILE).read_text()
    install = next(line for line in lines if "requirements.lock" in line and line.startswith("RUN"))
    assert all(tool in install for tool in BUILD_TOOLS) and all("==" in tool for tool in BUILD_TOOLS)
    source_copy = lines.index(f"COPY {SOURCES} /opt/nasctl")
    assert lines.index(install) < source_copy  # pinned dependencies first, then the project without resolving
    assert lines[source_copy + 1] == "RUN pip install --no-deps --no-build-isolation /opt/nasctl && pip check"
    assert not any(line.startswith(("CMD", "ENTRYPOINT")) for line in lines)  # Vertex gives the command
    digest = f"{base}@sha256:" + "0" * 64
    pinned = write_context(REPO, tmp_path / "ctx", "tpu", base_image=digest)
    assert f"FROM {digest}\n" in (pinned.directory / DOCKERFILE).read_text()


def test_the_sources_are_what_pip_installs(tmp_path: Path) -> None:
    files = set(_tree(write_context(REPO, tmp_path / "ctx", "cpu").directory))
    assert {f"{SOURCES}/pyproject.toml", f"{SOURCES}/README.md", f"{SOURCES}/nasctl/cli.py",
            f"{SOURCES}/trainer_image/context.py", f"{SOURCES}/pricing/prices.json"} <= files
    assert any(name.startswith(f"{SOURCES}/trainers_jax/data/") for name in files)  # package data
    assert not any("__pycache__" in name or name.startswith((f"{SOURCES}/tests/", f"{SOURCES}/docs/"))
                   for name in files)
    assert {name for name in files if not name.startswith(f"{SOURCES}/")} == {DOCKERFILE, LOCK_FILE}


@pytest.mark.parametrize("extra", [None, "cuda12", "tpu"])
def test_the_lock_pins_every_dependency_to_the_installed_version(extra: str | None) -> None:
    pins = _pins(locked_requirements(extra))
    nasctl = metadata.distribution("nasctl")
    direct = {canonicalize_name(Requirement(r).name) for r in nasctl.requires if "extra ==" not in r}
    assert direct <= set(pins)
    for name, version in pins.items():
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # the accelerator runtime, checked below
        assert distribution.version == version, name
        for requirement in map(Requirement, distribution.requires or []):
            if _applies(requirement, frozenset()):  # the closure: what each pinned one needs is pinned too
                assert canonicalize_name(requirement.name) in pins, f"{name} needs {requirement}"
    assert ("libtpu" in pins) == (extra == "tpu") and ("jax-cuda12-plugin" in pins) == (extra == "cuda12")
    assert pins.get("jax-cuda12-plugin", pins["jax"]) == pins["jax"]  # the plugin of the installed jax release


def test_the_cuda_runtime_keeps_its_extra_and_the_tpu_runtime_its_series() -> None:
    assert any(line.startswith("jax-cuda12-plugin[with-cuda]==") for line in locked_requirements("cuda12"))
    (libtpu,) = [line for line in locked_requirements("tpu") if line.startswith("libtpu")]
    assert Requirement(libtpu).specifier == Requirement(
        next(r for r in metadata.distribution("jax").requires if r.startswith("libtpu"))).specifier


def test_what_cannot_be_pinned_is_refused(tmp_path: Path) -> None:
    assert _exact(Requirement("Jax_CUDA12-Plugin[with-cuda]<=0.10.2,>=0.10.2")) == "jax-cuda12-plugin[with-cuda]==0.10.2"
    with pytest.raises(LockError, match="allows more than one version"):
        _exact(Requirement("libtpu>=0.0.40"))  # an accelerator runtime that is not installed must be pinned by jax
    with pytest.raises(LockError, match="no-such-project is not installed"):
        locked_requirements(project="no-such-project")
    with pytest.raises(ValueError, match="no pyproject.toml"):
        write_context(tmp_path, tmp_path / "ctx", "cpu")
    with pytest.raises(ValueError, match="unknown image variant"):
        write_context(REPO, tmp_path / "ctx", "rocm")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a nasctl image context"):
        write_context(REPO, foreign, "cpu")
    assert (foreign / "notes.txt").read_text() == "keep me"
