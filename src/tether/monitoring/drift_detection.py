"""Column and data-set drift between a reference frame and a current frame.

A numeric column is compared with the two-sample Kolmogorov-Smirnov test and a
categorical column with Pearson's chi-squared test on the table of counts. A
column drifts only when its test is significant after a Bonferroni correction
over the tested columns *and* its effect size reaches a minimum, so that large
samples do not flag shifts too small to matter. See ``docs/monitoring.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from tether.errors import ConfigError, DataError, NotFoundError

logger = logging.getLogger(__name__)

DEFAULT_ALPHA = 0.05
DEFAULT_SHARE_THRESHOLD = 0.5
NUMERIC_MIN_EFFECT = 0.1
"""Minimum Wasserstein distance, in reference standard deviations, for drift."""
CATEGORICAL_MIN_EFFECT = 0.1
"""Minimum Jensen-Shannon distance (base 2, range 0-1) for drift."""
MIN_VALUES = 5
"""Fewer usable values than this on either side and the column is skipped."""

NUMERIC = "numeric"
CATEGORICAL = "categorical"
NUMERIC_EFFECT_METRIC = "normalized_wasserstein"
CATEGORICAL_EFFECT_METRIC = "jensen_shannon_distance"
MISSING_FROM_CURRENT = "missing from current data"
MISSING_FROM_REFERENCE = "missing from reference data"
NANOSECONDS_PER_UNIT = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}


@dataclass(frozen=True)
class ColumnDrift:
    """Drift test result for one column.

    Attributes:
        column: Column name.
        kind: ``"numeric"`` (including datetimes) or ``"categorical"``.
        test: ``"ks"``, ``"chi2"`` or ``"none"`` when the column was skipped.
        statistic: KS D or chi-squared statistic, None when skipped.
        p_value: Uncorrected p-value of the test, None when skipped.
        effect_size: Normalised Wasserstein distance (numeric) or Jensen-Shannon
            distance in base 2 (categorical), None when skipped.
        effect_metric: ``"normalized_wasserstein"`` or ``"jensen_shannon_distance"``.
        drifted: Whether the column drifted.
        status: ``"ok"``, ``"drift"`` or ``"skipped"``.
        reason: Why the column was skipped or how the decision was reached.
        reference_count: Reference values used by the test.
        current_count: Current values used by the test.
        reference_nulls: Share of reference rows left out as null or non-finite.
        current_nulls: Share of current rows left out as null or non-finite.
        new_categories: Categories of the current data absent from the reference.
    """

    column: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    effect_size: float | None
    effect_metric: str
    drifted: bool
    status: str
    reason: str
    reference_count: int
    current_count: int
    reference_nulls: float
    current_nulls: float
    new_categories: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-safe dict (None in place of NaN)."""
        return json_safe_dict(dataclasses.asdict(self))


