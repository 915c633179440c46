"""Turn Python values into blobs and back.

DataFrames are stored as Parquet, NumPy arrays as ``.npy`` and
JSON-compatible values as JSON, so that loading never runs code. JSON keeps
the order of dict keys, so a loaded dict iterates in the order it was built.
NumPy bool, integer and float scalars count as JSON values and come back as
Python ``bool``, ``int`` and ``float``. Models are added by
``tether.pipelines.values`` through their flavor.
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
    """The value has no safe, deterministic serialization.

    ``part`` is set when the value is a dict or list and names the part of it
    that JSON cannot store.
    """

    part: UnstorablePart | None = None


@dataclass(frozen=True)
class Materialized:
    """A stored value: the blob and the kind of value it holds."""

    blob: Blob
    kind: str


def to_bytes(value: Any) -> tuple[bytes, str, str]:
    """Serialize ``value``; return the bytes, the value kind and the media type."""
    if is_json(value):
        return json_text(value).encode(), "json", JSON
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
    if isinstance(value, (dict, list)):
        raise _unstorable_error(value)
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
    """Return whether ``value`` is JSON data: None, text, numbers, lists and text-keyed dicts.

    NumPy bool, integer and float scalars count as numbers.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json(v) for k, v in value.items())
    return _is_numpy_scalar(value)


def json_text(value: Any) -> str:
    """Return the JSON text of an :func:`is_json` value, with dict keys in their order.

    This text is what a stored JSON value contains and what a cache key digests,
    so two dicts with the same items in another order differ, as they do for
    code that iterates them.
    """
    return json.dumps(value, allow_nan=True, default=_numpy_scalar_value)


def plain_json(value: Any) -> Any:
    """Return a copy of an :func:`is_json` value with NumPy scalars made Python numbers.

    The copy serializes with any JSON encoder, such as a database driver's.
    """
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if _is_numpy_scalar(value):
        return value.item()
    return value


def _is_numpy_scalar(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, (np.bool_, np.integer, np.floating))


def _numpy_scalar_value(value: Any) -> Any:
    """Return a NumPy scalar as a Python number; ``json.dumps`` calls it for other types."""
    if _is_numpy_scalar(value):
        return value.item()
    raise TypeError(f"values of type {type(value).__qualname__} are not JSON")


@dataclass(frozen=True)
class UnstorablePart:
    """The first part of a dict or list that JSON cannot store.

    Attributes:
        location: A Python index path such as ``["pair"]`` or ``[2]["when"]``;
            empty for the value itself.
        type_name: The type of the part, e.g. ``tuple``.
        bad_key: True when the part is a dict key that is not text.
    """

    location: str
    type_name: str
    bad_key: bool = False

    def describe(self) -> str:
        """Return the finding as ``["pair"]: tuple`` or ``["counts"]: int key``."""
        return f"{self.location}: {self.type_name}{' key' if self.bad_key else ''}"


def unstorable_part(value: Any) -> UnstorablePart | None:
    """Return the first part of ``value`` that JSON cannot store, or None for JSON data."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return None
    if _is_numpy_scalar(value):
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_part(item)
            if found is not None:
                return _inside(f"[{index}]", found)
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return UnstorablePart(f"[{key!r}]", type(key).__qualname__, True)
            found = unstorable_part(item)
            if found is not None:
                return _inside(f"[{json.dumps(key, ensure_ascii=False)}]", found)
        return None
    return UnstorablePart("", type(value).__qualname__)


def _inside(index: str, part: UnstorablePart) -> UnstorablePart:
    return UnstorablePart(index + part.location, part.type_name, part.bad_key)


FIXES = {
    "tuple": "use a list",
    "set": "use a sorted list",
    "frozenset": "use a sorted list",
}


def _unstorable_error(value: dict[Any, Any] | list[Any]) -> NotMaterializableError:
    """Return the error for a dict or list that contains something JSON cannot store."""
    part = unstorable_part(value) or UnstorablePart("", type(value).__qualname__)
    if part.bad_key:
        problem = f"the key at {part.location} has type {part.type_name}; use text keys"
    else:
        fix = FIXES.get(
            part.type_name,
            "convert it to JSON data, or return it as an output of its own",
        )
        problem = f"the value at {part.location} has type {part.type_name}; {fix}"
    error = NotMaterializableError(
        f"values of type {type(value).__qualname__} cannot be stored as JSON: {problem}"
    )
    error.part = part
    return error
