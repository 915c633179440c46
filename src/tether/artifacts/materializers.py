"""Turn Python values into blobs and back.

DataFrames are stored as Parquet, NumPy arrays as ``.npy`` and
JSON-compatible values as canonical JSON, so that loading never runs code.
Models are added by ``tether.pipelines.values`` through their flavor.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import Any

from tether.artifacts.objects import Blob, ObjectStore
from tether.errors import TetherError

PARQUET = "application/vnd.apache.parquet"
NPY = "application/x-npy"
JSON = "application/json"


class NotMaterializableError(TetherError, TypeError):
    """The value has no safe, deterministic serialization."""


@dataclass(frozen=True)
class Materialized:
    """A stored value: the blob and the kind of value it holds."""

    blob: Blob
    kind: str


def to_bytes(value: Any) -> tuple[bytes, str, str]:
    """Serialize ``value``; return the bytes, the value kind and the media type."""
    if is_json(value):
        return json.dumps(value, sort_keys=True, allow_nan=True).encode(), "json", JSON
    # A DataFrame or an array exists only once pandas or NumPy is imported, so
    # JSON values never pay for importing them (half a second per process).
    pd = sys.modules.get("pandas")
    np = sys.modules.get("numpy")
    if pd is not None and isinstance(value, pd.DataFrame):
        return _parquet_bytes(value), "dataframe", PARQUET
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise NotMaterializableError(
                "arrays of Python objects cannot be stored without pickle; convert the "
                "array to a numeric, boolean or string dtype"
            )
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return buffer.getvalue(), "ndarray", NPY
    raise NotMaterializableError(
        f"values of type {type(value).__qualname__} cannot be stored; return a DataFrame, "
        "an array or JSON-compatible data"
    )


def from_bytes(data: bytes, kind: str) -> Any:
    """Rebuild a value from :func:`to_bytes` output."""
    if kind == "json":
        return json.loads(data)
    if kind == "dataframe":
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if kind == "ndarray":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    raise ValueError(f"unknown value kind {kind!r}")


def save(objects: ObjectStore, value: Any) -> Materialized:
    """Store ``value`` and return its blob and kind."""
    data, kind, media_type = to_bytes(value)
    return Materialized(objects.put_bytes(data, media_type), kind)


def load(objects: ObjectStore, digest: str, kind: str) -> Any:
    """Load a value stored by :func:`save`."""
    return from_bytes(objects.read_bytes(digest), kind)


def _parquet_bytes(frame: Any) -> bytes:
    import pyarrow as pa

    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, engine="pyarrow", compression="zstd")
    except pa.ArrowException as exc:
        raise NotMaterializableError(
            f"the DataFrame cannot be stored as Parquet: {exc}; convert columns of "
            "Python objects to numbers, strings or dates"
        ) from exc
    return buffer.getvalue()


def is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json(v) for k, v in value.items())
    return False