@dataclass(frozen=True)
class DriftReport:
    """Drift of every compared column and the data-set verdict.

    Attributes:
        columns: One result per compared column, in the order compared.
        share: Drifted columns divided by tested (not skipped) columns, 0.0
            when no column was tested.
        drifted: Whether ``share`` reached ``share_threshold``.
        share_threshold: Share of drifted columns that marks the data set drifted.
        alpha: Family-wise significance level before the Bonferroni correction.
        reference_rows: Rows of the reference frame.
        current_rows: Rows of the current frame.
        min_effect: Effect size threshold given to :func:`drift`. None means
            the defaults ``NUMERIC_MIN_EFFECT`` and ``CATEGORICAL_MIN_EFFECT``.
    """

    columns: list[ColumnDrift]
    share: float
    drifted: bool
    share_threshold: float
    alpha: float
    reference_rows: int = 0
    current_rows: int = 0
    min_effect: float | None = None

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns that drifted."""
        return [result.column for result in self.columns if result.drifted]

    @property
    def tested_columns(self) -> list[str]:
        """Names of the columns that were tested, that is, not skipped."""
        return [result.column for result in self.columns if result.status != "skipped"]

    def column(self, name: str) -> ColumnDrift:
        """Return the result of column ``name``.

        Raises:
            NotFoundError: No column of that name was compared.
        """
        for result in self.columns:
            if result.column == name:
                return result
        known = ", ".join(result.column for result in self.columns) or "none"
        raise NotFoundError(
            f"column {name!r} is not in the drift report. Compared columns: {known}",
            kind="column",
            name=name,
        )

    def to_frame(self) -> pd.DataFrame:
        """Return one row per column with the fields of :class:`ColumnDrift`."""
        names = [field.name for field in dataclasses.fields(ColumnDrift)]
        rows = [result.to_dict() for result in self.columns]
        return pd.DataFrame(rows, columns=names)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-safe dict (None in place of NaN)."""
        return json_safe_dict(
            {
                "share": self.share,
                "drifted": self.drifted,
                "share_threshold": self.share_threshold,
                "alpha": self.alpha,
                "reference_rows": self.reference_rows,
                "current_rows": self.current_rows,
                "min_effect": self.min_effect,
                "drifted_columns": self.drifted_columns,
                "columns": [result.to_dict() for result in self.columns],
            }
        )

    def to_html(self, path: str | Path, *, title: str = "Drift report") -> Path:
        """Write a self-contained HTML page for this single comparison.

        Returns:
            The path written.
        """
        from tether.monitoring.report import report_from_drift

        return report_from_drift(self, title=title).to_html(path)


@dataclass(frozen=True)
class PreparedValues:
    """Values of one column ready for a test, with what was left out."""

    values: np.ndarray
    rows: int
    missing: int
    infinite: int

    @property
    def missing_share(self) -> float:
        """Share of rows left out as null or non-finite (0.0 for no rows)."""
        return self.missing / self.rows if self.rows else 0.0


def drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float | None = None,
    share_threshold: float = DEFAULT_SHARE_THRESHOLD,
) -> DriftReport:
    """Compare each column of ``current`` with ``reference``.

    Args:
        reference: Data the model was trained or validated on.
        current: Data to check, for example one window of served traffic.
        columns: Columns to compare, by default every reference column.
        categorical: Columns to treat as categorical whatever their dtype,
            for example an integer code column.
        alpha: Family-wise significance level. Each column is tested at
            ``alpha / number of tested columns`` (Bonferroni).
        min_effect: Minimum effect size for drift, used for both kinds. None
            uses ``NUMERIC_MIN_EFFECT`` and ``CATEGORICAL_MIN_EFFECT``.
        share_threshold: The data set drifts when the share of drifted columns
            among the tested ones is at least this.

    Returns:
        The per-column results and the data-set verdict.

    Raises:
        DataError: ``reference`` or ``current`` is not a DataFrame.
        ConfigError: An option is out of range, or ``categorical`` names a
            column that is in neither frame.
    """
    _check_frames(reference, current)
    validate_drift_options(alpha, min_effect, share_threshold)
    names = _resolve_columns(reference, columns)
    forced = _resolve_categorical(reference, current, categorical)
    results = [_compare_column(name, reference, current, forced) for name in names]
    tested = [result for result in results if result.status != "skipped"]
    corrected_alpha = alpha / len(tested) if tested else alpha
    decided = [_decide(result, corrected_alpha, min_effect) for result in results]
    drifted_count = sum(result.drifted for result in decided)
    share = drifted_count / len(tested) if tested else 0.0
    logger.debug("drift: %d of %d tested columns drifted", drifted_count, len(tested))
    return DriftReport(
        columns=decided,
        share=share,
        drifted=bool(tested) and share >= share_threshold,
        share_threshold=share_threshold,
        alpha=alpha,
        reference_rows=len(reference),
        current_rows=len(current),
        min_effect=min_effect,
    )


def _check_frames(reference: Any, current: Any) -> None:
    for label, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                f"{label} must be a pandas DataFrame, got {type(frame).__name__}. "
                "Wrap the data with pandas.DataFrame(...)."
            )
        duplicated = frame.columns[frame.columns.duplicated()]
        if len(duplicated):
            raise DataError(
                f"{label} has duplicated column names {list(map(str, duplicated))}. "
                "Rename or drop the duplicates."
            )


