"""Column types and summary statistics of a data frame.

:func:`schema_of` maps each pandas dtype to a small type vocabulary that the
quality checks share, and :func:`profile` summarises every column as a
JSON-safe dict: no NaN or infinity (they become ``None``) and no numpy scalars.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import ConfigError, DataError

TYPES = ("integer", "float", "boolean", "string", "datetime", "category", "other")
"""The type vocabulary of :func:`schema_of`, shared with the quality checks."""

_OBJECT_TYPES = {"string": "string", "boolean": "boolean"}


def column_type(series: pd.Series) -> str:
    """Classify a column as one of :data:`TYPES`.

    An ``object`` column is ``"string"`` or ``"boolean"`` when all its non-null
    values are ``str`` or ``bool``, and ``"other"`` otherwise (mixed values, or
    no non-null value at all).
    """
    kind = series.dtype
    if isinstance(kind, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(kind):
        return "boolean"
    if pd.api.types.is_integer_dtype(kind):
        return "integer"
    if pd.api.types.is_float_dtype(kind):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(kind):
        return "datetime"
    if isinstance(kind, pd.StringDtype):
        return "string"
    if pd.api.types.is_object_dtype(kind):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        return _OBJECT_TYPES.get(inferred, "other")
    return "other"


def schema_of(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Return the name, type and pandas dtype of every column, in frame order.

    Args:
        frame: Any data frame.

    Returns:
        One ``{"name", "type", "dtype"}`` dict per column. ``type`` is one of
        :data:`TYPES` and ``dtype`` is the pandas dtype as a string (``"int64"``,
        ``"str"``, ``"datetime64[us, UTC]"``). Column names are converted to str.
    """
    return [
        {
            "name": str(name),
            "type": column_type(frame.iloc[:, position]),
            "dtype": str(frame.dtypes.iloc[position]),
        }
        for position, name in enumerate(frame.columns)
    ]


def json_safe(value: Any) -> Any:
    """Convert a scalar (or a list, tuple or dict of them) to a JSON-safe value.

    Null values of any kind (None, NaN, ``pd.NA``, ``NaT``) and infinities
    become ``None``. Numpy scalars become Python numbers, timestamps, dates and
    times become ISO strings, and anything else that JSON cannot hold becomes
    ``str(value)``.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if pd.isna(value):
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.isoformat()
    return str(value)


def profile(
    frame: pd.DataFrame,
    *,
    top: int = 5,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
) -> dict[str, Any]:
    """Summarise every column of a frame as a JSON-safe dict.

    Every column gets ``type``, ``nulls``, ``null_share`` (``None`` for a frame
    without rows) and ``distinct`` (non-null distinct values, ``None`` when the
    values are not hashable). Integer and float columns add ``min``, ``max``,
    ``mean``, ``std`` (sample, ``ddof=1``) and ``quantiles`` computed over the
    finite values (``None`` where there are none, or where a sum overflows
    float64), plus ``non_finite``, the count of ±inf. String, category,
    boolean and other columns add ``top``, the most frequent non-null values as
    ``{"value", "count"}`` dicts. Datetime columns add ``min`` and ``max`` as
    ISO strings.

    Args:
        frame: The frame to summarise. Column names become str keys.
        top: How many of the most frequent values to list.
        quantiles: Quantile levels in [0, 1], keyed in the output by ``f"{q:g}"``
            (``"0.05"``, ``"0.5"``).

    Returns:
        ``{"rows": n, "columns": {name: summary}}``.

    Raises:
        ConfigError: ``top`` is negative or a quantile is outside [0, 1].
        DataError: Two columns have the same name.
    """
    _validate_profile_options(top, quantiles)
    names = [str(name) for name in frame.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise DataError(
            f"cannot profile a frame with duplicate column names {duplicated}; "
            "rename or drop the duplicates first"
        )
    columns = {
        name: _profile_column(frame.iloc[:, position], top, quantiles)
        for position, name in enumerate(names)
    }
    return {"rows": len(frame), "columns": columns}


def _validate_profile_options(top: int, quantiles: Sequence[float]) -> None:
    if top < 0:
        raise ConfigError(f"top must be 0 or more, got {top}", setting="top", value=top)
    outside = [q for q in quantiles if not 0.0 <= q <= 1.0]
    if outside:
        raise ConfigError(
            f"quantiles must be between 0 and 1, got {outside}",
            setting="quantiles",
            value=list(quantiles),
        )


def _profile_column(
    series: pd.Series, top: int, quantiles: Sequence[float]
) -> dict[str, Any]:
    kind = column_type(series)
    rows = len(series)
    nulls = int(series.isna().sum())
    summary: dict[str, Any] = {
        "type": kind,
        "nulls": nulls,
        "null_share": nulls / rows if rows else None,
        "distinct": _distinct(series),
    }
    if kind in ("integer", "float"):
        summary.update(_numeric_summary(series, quantiles))
    elif kind == "datetime":
        summary["min"] = json_safe(series.min())
        summary["max"] = json_safe(series.max())
    else:
        summary["top"] = _top_values(series, top)
    return summary


def _distinct(series: pd.Series) -> int | None:
    try:
        return int(series.nunique(dropna=True))
    except TypeError:
        return None


def _numeric_summary(series: pd.Series, quantiles: Sequence[float]) -> dict[str, Any]:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    infinite = np.isinf(values)
    finite = values[np.isfinite(values)]
    levels = [f"{q:g}" for q in quantiles]
    if finite.size == 0:
        return {
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
            "quantiles": dict.fromkeys(levels),
            "non_finite": int(infinite.sum()),
        }
    if pd.api.types.is_integer_dtype(series.dtype):
        # The integers themselves, because float64 loses precision above 2**53.
        low, high = series.min(), series.max()
    else:
        low, high = finite.min(), finite.max()
    # Sums of values near the float64 limit overflow to inf, which json_safe
    # reports as None; the warning would only repeat that.
    with np.errstate(over="ignore", invalid="ignore"):
        points = np.quantile(finite, list(quantiles)) if quantiles else []
        mean = finite.mean()
        std = finite.std(ddof=1) if finite.size > 1 else None
    return {
        "min": json_safe(low),
        "max": json_safe(high),
        "mean": json_safe(mean),
        "std": json_safe(std),
        "quantiles": {
            level: json_safe(point) for level, point in zip(levels, points, strict=True)
        },
        "non_finite": int(infinite.sum()),
    }


def _top_values(series: pd.Series, top: int) -> list[dict[str, Any]]:
    if top == 0:
        return []
    try:
        counts = series.value_counts(dropna=True)
    except TypeError:
        counts = series.dropna().astype(str).value_counts()
    counts = counts[counts > 0].head(top)
    return [
        {"value": json_safe(value), "count": int(count)}
        for value, count in counts.items()
    ]
