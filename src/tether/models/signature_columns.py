"""Conversion of one input column to the type that its column spec declares.

:func:`convert_column` is the column half of
:func:`tether.models.signature.enforce`. It converts a value only when the
conversion cannot change what the value means, and raises
:class:`~tether.errors.SchemaError` otherwise. The section "Signatures" of
``docs/models.md`` lists every rule, and ``tests/test_signature_rules.py``
runs each row of its table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from tether.errors import SchemaError

if TYPE_CHECKING:
    from tether.models.signature import ColumnSpec

# pandas' default string dtype from pandas 3 on. It marks missing values with
# NaN, the marker that scikit-learn's imputers and encoders treat as missing.
STRING_DTYPE = pd.StringDtype(na_value=np.nan)
_INT64_MIN = int(np.iinfo(np.int64).min)
_INT64_MAX = int(np.iinfo(np.int64).max)
_MAX_SHOWN_CHARS = 60
_MAX_SHOWN_LEVELS = 20

_HINTS = {
    "integer": "send whole numbers without quotes",
    "float": "send numbers without quotes",
    "boolean": "send true or false without quotes",
    "string": "send text in quotes",
    "datetime": "send ISO 8601 text such as '2013-01-01T05:00:00'",
}


def convert_column(spec: ColumnSpec, column: pd.Series) -> Any:
    """Convert a column to the declared type and return the converted array.

    Returns:
        An array for a DataFrame column, of ``int64`` for an integer column
        (``Int64`` when nullable), ``float64`` with NaN for nulls, ``bool``
        (``boolean`` when nullable), pandas' NaN-backed string dtype, naive
        ``datetime64[ns]`` in UTC, or a ``Categorical`` with the declared
        levels.

    Raises:
        SchemaError: If the column has a null but is not nullable, or a value
            cannot be converted safely. The message names the column, the
            value, the row and the fix.
    """
    missing = column.isna().to_numpy(dtype=bool)
    if missing.any() and not spec.nullable:
        row = column.index[int(missing.argmax())]
        raise SchemaError(
            f"column {spec.name!r}: expected {spec.type}, got a missing or null "
            f"value at row {show_value(row)}, but the column is not nullable; "
            "send a value in every row",
            column=spec.name,
        )
    return _CONVERTERS[spec.type](spec, column, missing)


def dtype_kind(dtype: Any) -> str | None:
    """Return the column type a dtype always holds, or None for object-like."""
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_integer_dtype(dtype):
        return "integer"
    if ptypes.is_float_dtype(dtype):
        return "float"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return None


def kind_of_value(value: Any) -> str:
    """Return the column type of one non-null value, or its Python type name."""
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | np.integer):
        return "integer"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.date | np.datetime64):
        return "datetime"
    return type(value).__name__


def show_value(value: Any) -> str:
    """Return a short repr of a value for an error message."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 3] + "..."
    return text


def show_levels(levels: Sequence[Any]) -> str:
    """Return the first levels of a category for an error message."""
    shown = ", ".join(show_value(level) for level in levels[:_MAX_SHOWN_LEVELS])
    if len(levels) > _MAX_SHOWN_LEVELS:
        shown += f", ... ({len(levels)} levels in all)"
    return shown


def _to_integer(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    values = _integer_values(spec, column, missing)
    if spec.nullable:
        return pd.arrays.IntegerArray(values, missing.copy())
    return values


def _integer_values(
    spec: ColumnSpec, column: pd.Series, missing: np.ndarray
) -> np.ndarray:
    """Return the column as int64 values, with 0 where a value is missing."""
    _check_kinds(spec, column, missing, {"integer", "float"})
    if ptypes.is_integer_dtype(column.dtype):
        _check_unsigned_range(spec, column, missing)
        return column.to_numpy(dtype=np.int64, na_value=0)
    if ptypes.is_float_dtype(column.dtype):
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        _check_whole(spec, column, numbers, missing)
        return np.where(missing, 0.0, numbers).astype(np.int64)
    return _object_integers(spec, column, missing)


def _object_integers(
    spec: ColumnSpec, column: pd.Series, missing: np.ndarray
) -> np.ndarray:
    # Each value is converted on its own, because a float64 pass would round
    # integers above 2**53.
    values = column.to_numpy(dtype=object)
    result = np.zeros(len(values), dtype=np.int64)
    for position in np.flatnonzero(~missing):
        value = values[position]
        if isinstance(value, float | np.floating):
            if not _is_whole_int64(float(value)):
                _raise_not_whole(spec, column, int(position), float(value))
        elif not _INT64_MIN <= int(value) <= _INT64_MAX:
            _raise_out_of_range(spec, column, int(position))
        result[position] = int(value)
    return result


def _to_float(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"integer", "float"})
    return column.to_numpy(dtype="float64", na_value=np.nan)


def _to_boolean(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"boolean"})
    if spec.nullable:
        return column.astype("boolean").array
    return column.to_numpy(dtype=bool)


def _to_string(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"string"})
    values = column.to_numpy(dtype=object, copy=True)
    values[missing] = None
    return pd.array(values, dtype=STRING_DTYPE)


