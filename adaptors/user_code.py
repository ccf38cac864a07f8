"""Code a spec names (``package.module:function``), imported only where the operator allowed it.

A spec arrives through pull requests, and CI runs `nasctl diff` on them: a spec must never be able to
run code on the machine that reads it. So:

* `nasctl validate` and `nasctl diff` import no user code at all (:data:`NO_USER_CODE`);
* `nasctl apply` imports a module only if it lives under one of the policy's roots (the spec's own
  repository, which goes on the import path of `apply` and of the trials it starts; not a virtualenv's
  installed packages inside it), is one of nasctl's packages, or starts with a prefix the operator allowed
  (``--allow-module`` / ``NASCTL_ALLOW_MODULES``); never from the standard library (``subprocess:run``,
  ``os:system`` ...), whatever the allow-list says.

Checking a module's location uses ``importlib.util.find_spec`` on its top-level package, which reads
no module code.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ALLOW_ENV = "NASCTL_ALLOW_MODULES"  # comma-separated module prefixes the operator trusts
NASCTL_PACKAGES = frozenset({"search_spaces", "trainers_jax", "latency", "trial", "objective", "reconciler"})


class UserCodeRefused(ValueError):
    """A spec names code that this command may not import."""


@dataclass(frozen=True)
class UserCodePolicy:
    enabled: bool
    roots: tuple[Path, ...] = ()
    allow: tuple[str, ...] = ()

    def check(self, reference: str) -> None:
        module = reference.partition(":")[0]
        top = module.split(".")[0]
        if not self.enabled:
            raise UserCodeRefused(f"{reference}: this command runs no code named by the spec")
        if top in sys.stdlib_module_names:
            raise UserCodeRefused(f"{reference}: the standard library is never imported as user code")
        if top in NASCTL_PACKAGES or any(module == p or module.startswith(p + ".") for p in self.allow):
            return
        found = importlib.util.find_spec(top)
        where = ", ".join(str(r) for r in self.roots) or "nowhere"
        if found is None:
            raise UserCodeRefused(f"{reference}: no module {top!r} in the spec's repository ({where}) nor installed; "
                                  "module names are relative to the repository's root")
        origin = Path(found.origin or next(iter(found.submodule_search_locations or []), ""))
        # A virtualenv inside the repository holds installed packages, not the repository's code.
        if not any(_is_under(origin, root) for root in self.roots) or _installed(origin):
            raise UserCodeRefused(f"{reference}: module {top!r} is not under the spec's repository ({where}); "
                                  f"allow it with --allow-module {top} or {ALLOW_ENV}={top}")


def _installed(path: Path) -> bool:
    """Whether `path` is in the interpreter's site-packages (an installed distribution)."""
    paths = sysconfig.get_paths()
    return any(_is_under(path, Path(paths[key])) for key in ("purelib", "platlib"))


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


NO_USER_CODE = UserCodePolicy(enabled=False)
_policy = UserCodePolicy(enabled=True, roots=(Path.cwd(),))  # library use: modules of the working directory


def repository_root(spec_file: Path) -> Path:
    """The git repository holding the spec file, else its folder."""
    folder = spec_file.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def policy_for_apply(spec_file: Path, allow: tuple[str, ...] = ()) -> UserCodePolicy:
    from_env = tuple(p.strip() for p in os.environ.get(ALLOW_ENV, "").split(",") if p.strip())
    return UserCodePolicy(enabled=True, roots=(repository_root(spec_file),), allow=allow + from_env)


def set_policy(policy: UserCodePolicy) -> None:
    """Set once per process by the command that reads the spec. Its roots go on the import path, as a
    script's folder does: the spec's modules import from wherever `apply` runs."""
    global _policy
    _policy = policy
    for root in reversed(policy.roots if policy.enabled else ()):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    importlib.invalidate_caches()


def with_import_roots(env: dict[str, str]) -> dict[str, str]:
    """`env` for a trial process `apply` starts: PYTHONPATH led by the policy's roots, so the trial imports
    the spec's modules (a trainer module) from the same place `apply` checked them."""
    roots = [str(root) for root in _policy.roots] if _policy.enabled else []
    rest = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry and entry not in roots]
    return {**env, "PYTHONPATH": os.pathsep.join(roots + rest)} if roots or rest else env


def import_reference(reference: str) -> Callable:
    """The function ``package.module:function`` names, if the policy in force allows importing it."""
    _policy.check(reference)
    module_name, _, function_name = reference.partition(":")
    return getattr(importlib.import_module(module_name), function_name)
