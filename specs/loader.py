"""Load a NASExperiment YAML file with errors that name the field path and the YAML line."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import ValidationError

from specs.model import NASExperiment
from specs.strict_yaml import MAX_SPEC_BYTES, StrictYamlError, compose_strict, load_strict


@dataclass(frozen=True)
class SpecIssue:
    path: str  # dotted field path, e.g. "spec.search.maxTrials"
    line: int | None  # 1-based YAML line, when known
    message: str

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class SpecError(Exception):
    """A spec that cannot be used; carries every issue found."""

    def __init__(self, source: str, issues: list[SpecIssue]):
        self.source = source
        self.issues = issues
        super().__init__("\n".join(issue.render(source) for issue in issues))


def _line_of(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """Walk the composed YAML node tree along `path`; the deepest node reached gives the line (a mapping's key,
    so a block such as ``algorithmSettings:`` is named at its own line, not at its first entry's)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == key), None)
            if pair is None:
                return line
            key_node, node = pair
            line = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _document_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Pydantic's error location minus the parts that are not in the document: union tags such as
    ``vertex`` in ``spec.backend.vertex.project`` and validator names."""
    path: list[Any] = []
    for part in loc:
        if isinstance(data, dict) and isinstance(part, str) and part not in data and part == data.get("type"):
            continue  # the discriminator value pydantic inserts for a tagged union
        if isinstance(part, str) and part.startswith("function-"):
            continue
        path.append(part)
        data = data.get(part) if isinstance(data, dict) else (
            data[part] if isinstance(data, list) and isinstance(part, int) and part < len(data) else None)
    return tuple(path)


def _reads_as_number(value: Any) -> bool:
    """A string such as '1e3': YAML 1.1 wants a dot in a float (1.0e3), so it reads this as text."""
    try:
        return isinstance(value, str) and float(value).is_integer()
    except ValueError:
        return False


def _issues_from_validation(error: ValidationError, root: yaml.Node | None, data: Any) -> list[SpecIssue]:
    issues = []
    for item in error.errors():
        loc = _document_path(tuple(item["loc"]), data)
        expected = item["msg"]
        if item["type"] == "extra_forbidden":
            expected = "unknown field"
        elif item["type"] == "missing":
            expected = "required field is missing"
        elif item["type"] == "value_error":
            expected = expected.removeprefix("Value error, ")
        elif item["type"] == "int_parsing" and _reads_as_number(item.get("input")):
            expected += f" (YAML reads {item['input']} as text: write the number out, e.g. {float(item['input']):.0f})"
        issues.append(SpecIssue(".".join(str(p) for p in loc), _line_of(root, loc), expected))
    return issues


def parse_experiment(text: str, source: str = "<spec>") -> NASExperiment:
    """Parse and validate YAML text; raise SpecError naming field path and line."""
    try:
        root, data = load_strict(text)
    except StrictYamlError as exc:
        raise SpecError(source, [SpecIssue("", p.line, p.message) for p in exc.problems]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, [SpecIssue("", line, f"malformed YAML: {problem}")]) from None
    if not isinstance(data, dict):
        raise SpecError(source, [SpecIssue("", 1, "expected a mapping with apiVersion, kind, metadata, spec")])
    try:
        return NASExperiment.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, _issues_from_validation(exc, root, data)) from None


ReferenceCheck = Callable[[NASExperiment], list[tuple[tuple[str | int, ...], str]]]


def load_experiment(path: str | Path, check_references: ReferenceCheck | None = None) -> NASExperiment:
    """Read and validate a spec file; `check_references` (from the packages that own the names: spaces,
    trainers, algorithms) returns (field path, problem) pairs, reported with their YAML lines."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():  # a folder, or a FIFO or device that would block the read
            raise SpecError(str(path), [SpecIssue("", None, "not a spec file (a folder, a pipe or a device)")])
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(str(path), [SpecIssue("", None, f"spec is larger than {MAX_SPEC_BYTES:,} bytes")])
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), [SpecIssue("", None, f"cannot read spec file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), [SpecIssue("", None, f"not UTF-8 text (byte {exc.start})")]) from None
    experiment = parse_experiment(text, str(path))
    problems = check_references(experiment) if check_references else []
    if not problems:
        return experiment
    root = compose_strict(text)
    issues = [SpecIssue(".".join(map(str, loc)), _line_of(root, loc), msg) for loc, msg in problems]
    if issues:
        raise SpecError(str(path), issues)
    return experiment


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:12]


def spec_generation(experiment: NASExperiment) -> str:
    """A stable hash of what the spec says: keys sorted, every field at its schema default left out.

    Leaving defaults out makes a spec that spells out a default hash like one that omits it, so a nasctl
    release that adds a field with a default (the way the schema grows) leaves every experiment's
    generation as it was. (A release that changes an existing default leaves the generation of a spec
    that does not set the field as it was; the spec each pass records holds the defaults it applied, so
    `nasctl diff` shows such a change.)"""
    return _digest(experiment.model_dump(mode="json", by_alias=True, exclude_defaults=True))


def is_generation_of(recorded: str | None, experiment: NASExperiment) -> bool:
    """Whether a recorded generation is this spec's: in the current form, or in the form nasctl recorded
    before generations left defaults out (the hash with defaults filled in), so that experiments applied
    by those versions keep their spec's generation across the upgrade."""
    return recorded is not None and recorded in (
        spec_generation(experiment), _digest(experiment.model_dump(mode="json", by_alias=True)))
