"""The model registry: register, alias, load; signatures and their enforcement."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "LoadedModel",
    "ModelVersion",
    "Signature",
    "enforce",
    "get_version",
    "infer_signature",
    "list_versions",
    "load",
    "register_model",
    "set_alias",
]

_LAZY = {
    "LoadedModel": "tether.models.registry",
    "ModelVersion": "tether.models.registry",
    "get_version": "tether.models.registry",
    "list_versions": "tether.models.registry",
    "load": "tether.models.registry",
    "register_model": "tether.models.registry",
    "set_alias": "tether.models.registry",
    "Signature": "tether.models.signature",
    "enforce": "tether.models.signature",
    "infer_signature": "tether.models.signature",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
