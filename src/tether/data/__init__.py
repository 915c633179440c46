"""The data driver: register, load, profile, validate and split data sets."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DatasetVersion",
    "QualityReport",
    "Suite",
    "checks",
    "load",
    "profile",
    "register",
    "resolve",
    "split",
    "validate",
]

_LAZY = {
    "DatasetVersion": "tether.data.versions",
    "register": "tether.data.versions",
    "load": "tether.data.versions",
    "resolve": "tether.data.versions",
    "profile": "tether.data.profiles",
    "QualityReport": "tether.data.quality",
    "Suite": "tether.data.quality",
    "validate": "tether.data.quality",
    "split": "tether.data.splits",
}


def __getattr__(name: str) -> Any:
    if name == "checks":
        return importlib.import_module("tether.data.quality")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
