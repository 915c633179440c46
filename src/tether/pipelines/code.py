"""Digest of a step's code: its source and the project functions it calls.

Functions defined in the user's project (not the standard library or an
installed package) that the step references by name are followed
transitively, so editing a helper invalidates the cache of every step that
calls it. Library code is covered by the package versions in the key.
"""

from __future__ import annotations

import inspect
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

from tether.artifacts.digest import digest_bytes

_LIBRARY_ROOTS = tuple(
    {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def code_digest(function: Callable[..., Any]) -> str:
    """Return a digest of ``function``'s source and of the project code it calls."""
    sources: dict[str, str] = {}
    _collect(function, sources)
    joined = "\n".join(f"# {name}\n{sources[name]}" for name in sorted(sources))
    return digest_bytes(joined.encode())


def _collect(function: Any, sources: dict[str, str]) -> None:
    function = inspect.unwrap(function)
    if not isinstance(function, types.FunctionType):
        return
    name = f"{function.__module__}.{function.__qualname__}"
    if name in sources or not _is_project_code(function):
        return
    try:
        sources[name] = inspect.getsource(function)
    except (OSError, TypeError):
        sources[name] = function.__code__.co_code.hex()
    for referenced in _referenced_functions(function):
        _collect(referenced, sources)


def _referenced_functions(function: types.FunctionType) -> list[Any]:
    names = set(_names(function.__code__))
    found = []
    for ref in names:
        value = function.__globals__.get(ref)
        if value is None:
            continue
        target = getattr(value, "__wrapped__", value)
        if isinstance(target, types.FunctionType):
            found.append(target)
    return found


def _names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.extend(_names(const))
    return names


def _is_project_code(function: types.FunctionType) -> bool:
    module = sys.modules.get(function.__module__)
    filename = getattr(module, "__file__", None) or function.__code__.co_filename
    if function.__module__.startswith("tether."):
        return False
    return not str(filename).startswith(_LIBRARY_ROOTS)
