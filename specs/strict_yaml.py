"""YAML read strictly and cheaply: bounded size, depth and alias expansion, no duplicate keys.

A spec comes from a pull request as often as from its author, and `nasctl validate` must reject a
hostile one in well under a second: a 50 MB file, 20,000 levels of nesting or an alias bomb are
refused before anything is built from them. Duplicate keys are errors (YAML says keys are unique;
PyYAML silently keeps the last one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_SPEC_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 100_000  # after alias expansion


@dataclass(frozen=True)
class YamlProblem:
    line: int | None
    message: str


class StrictYamlError(Exception):
    def __init__(self, problems: list[YamlProblem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _walk(root: yaml.Node) -> list[YamlProblem]:
    """Depth, expanded size and duplicate keys, without recursion (aliases are walked again, as they expand)."""
    problems: list[YamlProblem] = []
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return [YamlProblem(None, f"more than {MAX_NODES:,} values once aliases are expanded")]
        if depth > MAX_DEPTH:
            return [YamlProblem(_line(node), f"nested deeper than {MAX_DEPTH} levels")]
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        problems.append(YamlProblem(_line(key), f"duplicate key {key.value!r} (first at line "
                                                                f"{_line(seen[key.value])})"))
                    seen.setdefault(key.value, key)
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
    return problems


_OPEN = (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken, yaml.BlockSequenceStartToken,
         yaml.BlockMappingStartToken)
_CLOSE = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)


def _check_depth(text: str) -> None:
    """Nesting depth from the token stream, before the (recursive) composer sees a deep document."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise StrictYamlError([YamlProblem(token.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")])
        elif isinstance(token, _CLOSE):
            depth -= 1


def compose_strict(text: str) -> yaml.Node | None:
    """The YAML node tree of `text`, or StrictYamlError / yaml.YAMLError."""
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise StrictYamlError([YamlProblem(None, f"spec is larger than {MAX_SPEC_BYTES:,} bytes")])
    _check_depth(text)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        problems = _walk(root)
        if problems:
            raise StrictYamlError(problems)
    return root


def load_strict(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree, data) of a spec checked by :func:`compose_strict`; the data is built from the same nodes."""
    root = compose_strict(text)
    if root is None:
        return None, None
    loader = yaml.SafeLoader("")
    try:
        return root, loader.construct_document(root)
    finally:
        loader.dispose()
