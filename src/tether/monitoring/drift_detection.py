"""Column and data-set drift between a reference frame and a current frame.

Each column gets one method. The two test methods decide by p-value: the
two-sample Kolmogorov-Smirnov test (``"ks"``) for numeric columns and
Pearson's chi-squared test (``"chi2"``) for categorical ones, the default
choice of ``method="auto"``. A tested column drifts only when its p-value is
significant after a correction over the tested columns *and* its effect size
reaches a minimum, so that large samples do not flag shifts too small to
matter. The three distance methods (``"psi"``, ``"wasserstein"`` and
``"jensen_shannon"``) decide by a threshold on the distance alone. The
statistics themselves are in :mod:`tether.monitoring.drift_statistics`. See
``docs/monitoring.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from tether.errors import ConfigError, DataError, NotFoundError
from tether.monitoring import drift_statistics as stats
from tether.monitoring.drift_statistics import (
    PSI_MODERATE,
    PSI_SIGNIFICANT,
    jensen_shannon,
)
from tether.monitoring.drift_statistics import (
    normalized_wasserstein as normalized_wasserstein,
)

logger = logging.getLogger(__name__)

DEFAULT_ALPHA = 0.05
DEFAULT_SHARE_THRESHOLD = 0.5
NUMERIC_MIN_EFFECT = 0.1
"""Minimum normalised Wasserstein distance, in reference standard deviations,
for a test method to flag drift."""
CATEGORICAL_MIN_EFFECT = 0.1
"""Minimum Jensen-Shannon distance (base 2, range 0-1) for a test method to
flag drift."""
MIN_VALUES = 5
"""Fewer usable values than this on either side and the column is skipped."""
WASSERSTEIN_NOISE_VALUES = 1000
"""Below this many values on a side, a ``"wasserstein"`` result carries a note
that sampling noise alone can reach its threshold. In a simulation with normal
data, two samples of 1000 values each from one distribution exceeded 0.1 about
3% of the time."""

NUMERIC = "numeric"
CATEGORICAL = "categorical"

AUTO = "auto"
KS = "ks"
CHI2 = "chi2"
PSI = "psi"
WASSERSTEIN = "wasserstein"
JENSEN_SHANNON = "jensen_shannon"
METHODS = (AUTO, KS, CHI2, PSI, WASSERSTEIN, JENSEN_SHANNON)
"""Values accepted by ``method=`` and ``methods=`` of :func:`drift`."""
TEST_METHODS = (KS, CHI2)
DISTANCE_METHODS = (PSI, WASSERSTEIN, JENSEN_SHANNON)
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    PSI: PSI_SIGNIFICANT,
    WASSERSTEIN: 0.1,
    JENSEN_SHANNON: 0.1,
}
"""Distance at or above which a distance method flags drift."""
CATEGORICAL_FALLBACK = {KS: CHI2, WASSERSTEIN: JENSEN_SHANNON}
"""Method used on a categorical column in place of a numeric-only one."""

BONFERRONI = "bonferroni"
BENJAMINI_HOCHBERG = "bh"
NO_CORRECTION = "none"
CORRECTIONS = (BONFERRONI, BENJAMINI_HOCHBERG, NO_CORRECTION)

NUMERIC_EFFECT_METRIC = "normalized_wasserstein"
CATEGORICAL_EFFECT_METRIC = "jensen_shannon_distance"
PSI_METRIC = "psi"
SKIPPED_METHOD = "none"
MISSING_FROM_CURRENT = "missing from current data"
MISSING_FROM_REFERENCE = "missing from reference data"
NANOSECONDS_PER_UNIT = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}

jensen_shannon_distance = jensen_shannon
"""Alias of :func:`tether.monitoring.drift_statistics.jensen_shannon`."""


@dataclass(frozen=True)
class ColumnDrift:
    """Drift result for one column.

    Attributes:
        column: Column name.
        kind: ``"numeric"`` (including datetimes) or ``"categorical"``.
        method: ``"ks"``, ``"chi2"``, ``"psi"``, ``"wasserstein"``,
            ``"jensen_shannon"``, or ``"none"`` when the column was skipped.
        statistic: KS D, chi-squared statistic, PSI, normalised Wasserstein
            distance or Jensen-Shannon distance, None when skipped.
        p_value: Uncorrected p-value of a test method, None for a distance
            method or a skipped column.
        adjusted_p_value: ``p_value`` after the correction of the call (equal
            to it for ``correction="none"``), None where ``p_value`` is None.
        effect_size: Normalised Wasserstein distance for ``"ks"``, Jensen-Shannon
            distance for ``"chi2"``, and the statistic itself for a distance
            method. None when skipped.
        effect_metric: ``"normalized_wasserstein"``, ``"jensen_shannon_distance"``
            or ``"psi"``.
        threshold: Effect size at or above which the column drifts, None when
            skipped. A test method also needs a significant p-value.
        drifted: Whether the column drifted.
        status: ``"ok"``, ``"drift"`` or ``"skipped"``.
        reason: Why the column was skipped or how the decision was reached.
        reference_count: Reference values used by the method.
        current_count: Current values used by the method.
        reference_nulls: Share of reference rows left out as null or non-finite.
        current_nulls: Share of current rows left out as null or non-finite.
        new_categories: Categories of the current data absent from the reference.
    """

    column: str
    kind: str
    method: str
    statistic: float | None
    p_value: float | None
    adjusted_p_value: float | None
    effect_size: float | None
    effect_metric: str
    threshold: float | None
    drifted: bool
    status: str
    reason: str
    reference_count: int
    current_count: int
    reference_nulls: float
    current_nulls: float
    new_categories: list[str]

    @property
    def test(self) -> str:
        """Alias of ``method``, the name this field had before distance methods."""
        return self.method

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
        alpha: Significance level that the corrected p-values are compared with.
        reference_rows: Rows of the reference frame.
        current_rows: Rows of the current frame.
        min_effect: Effect size threshold of the test methods given to
            :func:`drift`. None means the defaults ``NUMERIC_MIN_EFFECT`` and
            ``CATEGORICAL_MIN_EFFECT``.
        method: Method requested for every column, ``"auto"`` by default.
        methods: Per-column methods that replaced ``method``.
        correction: ``"bonferroni"``, ``"bh"`` (Benjamini-Hochberg) or ``"none"``.
        thresholds: Threshold of each distance method, defaults included.
    """

    columns: list[ColumnDrift]
    share: float
    drifted: bool
    share_threshold: float
    alpha: float
    reference_rows: int = 0
    current_rows: int = 0
    min_effect: float | None = None
    method: str = AUTO
    methods: dict[str, str] = field(default_factory=dict)
    correction: str = BONFERRONI
    thresholds: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_THRESHOLDS)
    )

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
        names = [item.name for item in dataclasses.fields(ColumnDrift)]
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
                "method": self.method,
                "methods": self.methods,
                "correction": self.correction,
                "thresholds": self.thresholds,
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


