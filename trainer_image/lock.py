"""requirements.lock: every distribution the trainer image installs, pinned to the version installed here.

The lock is the closure of nasctl's own requirements (its extras for tests and benchmarks left out),
each pinned to the installed version, with environment markers evaluated for the image's platform
(Linux x86-64, this Python). A variant's accelerator runtime (jax's ``cuda12`` or ``tpu`` extra) is
usually not installed where nasctl runs: its distributions are pinned exactly as the installed jax
declares them (``jax-cuda12-plugin[with-cuda]==<jax version>``, ``libtpu==<series>.*``); what those pull
in (NVIDIA's library wheels) follows their own requirements.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

PROJECT = "nasctl"
# Markers are evaluated for the image (linux/amd64), whatever machine writes the lock.
IMAGE_PLATFORM = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                  "os_name": "posix"}


class LockError(ValueError):
    """The installed environment cannot be pinned (nasctl not installed, a requirement missing or unpinned)."""


@dataclass(frozen=True)
class _Wanted:
    requirement: Requirement
    accelerator_runtime: bool  # reached through the variant's jax extra


def _environment(extra: str) -> dict[str, str]:
    return {**default_environment(), **IMAGE_PLATFORM, "extra": extra}


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    marker = requirement.marker
    return marker is None or any(marker.evaluate(_environment(extra)) for extra in {"", *extras})


def _requirements(distribution: metadata.Distribution, extras: frozenset[str]) -> list[Requirement]:
    found = [Requirement(text) for text in distribution.requires or []]
    return [requirement for requirement in found if _applies(requirement, extras)]


def _exact(requirement: Requirement) -> str:
    """`requirement` as one exact pin (``>=X,<=X`` is written ``==X``); LockError if it allows a range."""
    specifiers = list(requirement.specifier)
    versions = {spec.version for spec in specifiers}
    if all(spec.operator in ("==", "===") for spec in specifiers) and len(specifiers) == 1:
        pin = str(requirement.specifier)
    elif {spec.operator for spec in specifiers} == {">=", "<="} and len(versions) == 1:
        pin = f"=={versions.pop()}"
    else:
        raise LockError(f"{requirement} is not installed here and allows more than one version: "
                        "install it, or the variant's jax extra, where nasctl runs")
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{canonicalize_name(requirement.name)}{extras}{SpecifierSet(pin)}"


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def locked_requirements(jax_extra: str | None = None, project: str = PROJECT) -> list[str]:
    """Sorted ``name==version`` lines: `project`'s requirements and theirs, plus jax[`jax_extra`] if given."""
    root = _installed(project)
    if root is None:
        raise LockError(f"{project} is not installed in this Python: install it (pip install -e .) so its "
                        "dependencies' installed versions can be pinned")
    wanted = [_Wanted(requirement, False) for requirement in _requirements(root, frozenset())]
    if jax_extra:
        wanted.append(_Wanted(Requirement(f"jax[{jax_extra}]"), True))
    pins: dict[str, str] = {}
    extras_seen: dict[str, frozenset[str]] = {}
    while wanted:
        item = wanted.pop()
        requirement, name = item.requirement, canonicalize_name(item.requirement.name)
        extras = frozenset(requirement.extras) | extras_seen.get(name, frozenset())
        if name in extras_seen and extras == extras_seen[name]:
            continue
        extras_seen[name] = extras
        distribution = _installed(requirement.name)
        if distribution is None:
            if not item.accelerator_runtime:
                raise LockError(f"{requirement} (needed by {project}) is not installed in this Python")
            pins[name] = _exact(requirement)
            continue
        version = distribution.version
        if not requirement.specifier.contains(version, prereleases=True):
            raise LockError(f"installed {name} {version} does not satisfy {requirement}")
        pins[name] = f"{name}=={version}"
        wanted += [_Wanted(sub, item.accelerator_runtime) for sub in _requirements(distribution, extras)]
    return [pins[name] for name in sorted(pins)]


def lock_text(jax_extra: str | None, lines: list[str]) -> str:
    """The lock file: a header saying where the pins come from, then one requirement a line."""
    extra = f" + jax[{jax_extra}]" if jax_extra else ""
    header = (f"# {PROJECT}'s dependencies{extra}, pinned to the versions installed where `nasctl build` ran\n"
              f"# (Python {platform.python_version()}; markers evaluated for linux/amd64). Do not edit: rerun it.\n")
    return header + "".join(f"{line}\n" for line in lines)
