"""Search spaces by name, by 'module:function', or inline choices. Names are checked without PyGlove."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adaptors.source_signature import parameter_names
from adaptors.suggest import did_you_mean
from adaptors.user_code import import_reference
from specs.model import SearchSpaceSpec

if TYPE_CHECKING:  # PyGlove is imported only when a space is built
    from search_spaces.space import SearchSpace

PREBUILT_SPACES: dict[str, str] = {
    "nb201": "search_spaces.nb201:space",
    "mnasnet": "search_spaces.mnasnet:space",
    "efficientnet-scaling": "search_spaces.efficientnet_scaling:space",
    "randaugment": "search_spaces.augmentation:space",
}


def check_search_space(spec: SearchSpaceSpec) -> str | None:
    """An error message for an unknown prebuilt space, else None."""
    if spec.prebuilt is not None and spec.prebuilt not in PREBUILT_SPACES:
        return f"unknown prebuilt search space {spec.prebuilt!r}; expected one of {sorted(PREBUILT_SPACES)}"
    return None


def check_search_space_args(spec: SearchSpaceSpec) -> list[tuple[str, str]]:
    """(key, problem) for each `args` key a prebuilt space's function does not take (read from its source)."""
    if spec.prebuilt is None or check_search_space(spec):
        return []
    known = parameter_names(PREBUILT_SPACES[spec.prebuilt])
    problems = []
    for key in spec.args:
        if key not in known:
            hint = did_you_mean(key, known, f" (its arguments: {', '.join(known) or 'none'})")
            problems.append((key, f"{spec.prebuilt} takes no argument {key!r}{hint}"))
    return problems


def _call(reference: str, args: dict[str, Any], user_code: bool = False) -> Any:
    """Call a space function; a user's (``function:``) goes through the user-code policy."""
    module_name, _, function_name = reference.partition(":")
    try:
        function = import_reference(reference) if user_code else getattr(importlib.import_module(module_name),
                                                                          function_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load search space function {reference!r}: {exc}") from None
    try:
        return function(**args)
    except TypeError as exc:
        raise ValueError(f"spec.searchSpace.args do not fit {reference}: {exc}") from None
    except ValueError as exc:  # the function refused a value
        raise ValueError(f"spec.searchSpace.args: {exc}") from None


def build_search_space(spec: SearchSpaceSpec) -> "SearchSpace":
    import pyglove as pg  # noqa: PLC0415 - PyGlove is imported only when a space is built

    from search_spaces.space import SearchSpace  # noqa: PLC0415

    if spec.prebuilt is not None:
        message = check_search_space(spec)
        if message:
            raise ValueError(message)
        module_name = PREBUILT_SPACES[spec.prebuilt].partition(":")[0]
        return SearchSpace(spec.prebuilt, _call(PREBUILT_SPACES[spec.prebuilt], spec.args),
                           getattr(importlib.import_module(module_name), "canonical", None))
    if spec.function is not None:
        return SearchSpace(spec.function, _call(spec.function, spec.args, user_code=True))
    choices = {name: pg.oneof(list(values), name=name) for name, values in (spec.choices or {}).items()}
    return SearchSpace("inline", pg.Dict(choices))