@dataclass(frozen=True)
class _Settings:
    """Options of one :func:`drift` call that every column needs."""

    forced_categorical: set[str]
    methods: dict[str, str]
    default_method: str
    min_effect: float | None
    thresholds: dict[str, float]


@dataclass(frozen=True)
class _Measurement:
    """Statistic, p-value and threshold of one method on one column, before the decision."""

    method: str
    statistic: float
    p_value: float | None
    effect_size: float
    effect_metric: str
    threshold: float
    noise_level: float | None = None
    pooled: int = 0
    """Sparse categories or bins merged before a chi-squared test."""


@dataclass(frozen=True)
class _Counts:
    """Counts per bin or category of both sides, for the count-based methods."""

    reference: np.ndarray
    current: np.ndarray
    new_categories: list[str]


def drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float | None = None,
    share_threshold: float = DEFAULT_SHARE_THRESHOLD,
    method: str = AUTO,
    methods: Mapping[str, str] | None = None,
    correction: str = BONFERRONI,
    thresholds: Mapping[str, float] | None = None,
) -> DriftReport:
    """Compare each column of ``current`` with ``reference``.

    Args:
        reference: Data the model was trained or validated on.
        current: Data to check, for example one window of served traffic.
        columns: Columns to compare, by default every reference column.
        categorical: Columns to treat as categorical whatever their dtype,
            for example an integer code column.
        alpha: Significance level of the test methods, compared with the
            p-values after ``correction``.
        min_effect: Minimum effect size for a test method to flag drift, used
            for both kinds. None uses ``NUMERIC_MIN_EFFECT`` and
            ``CATEGORICAL_MIN_EFFECT``. Distance methods use ``thresholds``.
        share_threshold: The data set drifts when the share of drifted columns
            among the tested ones is at least this.
        method: Method for every column: ``"auto"`` (KS for numeric and
            chi-squared for categorical columns), ``"ks"``, ``"chi2"``,
            ``"psi"``, ``"wasserstein"`` or ``"jensen_shannon"``. On a
            categorical column ``"ks"`` becomes ``"chi2"`` and
            ``"wasserstein"`` becomes ``"jensen_shannon"``, and the reason says so.
        methods: Method per column name, in place of ``method``.
        correction: Multiple-testing correction over the p-values of the call:
            ``"bonferroni"`` (family-wise error rate), ``"bh"``
            (Benjamini-Hochberg false discovery rate) or ``"none"``.
        thresholds: Distance threshold per distance method, for example
            ``{"psi": 0.25}``. Methods left out keep ``DEFAULT_THRESHOLDS``.

    Returns:
        The per-column results and the data-set verdict.

    Raises:
        DataError: ``reference`` or ``current`` is not a DataFrame.
        ConfigError: An option is out of range or unknown, or ``categorical``
            or ``methods`` names a column that is in neither frame.
    """
    _check_frames(reference, current)
    validate_drift_options(alpha, min_effect, share_threshold)
    validate_method_options(method, correction, thresholds)
    names = _resolve_columns(reference, columns)
    settings = _Settings(
        forced_categorical=_resolve_categorical(reference, current, categorical),
        methods=_resolve_methods(reference, current, methods),
        default_method=method,
        min_effect=min_effect,
        thresholds={**DEFAULT_THRESHOLDS, **(thresholds or {})},
    )
    measured = _compare_columns(names, reference, current, settings)
    decided = _decide_columns(measured, alpha, correction)
    tested = [result for result in decided if result.status != "skipped"]
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
        method=method,
        methods=settings.methods,
        correction=correction,
        thresholds=settings.thresholds,
    )


