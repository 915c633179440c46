"""Import ``skops.io`` without importing every module of scikit-learn.

When ``skops.io`` is imported, it builds its default list of trusted type
names from ``sklearn.utils.all_estimators()``, which imports every
scikit-learn module (and PyTorch through scikit-learn's array API support
when PyTorch is installed). That import is most of the time it takes to load
a small model in a new process. The list depends only on the installed
scikit-learn, so Tether computes it once per scikit-learn version, keeps the
names in a cache file, and hands ``skops.io`` light stand-ins with the same
module and class names while it imports. The names are identical to what
``all_estimators()`` returns, so skops trusts exactly the same types.
Without a usable cache file, the real function runs and the file is written.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

CACHE_ENV = "TETHER_CACHE_DIR"


def import_skops_io() -> ModuleType:
    """Return ``skops.io``, importing it with cached scikit-learn estimator names."""
    if "skops.io" in sys.modules:
        loaded: ModuleType = sys.modules["skops.io"]
        return loaded
    import sklearn
    import sklearn.utils

    real = sklearn.utils.all_estimators
    names = _cached_names(sklearn.__version__)
    if names is None:
        names = [f"{cls.__module__}.{cls.__name__}" for _, cls in real()]
        _write_cache(sklearn.__version__, names)
    sklearn.utils.all_estimators = _stand_ins(names)
    try:
        module = importlib.import_module("skops.io")
    finally:
        sklearn.utils.all_estimators = real
    return module


def _stand_ins(names: list[str]) -> Callable[..., list[tuple[str, Any]]]:
    """Return a replacement for ``all_estimators`` that yields named stand-in types."""
    pairs = []
    for name in names:
        module, _, qualname = name.rpartition(".")
        pairs.append((qualname, type(qualname, (), {"__module__": module})))

    def all_estimators(*args: Any, **kwargs: Any) -> list[tuple[str, Any]]:
        return list(pairs)

    return all_estimators


def _cache_file(version: str) -> Path:
    root = os.environ.get(CACHE_ENV) or os.environ.get("XDG_CACHE_HOME")
    base = Path(root) if root else Path.home() / ".cache"
    folder = base if os.environ.get(CACHE_ENV) else base / "tether"
    return folder / f"sklearn-{version}-estimators.json"


def _cached_names(version: str) -> list[str] | None:
    try:
        names = json.loads(_cache_file(version).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    valid = isinstance(names, list) and names and all(isinstance(n, str) for n in names)
    return names if valid else None


def _write_cache(version: str, names: list[str]) -> None:
    """Write the names through a temporary file; a cache that cannot be written is skipped."""
    target = _cache_file(version)
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(names, stream)
        Path(temporary).replace(target)
