"""The array path of ``enforce``: columns of JSON values to NumPy arrays, no DataFrame.

The scoring server's ONNX runtime parses a JSON body into one list of values
per column and needs one NumPy array per input. :func:`convert_values`
converts a list with the rules of
:func:`tether.models.signature_columns.convert_column` and returns a NumPy
array in place of a pandas array. :func:`convert_frame_values` returns
the pandas array that ``convert_column`` returns, so the native runtime
builds its enforced frame from the JSON lists without a frame of raw values.

Only lists whose values are all valid take the fast path, which uses NumPy
alone. Every other input, and every list that breaks a rule, goes through
``convert_column`` on a Series typed as the JSON parser types it, so the
rules and the error messages are those of ``convert_column`` by
construction. The fast path returns what ``convert_column`` would return,
converted by :func:`numpy_values`, and ``tests/test_serving_onnx.py``
checks that on every row of the rules table in ``docs/models.md`` and on
generated columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from tether.models.signature_columns import STRING_DTYPE, convert_column

if TYPE_CHECKING:
    from tether.models.signature import ColumnSpec

_INT64_MIN = int(np.iinfo(np.int64).min)
_INT64_MAX = int(np.iinfo(np.int64).max)
_NONE = type(None)


def json_values_array(values: Sequence[Any]) -> Any:
    """Return a pandas array that keeps the JSON type of a column's values.

    JSON integers stay integers, and a column of integers with a null uses
    pandas' nullable ``Int64`` dtype, so integers above 2**53 stay exact.
    """
    series = pd.Series(values)
    # pandas turns integers with a null into float64, which would lose
    # integers above 2**53, so such columns use the nullable Int64 dtype.
    is_float = ptypes.is_float_dtype(series.dtype)
    if is_float and ptypes.infer_dtype(values, skipna=True) == "integer":
        series = pd.Series(values, dtype="Int64")
    return series.array


def convert_values(spec: ColumnSpec, values: Sequence[Any]) -> np.ndarray:
    """Convert one column of JSON values to the declared type, as a NumPy array.

    Returns:
        ``float64`` with NaN for nulls for a float column, and
        ``datetime64[ns]`` with NaT for a datetime column. Integer and
        boolean columns give ``int64`` and ``bool``, string columns and
        categories with text levels an object array of ``str``, and
        categories with integer levels ``int64``. In these, a null makes
        the array an object array with None at the null positions.

    Raises:
        SchemaError: As :func:`~tether.models.signature_columns.convert_column`
            raises it, with the row as the position in the list.
    """
    if isinstance(values, list):
        fast = _fast_path(spec, values)
        if fast is not None:
            return fast
    column = pd.Series(json_values_array(values))
    result: np.ndarray = numpy_values(convert_column(spec, column))
    return result


def convert_frame_values(spec: ColumnSpec, values: Sequence[Any]) -> Any:
    """Convert one column of JSON values to the array that ``convert_column`` returns.

    The result equals ``convert_column(spec, pd.Series(json_values_array(values)))``,
    error messages included, but a list whose values are all valid skips
    the Series and takes the NumPy fast path of :func:`convert_values`.
    """
    if isinstance(values, list):
        fast = _fast_path(spec, values)
        if fast is not None:
            return _frame_array(spec, fast)
    return convert_column(spec, pd.Series(json_values_array(values)))


def _frame_array(spec: ColumnSpec, values: np.ndarray) -> Any:
    """Return a fast-path result in the form that ``convert_column`` returns.

    ``values`` holds only valid values, and None at null positions when
    the array is an object array.
    """
    if spec.type == "float":
        return values
    missing = _missing(values)
    if spec.type == "integer":
        if not spec.nullable:
            return values
        numbers = np.where(missing, 0, values).astype(np.int64)
        return pd.arrays.IntegerArray(numbers, missing)
    if spec.type == "boolean":
        if not spec.nullable:
            return values
        flags = np.where(missing, False, values).astype(bool)
        return pd.arrays.BooleanArray(flags, missing)
    if spec.type == "string":
        return pd.array(values.astype(object), dtype=STRING_DTYPE)
    levels = list(spec.levels or ())
    codes = pd.Index(levels, dtype=object).get_indexer(
        pd.Index(values.astype(object), dtype=object)
    )
    dtype = pd.CategoricalDtype(levels, ordered=spec.ordered)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype != object:
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((value is None for value in values), bool, len(values))


def numpy_values(converted: Any) -> np.ndarray:
    """Return what ``convert_column`` returned as the NumPy array of :func:`convert_values`."""
    if isinstance(converted, np.ndarray):
        return converted
    if isinstance(converted, pd.Categorical):
        levels = np.asarray(converted.categories, dtype=object)
        codes = converted.codes
        if (codes == -1).any():
            result = np.empty(len(codes), dtype=object)
            present = codes != -1
            result[present] = levels[codes[present]]
            result[~present] = None
            return result
        taken: np.ndarray = levels[codes]
        return taken.astype(np.int64) if _integer_levels(levels) else taken
    if ptypes.is_datetime64_any_dtype(converted.dtype):
        return np.asarray(converted, dtype="datetime64[ns]")
    if ptypes.is_float_dtype(converted.dtype):
        return np.asarray(converted, dtype=np.float64)
    missing = np.asarray(pd.isna(converted), dtype=bool)
    if ptypes.is_string_dtype(converted.dtype):
        result = np.asarray(converted, dtype=object)
        result[missing] = None
        return result
    if missing.any():
        result = np.asarray(converted, dtype=object)
        result[missing] = None
        return result
    numpy_dtype = np.int64 if ptypes.is_integer_dtype(converted.dtype) else bool
    return np.asarray(converted, dtype=numpy_dtype)


def _integer_levels(levels: np.ndarray) -> bool:
    return len(levels) > 0 and not isinstance(levels[0], str)


def _fast_path(spec: ColumnSpec, values: list[Any]) -> np.ndarray | None:
    """Convert a column whose values are all valid, or return None for the slow path."""
    types = set(map(type, values))
    has_null = _NONE in types
    if has_null:
        if not spec.nullable:
            return None
        types.discard(_NONE)
    if not types:
        return None
    if spec.type == "float":
        return _fast_float(types, values, spec.nullable)
    if spec.type == "integer":
        return _fast_integer(types, values, has_null)
    if spec.type == "boolean":
        return _fast_same_type(types, values, has_null, bool, bool)
    if spec.type == "string":
        return _fast_same_type(types, values, has_null, str, object)
    if spec.type == "category":
        return _fast_category(spec, types, values, has_null)
    return None


def _fast_float(
    types: set[type], values: list[Any], nullable: bool
) -> np.ndarray | None:
    if not types <= {int, float}:
        return None
    try:
        numbers = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond the float64 range
        return None
    if not nullable and float in types and np.isnan(numbers).any():
        return None
    return numbers


def _fast_integer(
    types: set[type], values: list[Any], has_null: bool
) -> np.ndarray | None:
    if not types <= {int, float}:
        return None
    if float in types:
        # NumPy reads None as NaN here, so nulls among floats take the slow path.
        if has_null:
            return None
        numbers = np.array(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            fits = (
                np.isfinite(numbers)
                & (numbers == np.floor(numbers))
                & (np.abs(numbers) < 2.0**63)
            )
        if not fits.all():
            return None
        return numbers.astype(np.int64)
    if has_null:
        present_ints = [value for value in values if value is not None]
        if not _fit_int64(present_ints):
            return None
        return _with_nulls(values, int)
    if not _fit_int64(values):
        return None
    return np.array(values, dtype=np.int64)


def _fit_int64(values: list[int]) -> bool:
    return min(values) >= _INT64_MIN and max(values) <= _INT64_MAX


def _fast_same_type(
    types: set[type],
    values: list[Any],
    has_null: bool,
    value_type: type,
    dtype: Any,
) -> np.ndarray | None:
    if types != {value_type}:
        return None
    if has_null:
        return _with_nulls(values, lambda value: value)
    return np.array(values, dtype=dtype)


def _fast_category(
    spec: ColumnSpec, types: set[type], values: list[Any], has_null: bool
) -> np.ndarray | None:
    levels = spec.levels or ()
    text_levels = isinstance(levels[0], str)
    if text_levels and types != {str}:
        return None
    if not text_levels:
        present = [value for value in values if value is not None]
        if types != {int} or not _fit_int64(present):
            return None
    known = set(levels)
    unseen_is_null = spec.unseen == "null"
    result = np.empty(len(values), dtype=object)
    any_null = has_null
    for position, value in enumerate(values):
        if value is not None and value not in known:
            if not unseen_is_null:
                return None
            value = None
        if value is None:
            any_null = True
        result[position] = value
    if any_null or text_levels:
        return result
    return result.astype(np.int64)


def _with_nulls(values: list[Any], convert: Any) -> np.ndarray:
    result = np.empty(len(values), dtype=object)
    for position, value in enumerate(values):
        result[position] = None if value is None else convert(value)
    return result