def validate_drift_options(
    alpha: float, min_effect: float | None, share_threshold: float
) -> None:
    """Raise ConfigError unless the options of :func:`drift` are in range."""
    if not 0.0 < alpha < 1.0:
        raise ConfigError(
            f"alpha must be between 0 and 1 (exclusive), got {alpha!r}",
            setting="alpha",
            value=alpha,
        )
    if min_effect is not None and not min_effect >= 0.0:
        raise ConfigError(
            f"min_effect must be 0 or more, got {min_effect!r}",
            setting="min_effect",
            value=min_effect,
        )
    if not 0.0 < share_threshold <= 1.0:
        raise ConfigError(
            f"share_threshold must be in (0, 1], got {share_threshold!r}",
            setting="share_threshold",
            value=share_threshold,
        )


def _resolve_columns(
    reference: pd.DataFrame, columns: Sequence[str] | None
) -> list[str]:
    if columns is None:
        return [str(name) for name in reference.columns]
    if isinstance(columns, str):
        raise ConfigError(
            f"columns must be a list of names, got the string {columns!r}. "
            f"Pass [{columns!r}] instead.",
            setting="columns",
            value=columns,
        )
    return [str(name) for name in dict.fromkeys(columns)]


def column_series(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """Return the column of ``frame`` whose label is ``name`` or prints as it.

    Returns:
        The column, or None when no label matches.
    """
    if name in frame.columns:
        return frame[name]
    for label in frame.columns:
        if str(label) == name:
            return frame[label]
    return None


def _resolve_categorical(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: Sequence[str] | None
) -> set[str]:
    if categorical is None:
        return set()
    if isinstance(categorical, str):
        categorical = [categorical]
    unknown = [
        name
        for name in categorical
        if column_series(reference, name) is None
        and column_series(current, name) is None
    ]
    if unknown:
        raise ConfigError(
            f"categorical names columns that are in neither frame: {unknown}. "
            "Check the spelling.",
            setting="categorical",
            value=unknown,
        )
    return {str(name) for name in categorical}


def _compare_column(
    name: str, reference: pd.DataFrame, current: pd.DataFrame, forced: set[str]
) -> ColumnDrift:
    ref_series = column_series(reference, name)
    cur_series = column_series(current, name)
    kind, notes = _infer_kind(ref_series, cur_series, name in forced)
    ref = prepare_values(ref_series, kind)
    cur = prepare_values(cur_series, kind)
    notes += _infinite_notes(ref, cur)
    skip_reason = _skip_reason(ref_series, cur_series, ref, cur)
    if skip_reason:
        return _make_result(
            name, kind, ref, cur, reason="; ".join([skip_reason, *notes])
        )
    if kind == NUMERIC:
        test, statistic, p_value, effect = _numeric_test(ref.values, cur.values)
        new_categories: list[str] = []
    else:
        test, statistic, p_value, effect, new_categories = _categorical_test(
            ref.values, cur.values
        )
    return _make_result(
        name,
        kind,
        ref,
        cur,
        reason="; ".join(notes),
        tested=(test, statistic, p_value, effect),
        new_categories=new_categories,
    )


def _make_result(
    name: str,
    kind: str,
    ref: PreparedValues,
    cur: PreparedValues,
    *,
    reason: str,
    tested: tuple[str, float, float, float] | None = None,
    new_categories: list[str] | None = None,
) -> ColumnDrift:
    test, statistic, p_value, effect = tested or ("none", None, None, None)
    return ColumnDrift(
        column=name,
        kind=kind,
        test=test,
        statistic=statistic,
        p_value=p_value,
        effect_size=effect,
        effect_metric=NUMERIC_EFFECT_METRIC
        if kind == NUMERIC
        else CATEGORICAL_EFFECT_METRIC,
        drifted=False,
        status="skipped" if tested is None else "ok",
        reason=reason,
        reference_count=len(ref.values),
        current_count=len(cur.values),
        reference_nulls=ref.missing_share,
        current_nulls=cur.missing_share,
        new_categories=new_categories or [],
    )


def _skip_reason(
    ref_series: pd.Series | None,
    cur_series: pd.Series | None,
    ref: PreparedValues,
    cur: PreparedValues,
) -> str:
    if ref_series is None:
        return MISSING_FROM_REFERENCE
    if cur_series is None:
        return MISSING_FROM_CURRENT
    if len(ref.values) < MIN_VALUES or len(cur.values) < MIN_VALUES:
        return (
            f"fewer than {MIN_VALUES} non-null values "
            f"(reference {len(ref.values)}, current {len(cur.values)})"
        )
    return ""


def _infinite_notes(ref: PreparedValues, cur: PreparedValues) -> list[str]:
    notes = []
    for label, side in (("reference", ref), ("current", cur)):
        if side.infinite:
            notes.append(f"left out {side.infinite} infinite {label} values")
    return notes


def _decide(
    result: ColumnDrift, corrected_alpha: float, min_effect: float | None
) -> ColumnDrift:
    if result.status == "skipped" or result.p_value is None:
        return result
    threshold = _effect_threshold(result.kind, min_effect)
    effect = result.effect_size if result.effect_size is not None else 0.0
    significant = result.p_value < corrected_alpha
    large = effect >= threshold
    comparison = f"{result.effect_metric}={effect:.3g}"
    if significant and large:
        significance = f"p={result.p_value:.3g} < {corrected_alpha:.3g}"
        verdict = f"{significance} and {comparison} >= {threshold:g}"
    elif significant:
        verdict = (
            f"significant (p={result.p_value:.3g}) but {comparison} < {threshold:g}"
        )
    else:
        verdict = ""
    reason = "; ".join(part for part in (verdict, result.reason) if part)
    drifted = significant and large
    return dataclasses.replace(
        result, drifted=drifted, status="drift" if drifted else "ok", reason=reason
    )


def _effect_threshold(kind: str, min_effect: float | None) -> float:
    if min_effect is not None:
        return min_effect
    return NUMERIC_MIN_EFFECT if kind == NUMERIC else CATEGORICAL_MIN_EFFECT


def _infer_kind(
    ref_series: pd.Series | None, cur_series: pd.Series | None, forced: bool
) -> tuple[str, list[str]]:
    if forced:
        return CATEGORICAL, []
    ref_kind = _dtype_kind(ref_series)
    cur_kind = _dtype_kind(cur_series)
    if ref_series is None or cur_series is None or ref_kind == cur_kind:
        return ref_kind if ref_series is not None else cur_kind, []
    if cur_series.isna().all():
        return ref_kind, []
    if ref_series.isna().all():
        return cur_kind, []
    if _parses_as_numbers(ref_series) and _parses_as_numbers(cur_series):
        return NUMERIC, []
    dtypes = f"{ref_series.dtype} and {cur_series.dtype}"
    note = f"dtypes differ ({dtypes}), so compared as text"
    return CATEGORICAL, [note]


def _dtype_kind(series: pd.Series | None) -> str:
    if series is None:
        return CATEGORICAL
    if _is_temporal(series):
        return NUMERIC
    dtype = series.dtype
    if (
        ptypes.is_numeric_dtype(dtype)
        and not ptypes.is_bool_dtype(dtype)
        and not ptypes.is_complex_dtype(dtype)
    ):
        return NUMERIC
    return CATEGORICAL


def _is_temporal(series: pd.Series) -> bool:
    dtype = series.dtype
    return ptypes.is_datetime64_any_dtype(dtype) or ptypes.is_timedelta64_dtype(dtype)


def _parses_as_numbers(series: pd.Series) -> bool:
    if _dtype_kind(series) == NUMERIC:
        return not _is_temporal(series)
    dtype = series.dtype
    if not (ptypes.is_object_dtype(dtype) or ptypes.is_string_dtype(dtype)):
        return False
    present = series.dropna().to_numpy(dtype=object)
    if any(isinstance(value, bool) for value in present):
        return False
    numbers = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
    return bool(numbers.notna().all())


def prepare_values(series: pd.Series | None, kind: str) -> PreparedValues:
    """Return the usable values of ``series`` for a test of the given kind.

    Numeric values become float64 with NaN and ±inf left out. Datetimes and
    timedeltas become int64 nanoseconds first. Categorical values become
    strings with nulls left out. A missing series gives no values.
    """
    if series is None:
        return PreparedValues(np.empty(0), rows=0, missing=0, infinite=0)
    if kind == NUMERIC:
        return _numeric_values(series)
    present = series.dropna()
    labels = present.astype(str).to_numpy(dtype=object)
    return PreparedValues(
        labels, rows=len(series), missing=len(series) - len(present), infinite=0
    )


def _numeric_values(series: pd.Series) -> PreparedValues:
    if _is_temporal(series):
        present = series.dropna()
        # Scaling as floats keeps dates past 2262, which int64 nanoseconds cannot
        # hold. Float64 still resolves about 0.25 µs near 2020.
        scale = NANOSECONDS_PER_UNIT[present.dt.unit]
        values = present.astype("int64").to_numpy(dtype=float) * scale
    else:
        numbers = pd.to_numeric(series, errors="coerce")
        values = numbers.to_numpy(dtype=float, na_value=np.nan)
    infinite = int(np.isinf(values).sum())
    finite = values[np.isfinite(values)]
    return PreparedValues(
        finite, rows=len(series), missing=len(series) - len(finite), infinite=infinite
    )


def _numeric_test(
    reference: np.ndarray, current: np.ndarray
) -> tuple[str, float, float, float]:
    with warnings.catch_warnings():
        # SciPy then falls back to the asymptotic p-value, which is fine here.
        warnings.filterwarnings(
            "ignore",
            message="ks_2samp: Exact calculation unsuccessful",
            category=RuntimeWarning,
        )
        result = ks_2samp(reference, current)
    effect = normalized_wasserstein(reference, current)
    return "ks", float(result.statistic), float(result.pvalue), effect


def _categorical_test(
    reference: np.ndarray, current: np.ndarray
) -> tuple[str, float, float, float, list[str]]:
    ref_counts = pd.Series(reference).value_counts()
    cur_counts = pd.Series(current).value_counts()
    categories = sorted(set(ref_counts.index) | set(cur_counts.index))
    table = np.vstack(
        [
            ref_counts.reindex(categories, fill_value=0).to_numpy(),
            cur_counts.reindex(categories, fill_value=0).to_numpy(),
        ]
    )
    result = chi2_contingency(table)
    effect = jensen_shannon_distance(table[0], table[1])
    new = [str(name) for name in categories if name not in ref_counts.index]
    return "chi2", float(result.statistic), float(result.pvalue), effect, new


def normalized_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Return the Wasserstein-1 distance divided by the reference standard deviation.

    A value of 0.1 means the current distribution must move by a tenth of a
    reference standard deviation on average to match the reference. When the
    reference is constant the pooled standard deviation of both samples is
    used, and two identical constants give 0.0.
    """
    magnitude = max(_max_abs(reference), _max_abs(current))
    if magnitude == 0.0:
        return 0.0
    # The ratio is scale-free, and values near 1e308 would overflow np.std.
    reference, current = reference / magnitude, current / magnitude
    distance = float(wasserstein_distance(reference, current))
    scale = float(np.std(reference))
    if scale == 0.0:
        scale = float(np.std(np.concatenate([reference, current])))
    return distance / scale if scale > 0.0 else 0.0


def _max_abs(values: np.ndarray) -> float:
    return float(np.abs(values).max()) if len(values) else 0.0


def jensen_shannon_distance(
    reference_counts: Sequence[float] | np.ndarray,
    current_counts: Sequence[float] | np.ndarray,
) -> float:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors.

    The counts are normalised to probabilities first. The distance is the
    square root of the Jensen-Shannon divergence, so 1.0 means disjoint support.
    """
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    if ref.sum() <= 0.0 or cur.sum() <= 0.0:
        return 0.0
    return float(jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2))


def json_safe_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``mapping`` with each value passed through :func:`json_safe`."""
    return {str(key): json_safe(item) for key, item in mapping.items()}


def json_safe(value: Any) -> Any:
    """Return ``value`` with NaN and ±inf as None and NumPy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
