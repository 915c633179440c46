"""Data integrity of a monitoring window: schema, nulls, ranges and categories.

:func:`integrity` compares a window of served data with the data a model was
trained on, given as a frame or as a stored dataset profile, and optionally
with the model's signature. It returns every finding at once, each with a
severity, the observed value, the threshold and a message, and it reports
problems in the data as findings instead of raising. The value checks are in
:mod:`tether.monitoring.integrity_checks`. See ``docs/monitoring-integrity.md``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from tether.data.profiles import json_safe
from tether.errors import ConfigError, DataError, NotFoundError
from tether.models.signature import ColumnSpec, Signature
from tether.models.signature_columns import (
    dtype_kind,
    kind_of_value,
    show_levels,
    show_value,
)
from tether.monitoring.integrity_checks import (
    CATEGORICAL,
    ERROR,
    INFO,
    SEVERITIES,
    WARNING,
    ColumnIntegrity,
    ColumnSummary,
    Finding,
    Thresholds,
    check_column,
    percent,
    summarize_profile_column,
    summarize_series,
)

logger = logging.getLogger(__name__)

DEFAULT_NULL_RATE_INCREASE = 0.05
"""Minimum rise of a column's null share, in share points (0.05 is 5 points)."""
DEFAULT_NULL_RATE_RATIO = 1.5
"""Minimum ratio of the window's null share to the reference's."""
DEFAULT_OUT_OF_RANGE_SHARE = 0.01
"""Share of values outside the reference [min, max] that makes a warning."""
DEFAULT_QUANTILE_SHARE_RATIO = 2.0
"""Multiple of the expected share outside the quantile bounds that makes a warning."""
DEFAULT_NEW_CATEGORY_SHARE = 0.01
"""Share of values in categories new to the reference that makes a warning."""
DEFAULT_MIN_ROWS = 30
"""A window with fewer rows (but at least one) gets a ``few_rows`` warning."""
DEFAULT_FAIL_ON = ERROR
"""The least severe finding that makes a report fail."""

INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)
SIGNATURE_REASONS = ("null", "type", "range", "category")
"""The reasons a signature rejects a value, in the order they are reported."""


