"""Tether: one traceable MLOps framework.

Importing ``tether`` is fast: the store, pandas and scikit-learn load on
first use of the names below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tether.version import __version__

__all__ = [
    "Run",
    "__version__",
    "active_run",
    "data",
    "flush",
    "get_run",
    "lineage",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "models",
    "monitoring",
    "pipeline",
    "search_runs",
    "set_tag",
    "start_run",
    "step",
]

_LAZY = {
    "Run": "tether.tracking.run",
    "start_run": "tether.tracking.run",
    "active_run": "tether.tracking",
    "step": "tether.pipelines",
    "pipeline": "tether.pipelines",
    "log_metric": "tether.sdk",
    "log_metrics": "tether.sdk",
    "log_param": "tether.sdk",
    "log_params": "tether.sdk",
    "set_tag": "tether.sdk",
    "flush": "tether.sdk",
    "get_run": "tether.sdk",
    "search_runs": "tether.search",
}
_SUBMODULES = {"data", "models", "monitoring", "lineage"}

if TYPE_CHECKING:
    from tether import data, lineage, models, monitoring
    from tether.pipelines import pipeline, step
    from tether.sdk import (
        flush,
        get_run,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        set_tag,
    )
    from tether.search import search_runs
    from tether.tracking import active_run
    from tether.tracking.run import Run, start_run


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"tether.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
