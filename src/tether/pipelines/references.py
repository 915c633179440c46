"""Import a pipeline or step by its ``module:qualname`` reference."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

_loaded: dict[str, float] = {}


class ReferenceNotFoundError(ImportError):
    """The reference is not ``MODULE:NAME``, or its module or name does not exist."""


class ModuleImportFailedError(ImportError):
    """The module exists but raised an error while it was imported."""


def import_reference(reference: str, *, fresh: bool = False) -> Any:
    """Return the object that ``module:qualname`` names.

    The current folder goes on ``sys.path`` first, as ``python -m`` does, so
    a project's modules import when the command runs in the project folder.

    With ``fresh``, a module whose file changed since this process imported
    it is imported again. Long-lived workers (a Ray cluster's) use it, so
    that they run the code the driver has.

    Raises:
        ReferenceNotFoundError: the reference is malformed, or the module or
            name does not exist.
        ModuleImportFailedError: the module raised while it was imported,
            including an import of a missing module inside it.
    """
    module_name, _, qualname = reference.partition(":")
    if not module_name or not qualname:
        raise ReferenceNotFoundError(f"{reference!r} is not of the form MODULE:NAME")
    folder = str(Path.cwd())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        found: Any = _module(module_name, fresh=fresh)
    except ModuleNotFoundError as exc:
        if exc.name is not None and _names_module(module_name, exc.name):
            raise ReferenceNotFoundError(f"no module named {exc.name!r}") from None
        raise _import_failed(exc) from exc
    except Exception as exc:
        raise _import_failed(exc) from exc
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ReferenceNotFoundError(
                f"module {module_name} has no attribute {part!r}"
            ) from None
    return found


def _names_module(module_name: str, missing: str) -> bool:
    """Return whether ``missing`` is ``module_name`` or one of its parent packages."""
    return module_name == missing or module_name.startswith(missing + ".")


def _import_failed(exc: Exception) -> ModuleImportFailedError:
    return ModuleImportFailedError(
        f"the module raised while importing: {type(exc).__name__}: {exc}"
    )


def load_pipeline(reference: str, *, fresh: bool = False) -> Any:
    """Import the ``@tether.pipeline`` that ``module:qualname`` names.

    Raises:
        ConfigError: the reference names no module or attribute, the module
            raised while importing, or the reference names something else.
    """
    from tether.errors import ConfigError
    from tether.pipelines.pipeline_run import Pipeline

    try:
        found = import_reference(reference, fresh=fresh)
    except ModuleImportFailedError as exc:
        raise ConfigError(
            f"cannot import pipeline {reference}: {exc}; fix the error in the module",
            setting="pipeline",
            value=reference,
        ) from None
    except ImportError as exc:
        raise ConfigError(
            f"cannot import pipeline {reference}: {exc}; use MODULE:NAME, e.g. "
            "flights.build:build, and run from the project folder or put its "
            "modules on PYTHONPATH",
            setting="pipeline",
            value=reference,
        ) from None
    if not isinstance(found, Pipeline):
        raise ConfigError(
            f"{reference} is not a @tether.pipeline function",
            setting="pipeline",
            value=reference,
        )
    return found


def _module(name: str, *, fresh: bool) -> Any:
    module = sys.modules.get(name)
    if module is None:
        module = importlib.import_module(name)
        _loaded[name] = _modified(module)
    elif fresh and _modified(module) != _loaded.setdefault(name, _modified(module)):
        importlib.invalidate_caches()
        module = importlib.reload(module)
        _loaded[name] = _modified(module)
    return module


def _modified(module: Any) -> float:
    path = getattr(module, "__file__", None)
    try:
        return Path(path).stat().st_mtime if path else 0.0
    except OSError:
        return 0.0
