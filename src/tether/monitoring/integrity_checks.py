"""Value checks that compare one column of a monitoring window with its reference.

Each column is first reduced to a :class:`ColumnSummary`, from a frame or from a
stored dataset profile (:func:`tether.data.profiles.profile`), and
:func:`check_column` compares the two summaries. The checks count problems in
the data instead of raising on them, so nulls, infinities, unhashable objects,
mixed types and empty columns all give counts. See
``docs/monitoring-integrity.md``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tether.data.profiles import column_type, json_safe
from tether.models.signature_columns import kind_of_value, show_value

INFO = "info"
WARNING = "warning"
ERROR = "error"
SEVERITIES = (INFO, WARNING, ERROR)
"""Severities from least to most severe."""

NUMERIC = "numeric"
DATETIME = "datetime"
CATEGORICAL = "categorical"
NANOSECONDS_PER_UNIT = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}
MAX_LISTED_CATEGORIES = 10
"""How many new categories a finding lists, most frequent first."""

# Shares are compared with this slack, so that a share equal to a threshold
# such as 0.1 + 0.05 counts as reaching it despite float rounding.
_SLACK = 1e-12


@dataclass(frozen=True)
class Finding:
    """One integrity problem, or one note, about a column or the whole table.

    Attributes:
        check: Name of the check, such as ``"null_rate"`` or ``"new_category"``.
        column: Column name, or None for a finding about the whole table.
        severity: ``"info"``, ``"warning"`` or ``"error"``.
        observed: The measured value, such as a share of rows or a dtype.
        threshold: The threshold or expected value that ``observed`` was
            compared with, or None when the check has none.
        message: What was found, with the values, and what to do about it.
        details: Counts and values behind the finding, JSON-safe.
    """

    check: str
    column: str | None
    severity: str
    observed: Any
    threshold: Any
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-safe dict (None in place of NaN)."""
        return {
            "check": self.check,
            "column": self.column,
            "severity": self.severity,
            "observed": json_safe(self.observed),
            "threshold": json_safe(self.threshold),
            "message": self.message,
            "details": json_safe(self.details),
        }


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of the value checks, as given to ``integrity``."""

    null_rate_increase: float
    null_rate_ratio: float
    out_of_range_share: float
    quantile_bounds: tuple[float, float] | None
    quantile_share_ratio: float
    new_category_share: float


@dataclass(frozen=True)
class ColumnSummary:
    """The counts and values of one column that the checks compare.

    Attributes:
        type: Type from :func:`tether.data.profiles.column_type`.
        dtype: pandas dtype as text, None when read from a profile.
        timezone: Time zone of a tz-aware datetime column, else None.
        kind: ``"numeric"``, ``"datetime"`` or ``"categorical"``.
        rows: Number of rows.
        nulls: Null values (None, NaN, ``pd.NA``, NaT).
        nan: NaN or ``pd.NA`` in a numeric column (also counted in ``nulls``).
        infinite: ``+inf`` and ``-inf`` values of a numeric column.
        posinf: ``+inf`` values, None when only ``infinite`` is known.
        values: Finite numbers of a numeric column, or nanoseconds since the
            epoch in UTC of a datetime column. None when read from a profile.
        minimum: Smallest of ``values``, None without values.
        maximum: Largest of ``values``, None without values.
        bounds_text: ``minimum`` and ``maximum`` as shown in messages.
        quantiles: Quantiles stored in a profile, keyed ``f"{level:g}"``.
        counts: Count per category label of a categorical column. None for
            other kinds, or when a profile lists only the most frequent ones.
        distinct: Distinct non-null values, None when unknown.
        value_kinds: Count per Python value type of an object column.
        sample: One non-null value as shown in messages, None without one.
    """

    type: str
    dtype: str | None
    timezone: str | None
    kind: str
    rows: int
    nulls: int
    nan: int = 0
    infinite: int = 0
    posinf: int | None = 0
    values: np.ndarray | None = None
    minimum: float | None = None
    maximum: float | None = None
    bounds_text: tuple[Any, Any] = (None, None)
    quantiles: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] | None = None
    distinct: int | None = None
    value_kinds: dict[str, int] = field(default_factory=dict)
    sample: Any = None

    @property
    def null_share(self) -> float | None:
        """Share of rows that are null, None for a column without rows."""
        return self.nulls / self.rows if self.rows else None

    @property
    def present(self) -> int:
        """Number of non-null values."""
        return self.rows - self.nulls


@dataclass(frozen=True)
class ColumnIntegrity:
    """Counts of one column that is in both the reference and the window.

    Attributes:
        column: Column name.
        reference_type: Type of the reference column (see ``column_type``).
        current_type: Type of the current column.
        current_dtype: pandas dtype of the current column.
        rows: Rows of the window.
        nulls: Null values in the window.
        null_share: ``nulls / rows``, None for an empty window.
        reference_null_share: The same share in the reference.
        nan: NaN or ``pd.NA`` values of a numeric column.
        posinf: ``+inf`` values of a numeric column.
        neginf: ``-inf`` values of a numeric column.
        below_range: Finite values below the reference minimum.
        above_range: Finite values above the reference maximum.
        new_category_values: Values whose category the reference lacks.
        distinct: Distinct non-null values in the window, None when unknown.
    """

    column: str
    reference_type: str
    current_type: str
    current_dtype: str | None
    rows: int
    nulls: int
    null_share: float | None
    reference_null_share: float | None
    nan: int
    posinf: int
    neginf: int
    below_range: int
    above_range: int
    new_category_values: int
    distinct: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as a JSON-safe dict (None in place of NaN)."""
        return {
            name: json_safe(value) for name, value in dataclasses.asdict(self).items()
        }


