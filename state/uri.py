"""Open the state store named by a spec's stateUri (scheme → implementation)."""
from __future__ import annotations

from pathlib import Path

from state.store import StateStore


def open_store(state_uri: str, experiment_name: str, base_dir: Path | None = None) -> StateStore:
    """The store for one experiment: ``<stateUri>/<experiment name>/``.

    ``~`` is the user's home, as in a shell; relative paths are resolved against `base_dir` (default: the
    current working directory).
    """
    if state_uri.startswith("gs://"):
        from state.gcs import GcsStore  # noqa: PLC0415 - google-cloud-storage is heavy

        return GcsStore(f"{state_uri.rstrip('/')}/{experiment_name}")
    if state_uri.startswith("file://"):
        state_uri = state_uri[len("file://"):]
    if "://" in state_uri:
        raise ValueError(f"unsupported state location {state_uri!r}")
    from state.local import LocalStore  # noqa: PLC0415

    root = Path(state_uri).expanduser()
    if not root.is_absolute():
        root = (base_dir or Path.cwd()) / root
    blocking = next((p for p in (root, *root.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise ValueError(f"spec.stateUri: {blocking} is a file, not a folder: point stateUri at a folder "
                         f"(the experiment's state goes in <stateUri>/{experiment_name}/)")
    return LocalStore(root / experiment_name)
