"""The model registry: register, alias, review, load; signatures and their enforcement."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AliasChange",
    "LoadedModel",
    "ModelVersion",
    "Signature",
    "Suite",
    "SuiteResult",
    "alias_history",
    "alias_periods",
    "attach_suite",
    "build_card",
    "delete_version",
    "describe",
    "enforce",
    "get_version",
    "infer_signature",
    "input_example",
    "list_versions",
    "load",
    "package",
    "record_test_result",
    "register_model",
    "remove_alias",
    "run_tests",
    "set_alias",
    "set_status",
    "tag",
    "trust",
]

_REGISTRY = "tether.models.registry"
_LAZY = {
    "AliasChange": "tether.models.history",
    "ModelVersion": _REGISTRY,
    "alias_history": "tether.models.history",
    "alias_periods": "tether.models.history",
    "build_card": "tether.models.card",
    "delete_version": _REGISTRY,
    "describe": _REGISTRY,
    "get_version": _REGISTRY,
    "list_versions": _REGISTRY,
    "record_test_result": _REGISTRY,
    "register_model": _REGISTRY,
    "remove_alias": _REGISTRY,
    "set_alias": _REGISTRY,
    "set_status": _REGISTRY,
    "tag": _REGISTRY,
    "trust": _REGISTRY,
    "LoadedModel": "tether.models.loading",
    "input_example": "tether.models.loading",
    "load": "tether.models.loading",
    "package": "tether.models.packaging",
    "Signature": "tether.models.signature",
    "enforce": "tether.models.signature",
    "infer_signature": "tether.models.signature",
    "Suite": "tether.models.testing",
    "SuiteResult": "tether.models.testing",
    "attach_suite": "tether.models.testing",
    "run_tests": "tether.models.testing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