def column_kind(type_name: str, categorical: bool) -> str:
    """Return the kind of check a column of this type gets."""
    if categorical:
        return CATEGORICAL
    if type_name in ("integer", "float"):
        return NUMERIC
    if type_name == "datetime":
        return DATETIME
    return CATEGORICAL


def summarize_series(series: pd.Series, *, categorical: bool = False) -> ColumnSummary:
    """Summarise a column of a frame for the checks.

    Args:
        series: The column.
        categorical: Treat the column as categorical whatever its dtype.
    """
    type_name = column_type(series)
    kind = column_kind(type_name, categorical)
    base: dict[str, Any] = {
        "type": type_name,
        "dtype": str(series.dtype),
        "timezone": _timezone(series),
        "kind": kind,
        "rows": len(series),
        "nulls": int(series.isna().sum()),
    }
    if kind == NUMERIC:
        return ColumnSummary(**base, **_numeric_parts(series))
    if kind == DATETIME:
        return ColumnSummary(**base, **_datetime_parts(series))
    return ColumnSummary(**base, **_categorical_parts(series))


def _timezone(series: pd.Series) -> str | None:
    zone = getattr(series.dtype, "tz", None)
    return str(zone) if zone is not None else None


def _numeric_parts(series: pd.Series) -> dict[str, Any]:
    numbers = series.to_numpy(dtype="float64", na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    posinf = int(np.count_nonzero(numbers == np.inf))
    neginf = int(np.count_nonzero(numbers == -np.inf))
    parts: dict[str, Any] = {
        "nan": int(np.count_nonzero(np.isnan(numbers))),
        "infinite": posinf + neginf,
        "posinf": posinf,
        "values": finite,
        "distinct": int(np.unique(finite).size),
    }
    if finite.size:
        integer = column_type(series) == "integer"
        low, high = float(finite.min()), float(finite.max())
        parts |= {
            "minimum": low,
            "maximum": high,
            "bounds_text": (_number_text(low, integer), _number_text(high, integer)),
            "sample": _number_text(float(finite[0]), integer),
        }
    return parts


def _number_text(value: float, integer: bool) -> Any:
    # NOTE: values pass through float64, so integers beyond 2**53 are shown,
    # and compared with the range, rounded to the nearest float64.
    if integer and math.isfinite(value):
        return int(value)
    return value


def _datetime_parts(series: pd.Series) -> dict[str, Any]:
    index = pd.DatetimeIndex(series.dropna())
    # Float nanoseconds keep dates past 2262, which int64 nanoseconds cannot.
    ticks = index.asi8.astype("float64") * NANOSECONDS_PER_UNIT[index.unit]
    parts: dict[str, Any] = {"values": ticks, "distinct": int(np.unique(ticks).size)}
    if ticks.size:
        low, high = int(ticks.argmin()), int(ticks.argmax())
        parts |= {
            "minimum": float(ticks[low]),
            "maximum": float(ticks[high]),
            "bounds_text": (index[low].isoformat(), index[high].isoformat()),
            "sample": index[0].isoformat(),
        }
    return parts


def _categorical_parts(series: pd.Series) -> dict[str, Any]:
    counts = category_counts(series)
    parts: dict[str, Any] = {"counts": counts, "distinct": len(counts)}
    if pd.api.types.is_object_dtype(series.dtype):
        present = series.dropna().to_numpy(dtype=object)
        parts["value_kinds"] = dict(Counter(kind_of_value(value) for value in present))
    if counts:
        parts["sample"] = next(iter(counts))
    return parts


def category_label(value: Any) -> str:
    """Return the text that identifies a category value.

    A whole float is written as an integer, so that ``1.0`` in a float column
    (an integer column with nulls) and ``1`` in an integer column match. Any
    other value is ``str(value)``, so ``True`` is ``"True"``.
    """
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def category_counts(series: pd.Series) -> dict[str, int]:
    """Count the non-null values of a column per :func:`category_label`."""
    present = series.dropna()
    if pd.api.types.is_object_dtype(present.dtype):
        # Labels first: value_counts would merge True with 1, and fails on
        # unhashable values such as lists.
        return {
            str(label): int(count)
            for label, count in present.map(category_label).value_counts().items()
        }
    counts: dict[str, int] = {}
    for value, count in present.value_counts().items():
        if count:
            label = category_label(value)
            counts[label] = counts.get(label, 0) + int(count)
    return counts


def summarize_profile_column(
    entry: Mapping[str, Any], rows: int, *, categorical: bool = False
) -> ColumnSummary:
    """Summarise one column of a stored profile for the checks.

    A profile keeps the minimum, maximum, quantiles and the most frequent
    values, but not the values themselves. Its categories are complete only
    when it lists every distinct value.
    """
    type_name = str(entry.get("type", "other"))
    kind = column_kind(type_name, categorical)
    nulls = int(entry.get("nulls") or 0)
    top = list(entry.get("top") or [])
    distinct = entry.get("distinct")
    summary = ColumnSummary(
        type=type_name,
        dtype=None,
        timezone=None,
        kind=kind,
        rows=rows,
        nulls=nulls,
        nan=nulls if kind == NUMERIC else 0,
        infinite=int(entry.get("non_finite") or 0),
        posinf=None,
        distinct=int(distinct) if distinct is not None else None,
    )
    if kind == NUMERIC:
        return _with_profile_bounds(summary, entry, _profile_number)
    if kind == DATETIME:
        return _with_profile_bounds(summary, entry, _profile_ticks)
    complete = distinct is not None and len(top) >= int(distinct)
    counts: dict[str, int] = {}
    for item in top:
        label = category_label(item.get("value"))
        counts[label] = counts.get(label, 0) + int(item.get("count") or 0)
    return dataclasses.replace(summary, counts=counts if complete else None)


def _with_profile_bounds(
    summary: ColumnSummary, entry: Mapping[str, Any], convert: Any
) -> ColumnSummary:
    low, high = convert(entry.get("min")), convert(entry.get("max"))
    if low is None or high is None:
        return summary
    quantiles = {
        str(level): value
        for level, value in (entry.get("quantiles") or {}).items()
        if value is not None
    }
    return dataclasses.replace(
        summary,
        minimum=low,
        maximum=high,
        bounds_text=(entry.get("min"), entry.get("max")),
        quantiles=quantiles,
    )


def _profile_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _profile_ticks(value: Any) -> float | None:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(stamp):
        return None
    # asm8 is the UTC time of an aware timestamp, in the timestamp's unit.
    return float(stamp.asm8.view("int64")) * NANOSECONDS_PER_UNIT[stamp.unit]


def check_column(
    name: str,
    reference: ColumnSummary,
    current: ColumnSummary,
    thresholds: Thresholds,
) -> tuple[ColumnIntegrity, list[Finding]]:
    """Compare one column of the window with the reference.

    The dtype check always runs. The value checks need at least one row in
    the window, and the range and category checks need both sides to have
    the same kind, because a changed type is reported by the dtype check.

    Returns:
        The counts of the column and the findings, in check order.
    """
    findings = _optional(dtype_change(name, reference, current))
    below, above, new_values = 0, 0, 0
    if current.rows:
        findings += _optional(null_rate(name, reference, current, thresholds))
        same_kind = reference.kind == current.kind
        if same_kind and current.kind in (NUMERIC, DATETIME):
            below, above = range_counts(reference, current)
            findings += _optional(
                out_of_range(name, reference, current, (below, above), thresholds)
            )
            findings += _optional(quantile_range(name, reference, current, thresholds))
        if same_kind and current.kind == CATEGORICAL:
            category_finding = new_category(name, reference, current, thresholds)
            if category_finding is not None:
                new_values = int(category_finding.details.get("count", 0))
            findings += _optional(category_finding)
        findings += _optional(non_finite(name, reference, current))
        findings += _optional(constant_column(name, reference, current))
        findings += _optional(mixed_types(name, current))
    stats = _column_stats(name, reference, current, (below, above), new_values)
    return stats, findings


def _column_stats(
    name: str,
    reference: ColumnSummary,
    current: ColumnSummary,
    outside: tuple[int, int],
    new_values: int,
) -> ColumnIntegrity:
    below, above = outside
    return ColumnIntegrity(
        column=name,
        reference_type=reference.type,
        current_type=current.type,
        current_dtype=current.dtype,
        rows=current.rows,
        nulls=current.nulls,
        null_share=current.null_share,
        reference_null_share=reference.null_share,
        nan=current.nan,
        posinf=current.posinf or 0,
        neginf=current.infinite - (current.posinf or 0),
        below_range=below,
        above_range=above,
        new_category_values=new_values,
        distinct=current.distinct,
    )


def _optional(finding: Finding | None) -> list[Finding]:
    return [finding] if finding is not None else []


def dtype_change(
    name: str, reference: ColumnSummary, current: ColumnSummary
) -> Finding | None:
    """Report a column whose type or dtype differs from the reference.

    A side without non-null values is not compared, because an all-null
    column has no meaningful type (the null-rate check reports it).
    """
    if not reference.present or not current.present:
        return None
    before = _type_text(reference)
    after = _type_text(current)
    if reference.type == current.type:
        if reference.dtype is None or reference.dtype == current.dtype:
            return None
        if reference.timezone != current.timezone:
            message = (
                f"column {name!r} changed from {reference.dtype} to {current.dtype}, "
                "so a time zone was added, dropped or changed and the times may be "
                "shifted. Convert both sides to one time zone. The range check reads "
                "naive times as UTC."
            )
            return _dtype_finding(name, WARNING, current, reference, message)
        message = (
            f"column {name!r} changed dtype from {reference.dtype} to "
            f"{current.dtype} but is still {current.type}. No action is needed "
            "unless the model depends on the exact dtype."
        )
        return _dtype_finding(name, INFO, current, reference, message)
    if {reference.type, current.type} == {"integer", "float"}:
        message = (
            f"column {name!r} changed type from {before} to {after}. This often "
            "means that nulls or fractional values appeared. Check the producer, "
            "and convert the column back if its values are whole."
        )
        return _dtype_finding(name, WARNING, current, reference, message)
    message = (
        f"column {name!r} changed type from {before} to {after}, so the model "
        "and the value checks no longer read it as before. Fix the producer or "
        f"convert the column to {reference.type} before scoring."
    )
    return _dtype_finding(name, ERROR, current, reference, message)


def _type_text(summary: ColumnSummary) -> str:
    name = "mixed or other values" if summary.type == "other" else summary.type
    if summary.dtype is None:
        return name
    return f"{name} ({summary.dtype})"


def _dtype_finding(
    name: str,
    severity: str,
    current: ColumnSummary,
    reference: ColumnSummary,
    message: str,
) -> Finding:
    return Finding(
        check="dtype_change",
        column=name,
        severity=severity,
        observed=current.dtype or current.type,
        threshold=reference.dtype or reference.type,
        message=message,
        details={
            "reference_type": reference.type,
            "current_type": current.type,
            "reference_dtype": reference.dtype,
            "current_dtype": current.dtype,
        },
    )


def null_rate(
    name: str,
    reference: ColumnSummary,
    current: ColumnSummary,
    thresholds: Thresholds,
) -> Finding | None:
    """Report a null share that grew past both the absolute and the relative limit.

    The limit is ``max(reference + null_rate_increase, reference *
    null_rate_ratio)``. A column that is null in every row is an error, any
    other flagged column a warning.
    """
    before, after = reference.null_share, current.null_share
    if before is None or after is None:
        return None
    limit = max(
        before + thresholds.null_rate_increase, before * thresholds.null_rate_ratio
    )
    if after < limit - _SLACK:
        return None
    counts = f"{current.nulls:,} of {current.rows:,}"
    if current.nulls == current.rows:
        severity = ERROR
        found = f"column {name!r} is null in every row ({counts})"
        advice = "The producer has probably stopped sending it. Check the source"
    else:
        severity = WARNING
        found = f"column {name!r} is null in {percent(after)} of rows ({counts})"
        advice = "Check the producer for dropped fields or failed joins"
    message = (
        f"{found}, against {percent(before)} in the reference, and the limit is "
        f"{percent(limit)}. {advice} before trusting the model's output."
    )
    return Finding(
        check="null_rate",
        column=name,
        severity=severity,
        observed=after,
        threshold=limit,
        message=message,
        details={
            "nulls": current.nulls,
            "rows": current.rows,
            "reference_null_share": before,
        },
    )


def range_counts(reference: ColumnSummary, current: ColumnSummary) -> tuple[int, int]:
    """Count the current values below and above the reference [min, max]."""
    values = current.values
    if values is None or reference.minimum is None or reference.maximum is None:
        return 0, 0
    below = int(np.count_nonzero(values < reference.minimum))
    above = int(np.count_nonzero(values > reference.maximum))
    return below, above


def out_of_range(
    name: str,
    reference: ColumnSummary,
    current: ColumnSummary,
    counts: tuple[int, int],
    thresholds: Thresholds,
) -> Finding | None:
    """Report finite values outside the reference [min, max].

    Any such value gives a finding: a warning when their share of the finite
    values reaches ``out_of_range_share``, else a note.
    """
    below, above = counts
    total = current.values.size if current.values is not None else 0
    if not total or not below + above:
        return None
    share = (below + above) / total
    severity = WARNING if share >= thresholds.out_of_range_share - _SLACK else INFO
    low, high = reference.bounds_text
    now_low, now_high = current.bounds_text
    message = (
        f"column {name!r}: {percent(share)} of values ({below + above:,} of "
        f"{total:,}) are outside the reference range [{low}, {high}], {below:,} "
        f"below and {above:,} above. The window spans [{now_low}, {now_high}]. "
        "Check the units and the producer, or refresh the reference if the "
        "range has really moved."
    )
    return Finding(
        check="out_of_range",
        column=name,
        severity=severity,
        observed=share,
        threshold=thresholds.out_of_range_share,
        message=message,
        details={
            "below": below,
            "above": above,
            "values": total,
            "reference_min": low,
            "reference_max": high,
            "current_min": now_low,
            "current_max": now_high,
        },
    )


def quantile_range(
    name: str,
    reference: ColumnSummary,
    current: ColumnSummary,
    thresholds: Thresholds,
) -> Finding | None:
    """Report too many values outside the reference quantile bounds.

    With bounds ``(low, high)``, a share of ``low + 1 - high`` of the values
    is expected outside them. The check warns when the observed share reaches
    ``quantile_share_ratio`` times that. A profile without those quantile
    levels gives a note that the check was skipped.
    """
    if thresholds.quantile_bounds is None or current.values is None:
        return None
    if not current.values.size or reference.minimum is None:
        return None
    low_level, high_level = thresholds.quantile_bounds
    bounds = _reference_quantiles(reference, low_level, high_level)
    if bounds is None:
        return _quantiles_missing(name, reference, low_level, high_level)
    low, high = bounds
    values = current.values
    outside = int(np.count_nonzero((values < low) | (values > high)))
    share = outside / values.size
    # Rounded, so that (0.05, 0.95) gives 0.1 and not 0.10000000000000003.
    expected = round(low_level + 1.0 - high_level, 12)
    limit = thresholds.quantile_share_ratio * expected
    if share < limit - _SLACK:
        return None
    low_text = _bound_text(low, current)
    high_text = _bound_text(high, current)
    message = (
        f"column {name!r}: {percent(share)} of values ({outside:,} of "
        f"{values.size:,}) are outside the reference {low_level:g} and "
        f"{high_level:g} quantiles [{low_text}, {high_text}], at least the "
        f"limit of {percent(limit)}. Check for a shift in the producer, or "
        "refresh the reference if the change is expected."
    )
    return Finding(
        check="quantile_range",
        column=name,
        severity=WARNING,
        observed=share,
        threshold=limit,
        message=message,
        details={
            "outside": outside,
            "values": int(values.size),
            "quantile_levels": [low_level, high_level],
            "reference_bounds": [low_text, high_text],
        },
    )


def _reference_quantiles(
    reference: ColumnSummary, low_level: float, high_level: float
) -> tuple[float, float] | None:
    if reference.values is not None:
        if not reference.values.size:
            return None
        low, high = np.quantile(reference.values, [low_level, high_level])
        return float(low), float(high)
    low_value = _profile_number(reference.quantiles.get(f"{low_level:g}"))
    high_value = _profile_number(reference.quantiles.get(f"{high_level:g}"))
    if low_value is None or high_value is None:
        return None
    return low_value, high_value


def _quantiles_missing(
    name: str, reference: ColumnSummary, low_level: float, high_level: float
) -> Finding:
    if reference.kind == DATETIME:
        advice = "Profiles store no quantiles of datetime columns, so pass the frame."
    else:
        advice = (
            f"Profile the reference with quantiles=({low_level:g}, {high_level:g}) "
            "or pass the reference frame."
        )
    message = (
        f"column {name!r}: the reference profile has no {low_level:g} and "
        f"{high_level:g} quantiles, so the quantile check was skipped. {advice}"
    )
    return Finding(
        check="quantile_range",
        column=name,
        severity=INFO,
        observed=None,
        threshold=None,
        message=message,
        details={"quantile_levels": [low_level, high_level]},
    )


def _bound_text(value: float, current: ColumnSummary) -> Any:
    if current.kind != DATETIME:
        return value
    try:
        stamp = pd.Timestamp(round(value), unit="ns", tz="UTC")
    except (OverflowError, ValueError):
        return f"{value:.6g} ns after 1970-01-01 UTC"
    return stamp.isoformat()


def new_category(
    name: str,
    reference: ColumnSummary,
    current: ColumnSummary,
    thresholds: Thresholds,
) -> Finding | None:
    """Report categories of the window that the reference lacks.

    Categories are compared by :func:`category_label`. Any new category gives
    a finding: a warning when its values reach ``new_category_share`` of the
    non-null values, else a note. A profile that lists only part of the
    categories gives a note that the check was skipped.
    """
    if current.counts is None or not current.counts or not reference.present:
        return None
    if reference.counts is None:
        return _categories_unknown(name, reference)
    new = {
        label: count
        for label, count in current.counts.items()
        if label not in reference.counts
    }
    if not new:
        return None
    total = sum(current.counts.values())
    count = sum(new.values())
    share = count / total
    severity = WARNING if share >= thresholds.new_category_share - _SLACK else INFO
    listed = sorted(new.items(), key=lambda item: (-item[1], item[0]))
    listed_text = ", ".join(
        f"{show_value(label)} ({number:,})"
        for label, number in listed[:MAX_LISTED_CATEGORIES]
    )
    if len(listed) > MAX_LISTED_CATEGORIES:
        listed_text += f" and {len(listed) - MAX_LISTED_CATEGORIES:,} more"
    noun, verb = ("category", "makes") if len(new) == 1 else ("categories", "make")
    message = (
        f"column {name!r}: {len(new):,} {noun} not in the reference {verb} up "
        f"{percent(share)} of values ({count:,} of {total:,}): {listed_text}. Check "
        "for typos, new codes or encoding changes, and retrain or refresh the "
        "reference if they are valid."
    )
    return Finding(
        check="new_category",
        column=name,
        severity=severity,
        observed=share,
        threshold=thresholds.new_category_share,
        message=message,
        details={
            "count": count,
            "values": total,
            "distinct": len(new),
            "categories": [
                {"value": label, "count": number}
                for label, number in listed[:MAX_LISTED_CATEGORIES]
            ],
        },
    )


def _categories_unknown(name: str, reference: ColumnSummary) -> Finding:
    message = (
        f"column {name!r}: the reference profile lists only its most frequent "
        f"values out of {reference.distinct} distinct, so the new-category check "
        "was skipped. Pass the reference frame, or profile it with top= at least "
        "the number of distinct values."
    )
    return Finding(
        check="new_category",
        column=name,
        severity=INFO,
        observed=None,
        threshold=None,
        message=message,
        details={"reference_distinct": reference.distinct},
    )


def non_finite(
    name: str, reference: ColumnSummary, current: ColumnSummary
) -> Finding | None:
    """Report ``+inf`` and ``-inf`` in a numeric column.

    The share of infinite values among all rows is compared with the
    reference share: a warning when it is higher, else a note. NaN values
    are counted in the details but are reported by the null-rate check.
    """
    if current.kind != NUMERIC or not current.infinite:
        return None
    share = current.infinite / current.rows
    before = 0.0
    if reference.kind == NUMERIC and reference.rows:
        before = reference.infinite / reference.rows
    posinf = current.posinf or 0
    neginf = current.infinite - posinf
    severity = WARNING if share > before + _SLACK else INFO
    message = (
        f"column {name!r} has {current.infinite:,} infinite values ({posinf:,} "
        f"+inf, {neginf:,} -inf) in {current.rows:,} rows ({percent(share)}), "
        f"against {percent(before)} in the reference, and {current.nan:,} NaN. "
        "Infinities usually come from a division by zero or an overflow "
        "upstream. Replace them with a value or a null before scoring."
    )
    return Finding(
        check="non_finite",
        column=name,
        severity=severity,
        observed=share,
        threshold=before,
        message=message,
        details={"nan": current.nan, "posinf": posinf, "neginf": neginf},
    )


def constant_column(
    name: str, reference: ColumnSummary, current: ColumnSummary
) -> Finding | None:
    """Warn when two or more values of the window are all equal but the reference varies."""
    if current.distinct != 1 or reference.distinct is None or reference.distinct < 2:
        return None
    values = current.values.size if current.values is not None else current.present
    if values < 2:
        return None
    message = (
        f"column {name!r} has the single value {show_value(current.sample)} in all "
        f"{values:,} non-null values, but the reference has {reference.distinct:,} "
        "distinct values. A stuck sensor or a default filled in upstream gives "
        "this, so check the producer."
    )
    return Finding(
        check="constant_column",
        column=name,
        severity=WARNING,
        observed=current.sample,
        threshold=None,
        message=message,
        details={"values": values, "reference_distinct": reference.distinct},
    )


def mixed_types(name: str, current: ColumnSummary) -> Finding | None:
    """Warn when an object column contains values of more than one type.

    Integers and floats count as one type, because a column of numbers with
    and without a fraction is still numeric.
    """
    groups: Counter[str] = Counter()
    for kind, count in current.value_kinds.items():
        groups["number" if kind in ("integer", "float") else kind] += count
    if len(groups) < 2:
        return None
    counted = ", ".join(f"{kind} ({count:,})" for kind, count in groups.most_common())
    message = (
        f"column {name!r} mixes value types: {counted}. Models and range checks "
        "need one type per column, so convert the column to one type upstream."
    )
    return Finding(
        check="mixed_types",
        column=name,
        severity=WARNING,
        observed=dict(groups),
        threshold=None,
        message=message,
        details={"value_types": dict(current.value_kinds)},
    )


def percent(share: float) -> str:
    """Format a share in [0, 1] as a percentage with three significant digits."""
    return f"{share * 100:.3g}%"