PARALLEL_MIN_VALUES = 200_000
"""Comparisons of at least this many values (rows times columns) run columns in threads."""
MAX_THREADS = 4


def _compare_columns(
    names: list[str], reference: pd.DataFrame, current: pd.DataFrame, settings: Any
) -> list[Any]:
    """Compare every column, in threads for large frames, in column order.

    Sorting and searching, most of the time of a test, run in NumPy without
    the GIL, so columns compare in parallel on several cores.
    """
    values = (len(reference) + len(current)) * len(names)
    threads = min(MAX_THREADS, os.cpu_count() or 1, len(names))
    if values < PARALLEL_MIN_VALUES or threads < 2:
        return [_compare_column(name, reference, current, settings) for name in names]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="tether-drift") as pool:
        return list(
            pool.map(
                lambda name: _compare_column(name, reference, current, settings), names
            )
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


def validate_method_options(
    method: str, correction: str, thresholds: Mapping[str, float] | None = None
) -> None:
    """Raise ConfigError unless the method, correction and thresholds are known."""
    _check_method(method, "method")
    if correction not in CORRECTIONS:
        raise ConfigError(
            f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}",
            setting="correction",
            value=correction,
        )
    if thresholds is not None and not isinstance(thresholds, Mapping):
        raise ConfigError(
            "thresholds must map distance methods to thresholds, for example "
            f'{{"psi": 0.25}}, got {type(thresholds).__name__}',
            setting="thresholds",
            value=thresholds,
        )
    for name, value in (thresholds or {}).items():
        if name not in DISTANCE_METHODS:
            raise ConfigError(
                f"thresholds has the key {name!r}, but only the distance methods "
                f"{', '.join(DISTANCE_METHODS)} take a threshold",
                setting="thresholds",
                value=name,
            )
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ConfigError(
                f"the {name} threshold must be a finite number above 0, got {value!r}",
                setting="thresholds",
                value=value,
            )


