"""Digest of a step's code: its source and the project functions it calls.

Functions defined in the user's project (not the standard library or an
installed package) are followed transitively when the step references them
by name or as an attribute of a project module (``features.prepare``). So
editing a helper invalidates the cache of every step that calls it. Library
code is covered by the package versions in the key.
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
    {
        sysconfig.get_paths()[name]
        for name in ("stdlib", "platstdlib", "purelib", "platlib")
    }
)


def code_digests(function: Callable[..., Any]) -> dict[str, str]:
    """Return the digest of the source of ``function`` and of each project function it calls.

    Keys are ``module.qualname``, so a change can be traced to one function.
    """
    sources: dict[str, str] = {}
    _collect(function, sources)
    return {name: digest_bytes(sources[name].encode()) for name in sorted(sources)}


def _collect(function: Any, sources: dict[str, str]) -> None:
    function = inspect.unwrap(function)
    if not isinstance(function, types.FunctionType):
        return
    # multiprocessing imports a script run as __main__ again as __mp_main__ in
    # its workers; both name the same code.
    module = "__main__" if function.__module__ == "__mp_main__" else function.__module__
    name = f"{module}.{function.__qualname__}"
    if name in sources or not _is_project_code(function):
        return
    sources[name] = _source(function)
    for referenced in _referenced_functions(function):
        _collect(referenced, sources)


def _referenced_functions(function: types.FunctionType) -> list[Any]:
    names = set(_names(function.__code__))
    return _lookup(function.__globals__, names, set())


def _lookup(namespace: dict[str, Any], names: set[str], visited: set[str]) -> list[Any]:
    """Find the functions named in ``names``, also inside the project modules found.

    Attribute names are in ``co_names`` too, so a project module found here
    is searched for the same names: ``features.prepare`` yields ``prepare``.
    """
    found = []
    for ref in names:
        value = namespace.get(ref)
        if isinstance(value, types.ModuleType):
            if value.__name__ not in visited and _is_project_module(value):
                visited.add(value.__name__)
                found.extend(_lookup(vars(value), names, visited))
            continue
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


def _is_project_module(module: types.ModuleType) -> bool:
    filename = getattr(module, "__file__", None)
    if filename is None or module.__name__.split(".")[0] == "tether":
        return False
    return not str(filename).startswith(_LIBRARY_ROOTS)


def _is_project_code(function: types.FunctionType) -> bool:
    module = sys.modules.get(function.__module__)
    filename = getattr(module, "__file__", None) or function.__code__.co_filename
    if function.__module__.startswith("tether."):
        return False
    return not str(filename).startswith(_LIBRARY_ROOTS)


# Source text by code object. A code object belongs to one definition, and
# reloading an edited module makes new code objects, so an entry never goes
# stale. Reading the source again for every step call cost about a millisecond.
_sources: dict[types.CodeType, str] = {}
MAX_CACHED_SOURCES = 10_000


def _source(function: types.FunctionType) -> str:
    code = function.__code__
    found = _sources.get(code)
    if found is None:
        try:
            found = inspect.getsource(function)
        except (OSError, TypeError):
            found = code.co_code.hex()
        if len(_sources) >= MAX_CACHED_SOURCES:
            _sources.clear()
        _sources[code] = found
    return found
