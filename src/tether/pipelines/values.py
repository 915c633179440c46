"""Materializers for step outputs: the core types plus models by flavor."""

from __future__ import annotations

from typing import Any

from tether.artifacts import ObjectStore, materializers
from tether.artifacts.materializers import Materialized, NotMaterializableError
from tether.models.flavors import sklearn as sklearn_flavor

SKOPS = "application/vnd.skops"


def to_bytes(value: Any) -> tuple[bytes, str, str]:
    """Serialize ``value``; return the bytes, the value kind and the media type."""
    if sklearn_flavor.is_sklearn_model(value):
        return sklearn_flavor.dumps_estimator(value), "sklearn", SKOPS
    return materializers.to_bytes(value)


def from_bytes(data: bytes, kind: str) -> Any:
    """Rebuild a value from :func:`to_bytes` output; models load without running code."""
    if kind == "sklearn":
        return sklearn_flavor.loads_estimator(data)
    return materializers.from_bytes(data, kind)


def save(objects: ObjectStore, value: Any) -> Materialized:
    """Store ``value`` and return its blob and kind."""
    data, kind, media_type = to_bytes(value)
    return Materialized(objects.put_bytes(data, media_type), kind)


def load(objects: ObjectStore, digest: str, kind: str) -> Any:
    """Load a value stored by :func:`save`."""
    return from_bytes(objects.read_bytes(digest), kind)


__all__ = ["NotMaterializableError", "from_bytes", "load", "save", "to_bytes"]