def _check_method(method: str, setting: str) -> None:
    if method not in METHODS:
        raise ConfigError(
            f"{setting} must be one of {', '.join(METHODS)}, got {method!r}",
            setting=setting,
            value=method,
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


def _resolve_methods(
    reference: pd.DataFrame, current: pd.DataFrame, methods: Mapping[str, str] | None
) -> dict[str, str]:
    if methods is None:
        return {}
    if not isinstance(methods, Mapping):
        raise ConfigError(
            "methods must map column names to methods, for example "
            f'{{"income": "psi"}}, got {type(methods).__name__}',
            setting="methods",
            value=methods,
        )
    for name, method in methods.items():
        _check_method(method, f"methods[{name!r}]")
    unknown = [
        name
        for name in methods
        if column_series(reference, str(name)) is None
        and column_series(current, str(name)) is None
    ]
    if unknown:
        raise ConfigError(
            f"methods names columns that are in neither frame: {unknown}. "
            "Check the spelling.",
            setting="methods",
            value=unknown,
        )
    return {str(name): method for name, method in methods.items()}


def _compare_column(
    name: str, reference: pd.DataFrame, current: pd.DataFrame, settings: _Settings
) -> ColumnDrift:
    ref_series = column_series(reference, name)
    cur_series = column_series(current, name)
    forced = name in settings.forced_categorical
    kind, notes = _infer_kind(ref_series, cur_series, forced)
    ref = prepare_values(ref_series, kind)
    cur = prepare_values(cur_series, kind)
    notes += _infinite_notes(ref, cur)
    skip_reason = _skip_reason(ref_series, cur_series, ref, cur)
    if skip_reason:
        return _skipped_result(name, kind, ref, cur, "; ".join([skip_reason, *notes]))
    requested = settings.methods.get(name, settings.default_method)
    method, fallback_note = _choose_method(requested, kind)
    counts = None if method in (KS, WASSERSTEIN) else _counts(kind, ref, cur)
    measurement = _measure(method, ref.values, cur.values, counts, settings)
    noise_note = _noise_note(measurement, len(ref.values), len(cur.values))
    pool_note = _pool_note(measurement.pooled, kind)
    notes = [note for note in (fallback_note, pool_note, *notes, noise_note) if note]
    new_categories = counts.new_categories if counts is not None else []
    return ColumnDrift(
        column=name,
        kind=kind,
        method=measurement.method,
        statistic=measurement.statistic,
        p_value=measurement.p_value,
        adjusted_p_value=None,
        effect_size=measurement.effect_size,
        effect_metric=measurement.effect_metric,
        threshold=measurement.threshold,
        drifted=False,
        status="ok",
        reason="; ".join(notes),
        reference_count=len(ref.values),
        current_count=len(cur.values),
        reference_nulls=ref.missing_share,
        current_nulls=cur.missing_share,
        new_categories=new_categories,
    )


def _skipped_result(
    name: str, kind: str, ref: PreparedValues, cur: PreparedValues, reason: str
) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        kind=kind,
        method=SKIPPED_METHOD,
        statistic=None,
        p_value=None,
        adjusted_p_value=None,
        effect_size=None,
        effect_metric=NUMERIC_EFFECT_METRIC
        if kind == NUMERIC
        else CATEGORICAL_EFFECT_METRIC,
        threshold=None,
        drifted=False,
        status="skipped",
        reason=reason,
        reference_count=len(ref.values),
        current_count=len(cur.values),
        reference_nulls=ref.missing_share,
        current_nulls=cur.missing_share,
        new_categories=[],
    )