def _to_datetime(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"datetime", "string"})
    if ptypes.is_datetime64_any_dtype(column.dtype):
        parsed = column
        if getattr(column.dtype, "tz", None) is not None:
            parsed = column.dt.tz_convert("UTC")
    else:
        parsed = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
        unparsed = parsed.isna().to_numpy(dtype=bool) & ~missing
        if unparsed.any():
            _raise_mismatch(spec, column, int(unparsed.argmax()), "string")
    if getattr(parsed.dtype, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    # pandas 3 parses text at the resolution it needs, so a date outside the
    # datetime64[ns] range parses fine and is found here instead.
    outside = (parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)
    outside_rows = outside.to_numpy(dtype=bool, na_value=False)
    if outside_rows.any():
        position = int(outside_rows.argmax())
        raise SchemaError(
            f"column {spec.name!r}: datetime {show_value(column.iloc[position])} at "
            f"row {show_value(column.index[position])} is outside the supported "
            "range 1677-09-21 to 2262-04-11; send dates inside that range",
            column=spec.name,
        )
    return parsed.astype("datetime64[ns]").array


def _to_category(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    levels = list(spec.levels or ())
    if isinstance(levels[0], str):
        _check_kinds(spec, column, missing, {"string"})
        values = column.to_numpy(dtype=object, copy=True)
    else:
        values = _integer_values(spec, column, missing).astype(object)
    values[missing] = None
    codes = pd.Index(levels, dtype=object).get_indexer(pd.Index(values, dtype=object))
    unseen = (codes == -1) & ~missing
    if unseen.any() and spec.unseen == "error":
        position = int(unseen.argmax())
        raise SchemaError(
            f"column {spec.name!r}: unseen category {show_value(column.iloc[position])} "
            f"at row {show_value(column.index[position])}; known levels are "
            f"{show_levels(levels)}; send a known level, or set "
            '"unseen": "null" in the signature to treat unseen categories as '
            "missing values",
            column=spec.name,
        )
    dtype = pd.CategoricalDtype(levels, ordered=spec.ordered)
    return pd.Categorical.from_codes(codes, dtype=dtype)


_CONVERTERS: dict[str, Callable[[ColumnSpec, pd.Series, np.ndarray], Any]] = {
    "integer": _to_integer,
    "float": _to_float,
    "boolean": _to_boolean,
    "string": _to_string,
    "datetime": _to_datetime,
    "category": _to_category,
}


def _check_kinds(
    spec: ColumnSpec, column: pd.Series, missing: np.ndarray, allowed: set[str]
) -> None:
    """Raise on the first non-null value whose type is not in ``allowed``."""
    kind = dtype_kind(column.dtype)
    if kind in allowed:
        return
    if kind is not None:
        present = np.flatnonzero(~missing)
        if present.size:
            _raise_mismatch(spec, column, int(present[0]), kind)
        return
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.dtype.categories.to_numpy(dtype=object)
        if all(kind_of_value(value) in allowed for value in categories):
            return
    values = column.to_numpy(dtype=object)
    for position in np.flatnonzero(~missing):
        kind = kind_of_value(values[position])
        if kind not in allowed:
            _raise_mismatch(spec, column, int(position), kind)


def _is_whole_int64(number: float) -> bool:
    return math.isfinite(number) and number.is_integer() and abs(number) < 2.0**63


def _check_whole(
    spec: ColumnSpec, column: pd.Series, numbers: np.ndarray, missing: np.ndarray
) -> None:
    with np.errstate(invalid="ignore"):
        fits = (
            np.isfinite(numbers)
            & (numbers == np.floor(numbers))
            & (np.abs(numbers) < 2.0**63)
        )
    bad = ~fits & ~missing
    if bad.any():
        position = int(bad.argmax())
        _raise_not_whole(spec, column, position, float(numbers[position]))


def _raise_not_whole(
    spec: ColumnSpec, column: pd.Series, position: int, number: float
) -> None:
    raise SchemaError(
        f"column {spec.name!r}: expected {spec.type}, got float value "
        f"{show_value(number)} at row {show_value(column.index[position])}; "
        "send whole numbers that fit in 64 bits",
        column=spec.name,
    )


def _check_unsigned_range(
    spec: ColumnSpec, column: pd.Series, missing: np.ndarray
) -> None:
    if column.dtype.kind != "u" and str(column.dtype) != "UInt64":
        return
    too_large = (column > _INT64_MAX).to_numpy(dtype=bool, na_value=False) & ~missing
    if too_large.any():
        _raise_out_of_range(spec, column, int(too_large.argmax()))


def _raise_out_of_range(spec: ColumnSpec, column: pd.Series, position: int) -> None:
    raise SchemaError(
        f"column {spec.name!r}: integer value {show_value(column.iloc[position])} at "
        f"row {show_value(column.index[position])} does not fit in a signed 64-bit "
        f"integer; send values from {_INT64_MIN} to {_INT64_MAX}",
        column=spec.name,
    )


def _raise_mismatch(
    spec: ColumnSpec, column: pd.Series, position: int, kind: str
) -> None:
    value = column.iloc[position]
    row = column.index[position]
    raise SchemaError(
        f"column {spec.name!r}: expected {spec.type}, got {kind} value "
        f"{show_value(value)} at row {show_value(row)}; {_hint(spec, kind)}",
        column=spec.name,
    )


def _hint(spec: ColumnSpec, kind: str) -> str:
    if spec.type in ("integer", "float") and kind == "boolean":
        return "send numbers, because true and false are not converted to numbers"
    if spec.type == "category":
        levels = spec.levels or ()
        form = "text in quotes" if isinstance(levels[0], str) else "a whole number"
        return f"send one of the levels {show_levels(levels)} as {form}"
    return _HINTS[spec.type]
