"""Column types and summary statistics of a data frame.

:func:`schema_of` maps each pandas dtype to a small type vocabulary that the
quality checks share, and :func:`profile` summarises every column as a
JSON-safe dict: no NaN or infinity (they become ``None``) and no numpy scalars.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
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


DEFAULT_TOP = 20
"""How many of the most frequent values a profile lists per column."""

DEFAULT_BINS = 20
"""The maximum number of histogram bins per numeric or datetime column."""

DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""The quantile levels a profile stores per numeric column."""


@dataclass(frozen=True)
class _Options:
    top: int
    quantiles: tuple[float, ...]
    bins: int


def profile(
    frame: pd.DataFrame,
    *,
    top: int = DEFAULT_TOP,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    bins: int = DEFAULT_BINS,
) -> dict[str, Any]:
    """Summarise every column of a frame as a JSON-safe dict.

    Every column gets ``type``, ``nulls``, ``null_share`` (``None`` for a frame
    without rows), ``distinct`` (non-null distinct values, ``None`` when
    pandas cannot count them) and ``top``, the most frequent non-null values
    as ``{"value", "count"}`` dicts, most frequent first. Numbers and
    datetimes with equal counts are listed in sorted order.

    Integer and float columns add ``min``, ``max``, ``mean``, ``std`` (sample,
    ``ddof=1``), ``quantiles`` and ``histogram``, all computed over the finite
    values (``None`` where there are none, or where a sum overflows float64),
    plus ``non_finite``, the count of ±inf. Datetime columns add ``min``,
    ``max`` and ``histogram`` with ISO timestamps in the column's time zone.

    A ``histogram`` is ``{"edges": [...], "counts": [...]}`` with at most
    ``bins`` bins. Bin ``i`` contains the values in ``[edges[i], edges[i+1])``
    and the last bin also contains the maximum. Float and datetime bins split
    ``[min, max]`` into equal parts. Integer bins have a whole-number width
    and are centred on integers (edges at ``n - 0.5``), so no edge falls on a
    value. A column whose values are all equal has one bin
    with equal edges (an integer column's bin is ``[v - 0.5, v + 0.5]``).

    Each column's values are sorted once (numeric and datetime columns) or
    counted once (other columns), and every statistic comes from that pass.

    Args:
        frame: The frame to summarise. Column names become str keys.
        top: How many of the most frequent values to list.
        quantiles: Quantile levels in [0, 1], keyed in the output by ``f"{q:g}"``
            (``"0.05"``, ``"0.5"``).
        bins: The maximum number of histogram bins, 1 or more.

    Returns:
        ``{"rows": n, "columns": {name: summary}}``.

    Raises:
        ConfigError: ``top`` is negative, ``bins`` is below 1 or a quantile is
            outside [0, 1].
        DataError: Two columns have the same name.
    """
    _validate_profile_options(top, quantiles, bins)
    names = [str(name) for name in frame.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise DataError(
            f"cannot profile a frame with duplicate column names {duplicated}; "
            "rename or drop the duplicates first"
        )
    options = _Options(top, tuple(quantiles), bins)
    columns = {
        name: _profile_column(frame.iloc[:, position], options)
        for position, name in enumerate(names)
    }
    return {"rows": len(frame), "columns": columns}


def _validate_profile_options(top: int, quantiles: Sequence[float], bins: int) -> None:
    if top < 0:
        raise ConfigError(f"top must be 0 or more, got {top}", setting="top", value=top)
    if bins < 1:
        raise ConfigError(
            f"bins must be 1 or more, got {bins}", setting="bins", value=bins
        )
    outside = [q for q in quantiles if not 0.0 <= q <= 1.0]
    if outside:
        raise ConfigError(
            f"quantiles must be between 0 and 1, got {outside}",
            setting="quantiles",
            value=list(quantiles),
        )


def _profile_column(series: pd.Series, options: _Options) -> dict[str, Any]:
    kind = column_type(series)
    rows = len(series)
    nulls = int(series.isna().sum())
    summary: dict[str, Any] = {
        "type": kind,
        "nulls": nulls,
        "null_share": nulls / rows if rows else None,
    }
    if kind in ("integer", "float"):
        summary.update(_numeric_summary(series, options))
    elif kind == "datetime":
        summary.update(_datetime_summary(series, options))
    else:
        summary.update(_categorical_summary(series, options.top))
    return summary


def _numeric_summary(series: pd.Series, options: _Options) -> dict[str, Any]:
    present = _sorted_numbers(series)
    values, counts = _runs(present)
    finite = present
    if present.dtype.kind == "f":
        # Sorted, so the infinities are at the two ends.
        first = np.searchsorted(present, -np.inf, side="right")
        last = np.searchsorted(present, np.inf, side="left")
        finite = present[first:last]
        finite_runs = np.isfinite(values)
        values, counts = values[finite_runs], counts[finite_runs]
    levels = [f"{q:g}" for q in options.quantiles]
    summary: dict[str, Any] = {
        "distinct": int(present.size and _count_runs(present)),
        "non_finite": int(present.size - finite.size),
        "top": _top_entries(values, counts, options.top, json_safe),
    }
    if finite.size == 0:
        return summary | {
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
            "quantiles": dict.fromkeys(levels),
            "histogram": None,
        }
    numbers = finite.astype("float64", copy=False)
    # Sums of values near the float64 limit overflow to inf, which json_safe
    # reports as None; the warning would only repeat that.
    with np.errstate(over="ignore", invalid="ignore"):
        points = np.quantile(numbers, options.quantiles) if options.quantiles else []
        mean = numbers.mean()
        std = numbers.std(ddof=1) if numbers.size > 1 else None
    integer = finite.dtype.kind in "iu"
    return summary | {
        # The integers themselves, because float64 loses precision above 2**53.
        "min": json_safe(finite[0]),
        "max": json_safe(finite[-1]),
        "mean": json_safe(mean),
        "std": json_safe(std),
        "quantiles": {
            level: json_safe(point) for level, point in zip(levels, points, strict=True)
        },
        "histogram": _numeric_histogram(numbers, options.bins, integer=integer),
    }


def _sorted_numbers(series: pd.Series) -> np.ndarray:
    """Return the non-null values sorted, as integers for an integer column."""
    present = series.dropna()
    if pd.api.types.is_integer_dtype(series.dtype):
        values = present.to_numpy()
        if values.dtype.kind not in "iu":
            values = values.astype("float64")
    else:
        values = present.to_numpy(dtype="float64")
    return np.sort(values)


def _runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct values of a sorted array and how often each occurs."""
    if ordered.size == 0:
        return ordered, np.zeros(0, dtype="int64")
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, ordered.size))
    return ordered[starts], counts


def _count_runs(ordered: np.ndarray) -> int:
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def _top_entries(
    values: np.ndarray, counts: np.ndarray, top: int, convert: Any
) -> list[dict[str, Any]]:
    """List the ``top`` most frequent values; ties keep the sorted value order."""
    order = np.argsort(-counts, kind="stable")[:top]
    return [
        {"value": convert(values[index]), "count": int(counts[index])}
        for index in order
    ]


def _numeric_histogram(
    numbers: np.ndarray, bins: int, *, integer: bool
) -> dict[str, list[Any]] | None:
    low, high = float(numbers[0]), float(numbers[-1])
    with np.errstate(over="ignore", invalid="ignore"):
        span = high - low
    if not math.isfinite(span):
        # NOTE: values near ±1.8e308 have a span that overflows float64, and
        # such a column gets no histogram.
        return None
    if integer:
        edges = _integer_edges(low, high, bins)
    elif span == 0:
        edges = np.array([low, high])
    else:
        edges = np.linspace(low, high, bins + 1)
    return {"edges": json_safe(edges), "counts": _bin_counts(numbers, edges)}


def _integer_edges(low: float, high: float, bins: int) -> np.ndarray:
    """Return edges at ``n - 0.5`` with a whole-number width, at most ``bins`` bins."""
    values = high - low + 1
    width = max(1.0, float(math.ceil(values / bins)))
    count = math.ceil(values / width)
    return low - 0.5 + width * np.arange(count + 1)


def _bin_counts(ordered: np.ndarray, edges: Any) -> list[int]:
    """Count sorted values per bin; every value lies within the outer edges."""
    inner = np.searchsorted(ordered, np.asarray(edges[1:-1]), side="left")
    bounds = np.concatenate(([0], inner, [ordered.size]))
    return [int(count) for count in np.diff(bounds)]


def _datetime_summary(series: pd.Series, options: _Options) -> dict[str, Any]:
    index = pd.DatetimeIndex(series.dropna())
    ticks = np.sort(index.asi8)
    values, counts = _runs(ticks)

    def iso(points: Any) -> list[str]:
        return _iso_timestamps(points, index.unit, index.tz)

    summary: dict[str, Any] = {
        "distinct": int(values.size),
        "top": _top_entries(values, counts, options.top, lambda tick: iso([tick])[0]),
    }
    if ticks.size == 0:
        return summary | {"min": None, "max": None, "histogram": None}
    low, high = int(ticks[0]), int(ticks[-1])
    if low == high:
        edges = [low, high]
    else:
        # Python integers: the span of int64 ticks can overflow int64 arithmetic.
        span = high - low
        edges = [low + span * step // options.bins for step in range(options.bins + 1)]
    low_text, high_text = iso([low, high])
    return summary | {
        "min": low_text,
        "max": high_text,
        "histogram": {
            "edges": iso(edges),
            "counts": _bin_counts(ticks, np.array(edges, dtype="int64")),
        },
    }


def _iso_timestamps(ticks: Any, unit: str, zone: Any) -> list[str]:
    """Format integer ticks of ``unit`` as ISO timestamps, in ``zone`` when aware."""
    stamps = pd.DatetimeIndex(np.asarray(ticks, dtype=f"datetime64[{unit}]"))
    if zone is not None:
        stamps = stamps.tz_localize("UTC").tz_convert(zone)
    return [stamp.isoformat() for stamp in stamps]


def _categorical_summary(series: pd.Series, top: int) -> dict[str, Any]:
    distinct: int | None
    try:
        counts = series.value_counts(dropna=True)
        # A categorical column counts its unused categories as 0.
        counts = counts[counts > 0]
        distinct = len(counts)
    except TypeError:
        counts = series.dropna().astype(str).value_counts()
        distinct = None
    listed = counts.head(top) if top else counts.head(0)
    return {
        "distinct": distinct,
        "top": [
            {"value": json_safe(value), "count": int(count)}
            for value, count in listed.items()
        ],
    }