def _choose_method(requested: str, kind: str) -> tuple[str, str]:
    """Return the method for a column of ``kind`` and a note when it differs."""
    if requested == AUTO:
        return (KS if kind == NUMERIC else CHI2), ""
    if kind == NUMERIC or requested not in CATEGORICAL_FALLBACK:
        return requested, ""
    used = CATEGORICAL_FALLBACK[requested]
    return used, f"{requested} needs numeric values, so {used} was used"


def _measure(
    method: str,
    reference: np.ndarray,
    current: np.ndarray,
    counts: _Counts | None,
    settings: _Settings,
) -> _Measurement:
    if method == KS:
        test = stats.ks(reference, current)
        effect = stats.normalized_wasserstein(reference, current)
        return _test_measurement(KS, test, effect, NUMERIC_EFFECT_METRIC, settings)
    if method == WASSERSTEIN:
        distance = stats.normalized_wasserstein(reference, current)
        return _distance_measurement(
            WASSERSTEIN, distance, NUMERIC_EFFECT_METRIC, settings
        )
    if counts is None:
        raise ValueError(f"method {method!r} needs bin or category counts")
    reference_counts, current_counts = counts.reference, counts.current
    if method == CHI2:
        # The effect size keeps every category, and only the test pools sparse ones.
        *pooled, merged = stats.pool_sparse_categories(reference_counts, current_counts)
        test = stats.chi_squared(*pooled)
        effect = stats.jensen_shannon(reference_counts, current_counts)
        measurement = _test_measurement(
            CHI2, test, effect, CATEGORICAL_EFFECT_METRIC, settings
        )
        return dataclasses.replace(measurement, pooled=merged)
    # Bins or categories empty on both sides add nothing to the noise.
    seen = int(((reference_counts + current_counts) > 0).sum())
    sizes = (seen, len(reference), len(current))
    if method == PSI:
        distance = stats.psi_from_counts(reference_counts, current_counts)
        measurement = _distance_measurement(PSI, distance, PSI_METRIC, settings)
        noise = stats.psi_noise_level(*sizes)
    else:
        distance = stats.jensen_shannon(reference_counts, current_counts)
        measurement = _distance_measurement(
            JENSEN_SHANNON, distance, CATEGORICAL_EFFECT_METRIC, settings
        )
        noise = stats.jensen_shannon_noise_level(*sizes)
    return dataclasses.replace(measurement, noise_level=noise)


def _counts(kind: str, ref: PreparedValues, cur: PreparedValues) -> _Counts:
    """Count numeric values in reference-quantile bins, or categories by label."""
    if kind == NUMERIC:
        reference, current = stats.binned_counts(ref.values, cur.values)
        return _Counts(reference, current, [])
    categories, reference, current = stats.category_counts(ref.values, cur.values)
    new = [name for name, count in zip(categories, reference, strict=True) if not count]
    return _Counts(reference, current, new)


def _test_measurement(
    method: str,
    test: stats.HypothesisTestResult,
    effect: float,
    metric: str,
    settings: _Settings,
) -> _Measurement:
    if settings.min_effect is not None:
        floor = settings.min_effect
    elif metric == NUMERIC_EFFECT_METRIC:
        floor = NUMERIC_MIN_EFFECT
    else:
        floor = CATEGORICAL_MIN_EFFECT
    return _Measurement(method, test.statistic, test.p_value, effect, metric, floor)


def _distance_measurement(
    method: str, distance: float, metric: str, settings: _Settings
) -> _Measurement:
    threshold = settings.thresholds[method]
    return _Measurement(method, distance, None, distance, metric, threshold)


def _pool_note(pooled: int, kind: str) -> str:
    if not pooled:
        return ""
    unit = "bins" if kind == NUMERIC else "categories"
    return (
        f"the chi-squared test merged {pooled} {unit} with expected counts below "
        f"{stats.MIN_EXPECTED_COUNT:g} into one"
    )


