"""List semantics: the documented filter subset and page tokens the client's pager follows.

Filter terms joined by ``AND``: ``labels.k="v"`` (quotes optional), ``labels.k:*`` (key exists),
``state="JOB_STATE_X"`` / ``state!=...``, ``display_name="x"`` / ``!=``. ``OR``, ``NOT`` and
``create_time`` comparisons (also documented) are not modelled and answer 400, so a client never
silently gets an unfiltered list. Pages: ``page_size`` (0 -> 100, the emulator's choice; larger
sizes are capped at 1000), ``next_page_token`` opaque and bound to the filter; an unknown or
mismatched token is 400.
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from vertex_emulator.errors import invalid

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_TERM = re.compile(r'^(labels\.[\w-]+|state|display_name)\s*(=|!=|:)\s*(?:"([^"]*)"|([\w*.-]*))$')

T = TypeVar("T")
Item = tuple[dict[str, str], str, str]  # (labels, state name, display name)


def parse_filter(text: str) -> Callable[[Item], bool]:
    """A predicate over (labels, state, display_name) for a list filter string."""
    tests: list[Callable[[Item], bool]] = []
    for term in (t.strip() for t in re.split(r"\s+AND\s+", text.strip())) if text.strip() else []:
        match = _TERM.match(term)
        if not match:
            raise invalid(f"Unsupported filter term {term!r} (the emulator models labels.k=v, labels.k:*, "
                          "state and display_name terms joined by AND).")
        key, op, quoted, bare = match.groups()
        value = quoted if quoted is not None else bare
        tests.append(_term(key, op, value))
    return lambda item: all(test(item) for test in tests)


def _term(key: str, op: str, value: str) -> Callable[[Item], bool]:
    if key.startswith("labels."):
        label = key[len("labels."):]
        if op == ":":
            if value != "*":
                raise invalid(f"labels.{label}: only the existence test ':*' is supported.")
            return lambda item: label in item[0]
        if op == "=":
            return lambda item: item[0].get(label) == value
        return lambda item: item[0].get(label) != value
    index = 1 if key == "state" else 2
    if op == ":":
        raise invalid(f"{key}: ':' is not supported by the emulator.")
    return (lambda item: item[index] == value) if op == "=" else (lambda item: item[index] != value)


def page(items: Sequence[T], page_size: int, page_token: str, scope: str) -> tuple[list[T], str]:
    """One page of `items` (stable order) and the next token ('' on the last page)."""
    if page_size < 0:
        raise invalid("page_size must not be negative.")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    start = 0
    if page_token:
        try:
            token = json.loads(base64.urlsafe_b64decode(page_token.encode()))
            start, token_scope = int(token["offset"]), token["scope"]
        except (ValueError, KeyError, TypeError):
            raise invalid("Invalid page_token.") from None
        if token_scope != scope:
            raise invalid("The page_token does not match the request (parent or filter changed).")
    chunk = list(items[start:start + size])
    more = start + size < len(items)
    next_token = base64.urlsafe_b64encode(json.dumps({"offset": start + size, "scope": scope}).encode()).decode()
    return chunk, next_token if more else ""
