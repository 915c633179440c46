"""Suite sources: YAML files, Python objects, and the suite attached to a model.

The store keeps an attached suite as ``{"yaml": TEXT}`` or
``{"python": "module:qualname"}``. A Python reference names a module-level
:class:`Suite` or a function that returns one; it is imported each time the
suite runs, so the suite follows the code.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from tether.config import current_user
from tether.errors import ConfigError
from tether.models.testing.suite import Suite
from tether.models.testing.yaml_suite import load_suite, parse_suite
from tether.store import get_store

SuiteSource: TypeAlias = Suite | str | Path | Callable[[], Suite]
"""A YAML file's path, ``module:qualname``, a Suite, or a function returning one."""

_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def as_suite(source: SuiteSource) -> Suite:
    """Return the suite that ``source`` declares.

    Raises:
        ConfigError: the file or reference does not give a valid suite.
    """
    if isinstance(source, Suite):
        return source
    if isinstance(source, str | Path):
        if is_reference(source):
            return import_suite(str(source))
        return load_suite(source)
    if callable(source):
        return _called(source, _name_of(source))
    raise ConfigError(
        f"cannot use {source!r} as a test suite; pass a YAML file's path, "
        "'module:name', a Suite or a function that returns one",
        setting="suite",
        value=repr(source),
    )


def stored_form(source: SuiteSource) -> tuple[Suite, dict[str, str]]:
    """Return the suite of ``source`` and what the store keeps for it.

    The store keeps a YAML file's text, or the ``module:qualname`` that
    imports a Python suite again.

    Raises:
        ConfigError: the source is invalid, or a Python object cannot be
            imported again by name (defined in ``__main__``, in a function, or
            not bound to a module-level name).
    """
    if isinstance(source, str | Path):
        if is_reference(source):
            return import_suite(str(source)), {"python": str(source)}
        suite = load_suite(source)
        return suite, {"yaml": Path(source).read_text(encoding="utf-8")}
    reference = find_reference(source)
    if reference is None:
        raise ConfigError(
            f"cannot attach {_name_of(source)}: it is not a module-level name that "
            "can be imported again; define the Suite (or a function that returns "
            "one) at the top of a module, or attach a YAML file",
            setting="suite",
            value=_name_of(source),
        )
    return import_suite(reference), {"python": reference}


def suite_from_stored(stored: dict[str, Any], model: str) -> Suite:
    """Build the suite that the store keeps for model ``model``."""
    if "yaml" in stored:
        return parse_suite(
            str(stored["yaml"]),
            source=f"the suite attached to {model}",
            default_name=f"{model}-tests",
        )
    if "python" in stored:
        return import_suite(str(stored["python"]))
    raise ConfigError(
        f"the suite attached to {model} has neither 'yaml' nor 'python'; attach it "
        f"again with `tether models suite {model} FILE`",
        setting="suite",
        value=str(stored),
    )


def attach_suite(name: str, suite: SuiteSource) -> Suite:
    """Attach a test suite to model ``name``; ``tether models test`` runs it by default.

    A YAML file is stored as its text. A Python suite is stored as the
    ``module:qualname`` it is importable by and imported again at each run.
    The suite's datasets and columns are checked against the registry first.

    Raises:
        ConfigError: the suite is invalid, or a dataset or column it names
            does not exist.
        NotFoundError: no model is called ``name``.
    """
    from tether.models.testing.context import DataSource
    from tether.models.testing.validation import check_data

    store = get_store()
    store.list_model_versions(name)
    built, stored = stored_form(suite)
    check_data(built, DataSource(built.dataset), require_data=False)
    store.set_test_suite(name, stored, actor=current_user())
    return built


def attached_suite(name: str) -> Suite | None:
    """Return the suite attached to model ``name``, or None."""
    stored = get_store().test_suite(name)
    return None if stored is None else suite_from_stored(stored, name)


def is_reference(source: str | Path) -> bool:
    """Return whether ``source`` is ``module:qualname`` rather than a file path."""
    if isinstance(source, Path) or Path(source).exists():
        return False
    return bool(_REFERENCE.match(source))


def import_suite(reference: str) -> Suite:
    """Import the Suite (or the function returning one) that ``module:qualname`` names.

    The current folder goes on ``sys.path`` first, as ``python -m`` does, so
    a project's modules import when the command runs in the project folder.

    Raises:
        ConfigError: the module or name does not import, or it is no suite.
    """
    module_name, _, qualname = reference.partition(":")
    folder = str(Path.cwd())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as error:  # importing user code can raise anything
        raise ConfigError(
            f"cannot import test suite {reference}: {type(error).__name__}: {error}; "
            "use MODULE:NAME, run from the project folder or put its modules on "
            "PYTHONPATH",
            setting="suite",
            value=reference,
        ) from None
    if isinstance(found, Suite):
        return found
    if callable(found):
        return _called(found, reference)
    raise ConfigError(
        f"{reference} is a {type(found).__name__}, not a Suite or a function that "
        "returns one",
        setting="suite",
        value=reference,
    )


def find_reference(value: object) -> str | None:
    """Return a ``module:qualname`` that imports ``value`` again, or None.

    A function or class is found by its own module and qualified name. Any
    other object (a Suite instance) is found by looking for a module-level
    name bound to it in the imported modules other than ``__main__``, as
    :func:`pickle.whichmodule` does for functions.
    """
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        if module == "__main__" or "<" in qualname:
            return None
        return f"{module}:{qualname}"
    for module_name, module_object in sorted(sys.modules.items()):
        if module_name == "__main__" or module_object is None:
            continue
        for attribute, bound in list(vars(module_object).items()):
            if bound is value and not attribute.startswith("_"):
                return f"{module_name}:{attribute}"
    return None


def _called(function: Callable[[], Any], name: str) -> Suite:
    suite = function()
    if not isinstance(suite, Suite):
        raise ConfigError(
            f"{name} returned a {type(suite).__name__}, not a Suite",
            setting="suite",
            value=name,
        )
    return suite


def _name_of(value: object) -> str:
    name = getattr(value, "__qualname__", None)
    if isinstance(name, str):
        return name
    suite_name = getattr(value, "name", None)
    return f"suite {suite_name!r}" if isinstance(suite_name, str) else repr(value)