def _noise_note(
    measurement: _Measurement, reference_count: int, current_count: int
) -> str:
    """Warn when sampling noise alone can reach a distance method's threshold."""
    method, threshold = measurement.method, measurement.threshold
    if measurement.noise_level is not None and measurement.noise_level >= threshold:
        return (
            f"by chance alone, about 1% of samples of these sizes give {method} "
            f"above {measurement.noise_level:.2g}, at or above the threshold "
            f"{threshold:g}"
        )
    smaller = min(reference_count, current_count)
    if method == WASSERSTEIN and smaller < WASSERSTEIN_NOISE_VALUES:
        return (
            f"only {smaller} values on the smaller side, so sampling noise alone "
            f"can reach the {method} threshold {threshold:g}"
        )
    return ""


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


def _decide_columns(
    results: list[ColumnDrift], alpha: float, correction: str
) -> list[ColumnDrift]:
    tested = [
        index for index, result in enumerate(results) if result.p_value is not None
    ]
    p_values = [results[index].p_value or 0.0 for index in tested]
    adjusted = dict(zip(tested, _adjust(p_values, correction), strict=True))
    decided = []
    for index, result in enumerate(results):
        if index in adjusted:
            significance = _significance(
                result, adjusted[index], alpha, correction, len(tested)
            )
            decided.append(_decide_test(result, adjusted[index], significance))
        elif result.status == "skipped":
            decided.append(result)
        else:
            decided.append(_decide_distance(result))
    return decided


def _adjust(p_values: list[float], correction: str) -> list[float]:
    if correction == BONFERRONI:
        adjusted = stats.bonferroni(p_values)
    elif correction == BENJAMINI_HOCHBERG:
        adjusted = stats.benjamini_hochberg(p_values)
    else:
        return list(p_values)
    return [float(value) for value in adjusted]


@dataclass(frozen=True)
class _Significance:
    """Outcome of the significance check, with its text for the reason."""

    significant: bool
    text: str
    level: float


def _significance(
    result: ColumnDrift, adjusted: float, alpha: float, correction: str, tests: int
) -> _Significance:
    p_value = result.p_value if result.p_value is not None else 1.0
    if correction == BONFERRONI:
        # Same as adjusted < alpha, written the way it was decided before the
        # adjusted p-values existed, so the reason and the verdict cannot differ.
        level = alpha / tests
        return _Significance(p_value < level, f"p={p_value:.3g}", level)
    if correction == BENJAMINI_HOCHBERG:
        return _Significance(adjusted < alpha, f"BH-adjusted p={adjusted:.3g}", alpha)
    return _Significance(p_value < alpha, f"p={p_value:.3g}", alpha)


def _decide_test(
    result: ColumnDrift, adjusted: float, significance: _Significance
) -> ColumnDrift:
    effect = result.effect_size if result.effect_size is not None else 0.0
    threshold = result.threshold if result.threshold is not None else 0.0
    large = effect >= threshold
    comparison = f"{result.effect_metric}={effect:.3g}"
    p_text, level = significance.text, significance.level
    if significance.significant and large:
        verdict = f"{p_text} < {level:.3g} and {comparison} >= {threshold:g}"
    elif significance.significant:
        verdict = f"significant ({p_text}) but {comparison} < {threshold:g}"
    else:
        verdict = f"not significant: {p_text} >= {level:.3g}"
    drifted = significance.significant and large
    return dataclasses.replace(
        result,
        adjusted_p_value=adjusted,
        drifted=drifted,
        status="drift" if drifted else "ok",
        reason=_join_reason(verdict, result.reason),
    )


def _decide_distance(result: ColumnDrift) -> ColumnDrift:
    distance = result.statistic if result.statistic is not None else 0.0
    threshold = result.threshold if result.threshold is not None else 0.0
    distance_text = f"{result.effect_metric}={distance:.3g}"
    drifted = distance >= threshold
    if drifted:
        verdict = f"{distance_text} >= {threshold:g}"
    else:
        verdict = f"{distance_text} < {threshold:g}"
        if result.method == PSI and distance >= PSI_MODERATE:
            verdict += f", a moderate shift (psi {PSI_MODERATE:g} or more)"
    return dataclasses.replace(
        result,
        drifted=drifted,
        status="drift" if drifted else "ok",
        reason=_join_reason(verdict, result.reason),
    )


def _join_reason(verdict: str, notes: str) -> str:
    return "; ".join(part for part in (verdict, notes) if part)


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
