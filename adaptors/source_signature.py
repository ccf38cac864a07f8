"""The parameter names of a function or class named ``module:name``, read from its source without importing it.

`validate` and `diff` check a spec's settings and args against the code that takes them; importing that
code would import PyGlove, SciPy or JAX, which those commands must not pay for.
"""
from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache


@lru_cache(maxsize=None)
def parameter_names(reference: str) -> tuple[str, ...]:
    """Named parameters of the function ``module:name`` (of its ``__init__`` when a class; ``self`` left
    out), positional and keyword-only, in order."""
    module_name, _, name = reference.partition(":")
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, module_name
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    (node,) = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == name]
    if isinstance(node, ast.ClassDef):
        inits = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
        if not inits:
            return ()
        return tuple(arg.arg for arg in [*inits[0].args.args[1:], *inits[0].args.kwonlyargs])
    return tuple(arg.arg for arg in [*node.args.args, *node.args.kwonlyargs])