@dataclass(frozen=True)
class IntegrityReport:
    """Every finding of one window, with counts per column.

    Attributes:
        findings: Table findings first, then each column in reference order,
            then columns new in the window, then signature findings.
        columns: Counts of each column present in both the reference and
            the window, in reference order.
        reference_rows: Rows of the reference.
        current_rows: Rows of the window.
        thresholds: The thresholds the checks used, by keyword name.
        fail_on: The least severe finding that makes the report fail.
    """

    findings: list[Finding]
    columns: list[ColumnIntegrity]
    reference_rows: int
    current_rows: int
    thresholds: dict[str, Any]
    fail_on: str = DEFAULT_FAIL_ON

    @property
    def passed(self) -> bool:
        """Whether no finding is at least as severe as ``fail_on``."""
        lowest = SEVERITIES.index(self.fail_on)
        return all(SEVERITIES.index(item.severity) < lowest for item in self.findings)

    @property
    def summary(self) -> dict[str, int]:
        """Number of findings per severity, every severity included."""
        counts = dict.fromkeys(SEVERITIES, 0)
        for item in self.findings:
            counts[item.severity] += 1
        return counts

    def findings_for(self, column: str) -> list[Finding]:
        """Return the findings about one column, in report order."""
        return [item for item in self.findings if item.column == column]

    def column(self, name: str) -> ColumnIntegrity:
        """Return the counts of column ``name``.

        Raises:
            NotFoundError: The column is not in both the reference and the window.
        """
        for stats in self.columns:
            if stats.column == name:
                return stats
        known = ", ".join(stats.column for stats in self.columns) or "none"
        raise NotFoundError(
            f"column {name!r} was not compared, because it is not in both the "
            f"reference and the window. Compared columns: {known}",
            kind="column",
            name=name,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-safe dict (None in place of NaN)."""
        return {
            "passed": self.passed,
            "fail_on": self.fail_on,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "summary": self.summary,
            "thresholds": json_safe(self.thresholds),
            "findings": [item.to_dict() for item in self.findings],
            "columns": [stats.to_dict() for stats in self.columns],
        }

    def to_frame(self) -> pd.DataFrame:
        """Return one row per finding: check, column, severity, observed,
        threshold and message. The details are in :meth:`to_dict`."""
        names = ["check", "column", "severity", "observed", "threshold", "message"]
        rows = [item.to_dict() for item in self.findings]
        return pd.DataFrame(rows, columns=names)


@dataclass(frozen=True)
class _Reference:
    rows: int
    columns: dict[str, ColumnSummary]
    duplicates: list[str]


def integrity(
    reference: pd.DataFrame | Mapping[str, Any],
    current: pd.DataFrame,
    *,
    signature: Signature | None = None,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    null_rate_increase: float = DEFAULT_NULL_RATE_INCREASE,
    null_rate_ratio: float = DEFAULT_NULL_RATE_RATIO,
    out_of_range_share: float = DEFAULT_OUT_OF_RANGE_SHARE,
    quantile_bounds: tuple[float, float] | None = None,
    quantile_share_ratio: float = DEFAULT_QUANTILE_SHARE_RATIO,
    new_category_share: float = DEFAULT_NEW_CATEGORY_SHARE,
    min_rows: int = DEFAULT_MIN_ROWS,
    fail_on: str = DEFAULT_FAIL_ON,
) -> IntegrityReport:
    """Check a window of data against a reference and, optionally, a signature.

    Args:
        reference: Data the model was trained or validated on: a frame, or
            a profile from :func:`tether.data.profiles.profile` (such as a
            dataset version's ``profile``).
        current: The window to check.
        signature: The model's signature. Each input column is checked for
            the values that :func:`tether.models.signature.enforce` rejects.
        columns: Columns to check, by default every reference column. When
            given, columns of the window outside it are not reported.
        categorical: Columns to check for new categories instead of ranges,
            whatever their dtype, such as integer codes.
        null_rate_increase: Minimum rise of the null share, in share points.
        null_rate_ratio: Minimum ratio of the window's null share to the
            reference's. Both null-rate limits must be reached.
        out_of_range_share: Share of values outside the reference [min, max]
            from which the finding is a warning instead of a note.
        quantile_bounds: Quantile levels ``(low, high)`` with
            ``0 < low < high < 1``, such as ``(0.01, 0.99)``, to also check
            values against the reference quantiles. None skips that check.
        quantile_share_ratio: Multiple of the expected share ``low + 1 -
            high`` outside the quantile bounds that makes a warning.
        new_category_share: Share of values in new categories from which the
            finding is a warning instead of a note.
        min_rows: A window with fewer rows, but at least one, gets a
            ``few_rows`` warning.
        fail_on: ``"error"``, ``"warning"`` or ``"info"``. The report fails
            when a finding is at least this severe.

    Returns:
        The findings and the per-column counts.

    Raises:
        DataError: ``current`` is not a DataFrame, or ``reference`` is
            neither a DataFrame nor a profile.
        ConfigError: An option is out of range, ``columns`` is a single
            string, or ``categorical`` names a column in neither input.
    """
    if not isinstance(current, pd.DataFrame):
        raise DataError(
            f"current must be a pandas DataFrame, got {type(current).__name__}. "
            "Wrap the data with pandas.DataFrame(...)."
        )
    thresholds = _thresholds(
        null_rate_increase,
        null_rate_ratio,
        out_of_range_share,
        quantile_bounds,
        quantile_share_ratio,
        new_category_share,
    )
    _validate_report_options(min_rows, fail_on)
    forced = _categorical_names(categorical, reference, current)
    ref = _read_reference(reference, forced)
    positions, current_duplicates = _first_positions(current)
    findings = _table_findings(ref, current, current_duplicates, min_rows)
    names = _checked_names(columns, ref)
    stats: list[ColumnIntegrity] = []
    for name in names:
        column_stats, found = _check_name(name, ref, current, positions, thresholds)
        findings += found
        if column_stats is not None:
            stats.append(column_stats)
    if columns is None:
        findings += _unexpected_columns(current, positions, ref, signature)
    if signature is not None:
        findings += signature_findings(signature, current, positions)
    report = IntegrityReport(
        findings=findings,
        columns=stats,
        reference_rows=ref.rows,
        current_rows=len(current),
        thresholds={**dataclasses.asdict(thresholds), "min_rows": min_rows},
        fail_on=fail_on,
    )
    logger.debug("integrity: %s", report.summary)
    return report


def _thresholds(
    null_rate_increase: float,
    null_rate_ratio: float,
    out_of_range_share: float,
    quantile_bounds: tuple[float, float] | None,
    quantile_share_ratio: float,
    new_category_share: float,
) -> Thresholds:
    for setting, value in (
        ("null_rate_increase", null_rate_increase),
        ("out_of_range_share", out_of_range_share),
        ("new_category_share", new_category_share),
    ):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(
                f"{setting} must be a share from 0 to 1, got {value!r}",
                setting=setting,
                value=value,
            )
    for setting, value in (
        ("null_rate_ratio", null_rate_ratio),
        ("quantile_share_ratio", quantile_share_ratio),
    ):
        if not value >= 1.0:
            raise ConfigError(
                f"{setting} must be 1 or more, got {value!r}",
                setting=setting,
                value=value,
            )
    return Thresholds(
        null_rate_increase=null_rate_increase,
        null_rate_ratio=null_rate_ratio,
        out_of_range_share=out_of_range_share,
        quantile_bounds=_quantile_bounds(quantile_bounds),
        quantile_share_ratio=quantile_share_ratio,
        new_category_share=new_category_share,
    )


def _quantile_bounds(bounds: Any) -> tuple[float, float] | None:
    if bounds is None:
        return None
    valid = (
        isinstance(bounds, Sequence)
        and not isinstance(bounds, str)
        and len(bounds) == 2
        and all(isinstance(level, int | float) for level in bounds)
        and 0.0 < bounds[0] < bounds[1] < 1.0
    )
    if not valid:
        raise ConfigError(
            f"quantile_bounds must be two levels (low, high) with "
            f"0 < low < high < 1, such as (0.01, 0.99), got {bounds!r}",
            setting="quantile_bounds",
            value=bounds,
        )
    return float(bounds[0]), float(bounds[1])


def _validate_report_options(min_rows: int, fail_on: str) -> None:
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise ConfigError(
            f"min_rows must be a whole number of 1 or more, got {min_rows!r}",
            setting="min_rows",
            value=min_rows,
        )
    if fail_on not in SEVERITIES:
        raise ConfigError(
            f"fail_on must be one of {', '.join(SEVERITIES)}, got {fail_on!r}",
            setting="fail_on",
            value=fail_on,
        )


def _categorical_names(
    categorical: Sequence[str] | None, reference: Any, current: pd.DataFrame
) -> set[str]:
    if categorical is None:
        return set()
    names = [categorical] if isinstance(categorical, str) else list(categorical)
    known = {str(label) for label in current.columns}
    if isinstance(reference, pd.DataFrame):
        known |= {str(label) for label in reference.columns}
    elif isinstance(reference, Mapping) and isinstance(
        reference.get("columns"), Mapping
    ):
        known |= {str(label) for label in reference["columns"]}
    unknown = [name for name in names if str(name) not in known]
    if unknown:
        raise ConfigError(
            f"categorical names columns that are in neither input: {unknown}. "
            "Check the spelling.",
            setting="categorical",
            value=unknown,
        )
    return {str(name) for name in names}


def _read_reference(reference: Any, forced: set[str]) -> _Reference:
    if isinstance(reference, pd.DataFrame):
        positions, duplicates = _first_positions(reference)
        columns = {
            name: summarize_series(
                reference.iloc[:, position], categorical=name in forced
            )
            for name, position in positions.items()
        }
        return _Reference(len(reference), columns, duplicates)
    profile_columns = (
        reference.get("columns") if isinstance(reference, Mapping) else None
    )
    if not isinstance(profile_columns, Mapping):
        raise DataError(
            "reference must be a pandas DataFrame or a profile with a 'columns' "
            f"mapping, got {type(reference).__name__}. Pass the training frame or "
            "tether.data.profile(frame)."
        )
    rows = int(reference.get("rows") or 0)
    columns = {
        str(name): summarize_profile_column(
            entry if isinstance(entry, Mapping) else {},
            rows,
            categorical=str(name) in forced,
        )
        for name, entry in profile_columns.items()
    }
    return _Reference(rows, columns, [])


def _first_positions(frame: pd.DataFrame) -> tuple[dict[str, int], list[str]]:
    """Map each column name (as text) to its first position, and list duplicates."""
    positions: dict[str, int] = {}
    duplicates: list[str] = []
    for position, label in enumerate(frame.columns):
        name = str(label)
        if name in positions:
            if name not in duplicates:
                duplicates.append(name)
            continue
        positions[name] = position
    return positions, duplicates


def _checked_names(columns: Sequence[str] | None, ref: _Reference) -> list[str]:
    if columns is None:
        return list(ref.columns)
    if isinstance(columns, str):
        raise ConfigError(
            f"columns must be a list of names, got the string {columns!r}. "
            f"Pass [{columns!r}] instead.",
            setting="columns",
            value=columns,
        )
    return [str(name) for name in dict.fromkeys(columns)]


def _table_findings(
    ref: _Reference, current: pd.DataFrame, duplicates: list[str], min_rows: int
) -> list[Finding]:
    findings: list[Finding] = []
    if ref.rows == 0:
        findings.append(_empty_reference())
    size_finding = _window_size(len(current), min_rows)
    if size_finding is not None:
        findings.append(size_finding)
    for frame_name, names in (("reference", ref.duplicates), ("window", duplicates)):
        findings += [_duplicate_finding(frame_name, name) for name in names]
    return findings


def _empty_reference() -> Finding:
    return Finding(
        check="empty_reference",
        column=None,
        severity=ERROR,
        observed=0,
        threshold=1,
        message=(
            "the reference has no rows, so nulls, ranges and categories cannot "
            "be compared. Pass the data the model was trained on."
        ),
    )


def _window_size(rows: int, min_rows: int) -> Finding | None:
    if rows == 0:
        return Finding(
            check="empty_window",
            column=None,
            severity=ERROR,
            observed=0,
            threshold=1,
            message=(
                "the window has no rows, so only its columns were checked. Check "
                "that the producer is sending data and that the window's time "
                "range is right."
            ),
        )
    if rows >= min_rows:
        return None
    return Finding(
        check="few_rows",
        column=None,
        severity=WARNING,
        observed=rows,
        threshold=min_rows,
        message=(
            f"the window has {rows:,} rows, fewer than {min_rows:,}, so one row "
            f"moves each share by {percent(1 / rows)}. Read the shares with care, "
            "or use a longer window."
        ),
    )


def _duplicate_finding(frame_name: str, name: str) -> Finding:
    return Finding(
        check="duplicate_column",
        column=name,
        severity=ERROR,
        observed=frame_name,
        threshold=None,
        message=(
            f"the {frame_name} has more than one column named {name!r}, and only "
            "the first is checked. Rename or drop the duplicates."
        ),
        details={"frame": frame_name},
    )


def _check_name(
    name: str,
    ref: _Reference,
    current: pd.DataFrame,
    positions: dict[str, int],
    thresholds: Thresholds,
) -> tuple[ColumnIntegrity | None, list[Finding]]:
    reference = ref.columns.get(name)
    if reference is None:
        return None, [_missing_from_reference(name)]
    position = positions.get(name)
    if position is None:
        return None, [_missing_column(name, reference)]
    summary = summarize_series(
        current.iloc[:, position], categorical=reference.kind == CATEGORICAL
    )
    return check_column(name, reference, summary, thresholds)


def _missing_from_reference(name: str) -> Finding:
    return Finding(
        check="missing_from_reference",
        column=name,
        severity=WARNING,
        observed=None,
        threshold=None,
        message=(
            f"column {name!r} is in columns= but not in the reference, so it "
            "cannot be compared. Check the spelling, or add the column to the "
            "reference."
        ),
    )


def _missing_column(name: str, reference: ColumnSummary) -> Finding:
    return Finding(
        check="missing_column",
        column=name,
        severity=ERROR,
        observed=None,
        threshold=reference.dtype or reference.type,
        message=(
            f"column {name!r} ({reference.type}) is in the reference but missing "
            "from the window. Check the producer and the query that builds the "
            "window. A model that reads this column cannot score these rows."
        ),
    )


def _unexpected_columns(
    current: pd.DataFrame,
    positions: dict[str, int],
    ref: _Reference,
    signature: Signature | None,
) -> list[Finding]:
    known = set(ref.columns)
    if signature is not None:
        known |= set(signature.input_names)
    findings = []
    for name, position in positions.items():
        if name in known:
            continue
        dtype = str(current.dtypes.iloc[position])
        findings.append(
            Finding(
                check="unexpected_column",
                column=name,
                severity=WARNING,
                observed=dtype,
                threshold=None,
                message=(
                    f"column {name!r} ({dtype}) is in the window but not in the "
                    "reference, as after a renamed or new field upstream. Map it "
                    "to a known name, or add it to the reference."
                ),
            )
        )
    return findings


def signature_findings(
    signature: Signature, current: pd.DataFrame, positions: Mapping[str, int]
) -> list[Finding]:
    """Report the values of the window that the signature's inputs reject.

    Each input column gets one finding per reason in ``SIGNATURE_REASONS``
    with at least one rejected row, and a missing input gets one error.
    Tensor inputs are not checked, and one note reports that.
    """
    if signature.inputs_are_tensors:
        return [
            Finding(
                check="signature_tensors",
                column=None,
                severity=INFO,
                observed=None,
                threshold=None,
                message=(
                    "the signature declares tensor inputs, which have no columns "
                    "to check, so the signature checks were skipped."
                ),
            )
        ]
    findings: list[Finding] = []
    for spec in signature.inputs:
        if not isinstance(spec, ColumnSpec):
            continue
        position = positions.get(spec.name)
        if position is None:
            findings.append(_signature_missing(spec))
            continue
        column = current.iloc[:, position]
        rejected = signature_rejections(spec, column)
        for reason in SIGNATURE_REASONS:
            if rejected[reason].any():
                findings.append(
                    _signature_finding(spec, column, reason, rejected[reason])
                )
    return findings


def _signature_missing(spec: ColumnSpec) -> Finding:
    return Finding(
        check="signature_missing_column",
        column=spec.name,
        severity=ERROR,
        observed=None,
        threshold=spec.type,
        message=(
            f"input column {spec.name!r} ({spec.type}) of the signature is missing "
            "from the window, so the model would reject every row. Add the column "
            "upstream."
        ),
    )


def signature_rejections(spec: ColumnSpec, column: pd.Series) -> dict[str, np.ndarray]:
    """Mark the rows of a column that the signature would reject, per reason.

    The rules are those of :func:`tether.models.signature_columns.convert_column`,
    applied to every row instead of stopping at the first:

    - ``null``: a null in a column that is not nullable;
    - ``type``: a value of a type the column does not accept, a float with a
      fraction for an integer column, or text that is not ISO 8601 for a
      datetime column;
    - ``range``: an integer outside the signed 64-bit range, or a datetime
      outside 1677-09-21 to 2262-04-11;
    - ``category``: a value outside the declared levels.

    Returns:
        One boolean array per reason in ``SIGNATURE_REASONS``, one entry per row.
    """
    missing = column.isna().to_numpy(dtype=bool)
    present = ~missing
    nothing = np.zeros(len(column), dtype=bool)
    masks = {
        "null": missing if not spec.nullable else nothing.copy(),
        "type": nothing.copy(),
        "range": nothing.copy(),
        "category": nothing.copy(),
    }
    levels = list(spec.levels or ())
    integer_levels = spec.type == "category" and not isinstance(levels[0], str)
    if spec.type == "integer" or integer_levels:
        masks["type"], masks["range"] = _integer_rejections(column, present)
    elif spec.type == "datetime":
        masks["type"], masks["range"] = _datetime_rejections(column, present)
    else:
        allowed = {"float": {"integer", "float"}, "category": {"string"}}.get(
            spec.type, {spec.type}
        )
        masks["type"] = _kind_rejections(column, present, allowed)
    if spec.type == "category":
        accepted = present & ~masks["type"] & ~masks["range"]
        masks["category"] = _unseen_levels(column, accepted, levels)
    return masks


def _kind_rejections(
    column: pd.Series, present: np.ndarray, allowed: set[str]
) -> np.ndarray:
    """Mark non-null values whose type is not in ``allowed``.

    As in ``convert_column``, a dtype that always contains one type accepts
    or rejects every value, and an object column is checked value by value.
    """
    kind = dtype_kind(column.dtype)
    if kind in allowed:
        return np.zeros(len(column), dtype=bool)
    if kind is not None:
        return present.copy()
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.dtype.categories.to_numpy(dtype=object)
        if all(kind_of_value(value) in allowed for value in categories):
            return np.zeros(len(column), dtype=bool)
    values = column.to_numpy(dtype=object)
    rejected = np.zeros(len(column), dtype=bool)
    for position in np.flatnonzero(present):
        rejected[position] = kind_of_value(values[position]) not in allowed
    return rejected


def _integer_rejections(
    column: pd.Series, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    wrong_type = _kind_rejections(column, present, {"integer", "float"})
    out_of_range = np.zeros(len(column), dtype=bool)
    if ptypes.is_integer_dtype(column.dtype):
        if column.dtype.kind == "u" or str(column.dtype) == "UInt64":
            too_large = (column > INT64_MAX).to_numpy(dtype=bool, na_value=False)
            out_of_range = too_large & present
        return wrong_type, out_of_range
    if ptypes.is_float_dtype(column.dtype):
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
            fits = np.abs(numbers) < 2.0**63
        return present & ~whole, present & whole & ~fits
    values = column.to_numpy(dtype=object)
    for position in np.flatnonzero(present & ~wrong_type):
        value = values[position]
        if isinstance(value, float | np.floating):
            number = float(value)
            if not (np.isfinite(number) and number.is_integer()):
                wrong_type[position] = True
            elif abs(number) >= 2.0**63:
                out_of_range[position] = True
        elif not INT64_MIN <= int(value) <= INT64_MAX:
            out_of_range[position] = True
    return wrong_type, out_of_range


def _datetime_rejections(
    column: pd.Series, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    wrong_type = _kind_rejections(column, present, {"datetime", "string"})
    accepted = present & ~wrong_type
    out_of_range = np.zeros(len(column), dtype=bool)
    if not accepted.any():
        return wrong_type, out_of_range
    subset = column[accepted]
    if ptypes.is_datetime64_any_dtype(subset.dtype):
        parsed = subset
    else:
        parsed = pd.to_datetime(subset, format="ISO8601", utc=True, errors="coerce")
        wrong_type[np.flatnonzero(accepted)[parsed.isna().to_numpy()]] = True
    if getattr(parsed.dtype, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    outside = (parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)
    out_of_range[np.flatnonzero(accepted)] = outside.to_numpy(
        dtype=bool, na_value=False
    )
    return wrong_type, out_of_range


def _unseen_levels(
    column: pd.Series, accepted: np.ndarray, levels: list[Any]
) -> np.ndarray:
    known = set(levels)
    values = column.to_numpy(dtype=object)
    unseen = np.zeros(len(column), dtype=bool)
    integer_levels = not isinstance(levels[0], str)
    for position in np.flatnonzero(accepted):
        value = values[position]
        if integer_levels:
            value = int(value)
        unseen[position] = value not in known
    return unseen


_REASON_TEXT = {
    "null": "are null, but the signature declares the column not nullable",
    "type": "have values that the signature's {type} type does not accept",
    "range": "have values outside the range that {type} values can hold",
    "category": "have categories outside the signature's levels {levels}",
}

_REASON_ADVICE = {
    "null": "Fill the nulls upstream, or log the model with a nullable column.",
    "type": "Send {type} values, or convert the column before scoring.",
    "category_type": "Send one of the levels {levels}, or convert the column first.",
    "integer_range": "Send integers from -2**63 to 2**63 - 1.",
    "datetime_range": "Send datetimes from 1677-09-21 to 2262-04-11.",
    "category": (
        "Map the values to known levels, or retrain with the new levels. "
        "With 'unseen': 'null' in the signature they become missing values."
    ),
}


def _signature_finding(
    spec: ColumnSpec, column: pd.Series, reason: str, rejected: np.ndarray
) -> Finding:
    count = int(rejected.sum())
    rows = len(column)
    share = count / rows
    first = int(rejected.argmax())
    value = column.iloc[first]
    row = column.index[first]
    tolerated = reason == "category" and spec.unseen == "null"
    outcome = "read them as missing values" if tolerated else "reject them"
    example = "" if reason == "null" else f"{show_value(value)} "
    message = (
        f"column {spec.name!r}: {count:,} of {rows:,} rows ({percent(share)}) "
        f"{_reason_text(spec, reason)}, so the model would {outcome}. The first "
        f"is {example}at row {show_value(row)}. {_reason_advice(spec, reason)}"
    )
    return Finding(
        check=f"signature_{reason}",
        column=spec.name,
        severity=WARNING if tolerated else ERROR,
        observed=count,
        threshold=0,
        message=message,
        details={
            "share": share,
            "rows": rows,
            "first_row": show_value(row),
            "first_value": None if reason == "null" else show_value(value),
            "expected_type": spec.type,
        },
    )


def _reason_text(spec: ColumnSpec, reason: str) -> str:
    levels = show_levels(list(spec.levels or ()))
    return _REASON_TEXT[reason].format(type=spec.type, levels=levels)


def _reason_advice(spec: ColumnSpec, reason: str) -> str:
    key = reason
    if reason == "type" and spec.type == "category":
        key = "category_type"
    elif reason == "range":
        key = "datetime_range" if spec.type == "datetime" else "integer_range"
    levels = show_levels(list(spec.levels or ()))
    return _REASON_ADVICE[key].format(type=spec.type, levels=levels)
