"""The POC example spec with an edit applied, written to a test folder, and the YAML line of a value in it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

POC = Path(__file__).resolve().parents[2] / "specs" / "examples" / "mnasnet-poc-vertex.yaml"


def edited_poc(tmp_path: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    """`specs/examples/mnasnet-poc-vertex.yaml` with `edit` applied to its `spec` mapping."""
    data = yaml.safe_load(POC.read_text())
    edit(data["spec"])
    path = tmp_path / "poc.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def line_of(path: Path, needle: str) -> int:
    """The first line of `path` holding `needle` (1-based, as spec errors count); a needle that starts with
    spaces must start the line (``"    search:"`` is the key at that depth, not a deeper one)."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if (line.startswith(needle) if needle[0] == " " else needle in line))
