"""Monitoring report over consecutive windows of served data.

:func:`build_report` compares each window with the reference (feature drift,
prediction drift and, when labels are known, classifier performance) and
:class:`MonitoringReport` writes the result as one self-contained HTML page
(inline CSS and SVG, no script) or as JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from tether.errors import ConfigError, DataError
from tether.monitoring import svg
from tether.monitoring.drift_detection import (
    CATEGORICAL_EFFECT_METRIC,
    CATEGORICAL_MIN_EFFECT,
    DEFAULT_ALPHA,
    DEFAULT_SHARE_THRESHOLD,
    NUMERIC,
    NUMERIC_EFFECT_METRIC,
    NUMERIC_MIN_EFFECT,
    ColumnDrift,
    DriftReport,
    column_series,
    drift,
    json_safe,
    json_safe_dict,
    prepare_values,
    validate_drift_options,
)
from tether.monitoring.performance import classification_metrics
from tether.output_files import write_text

logger = logging.getLogger(__name__)

HISTOGRAM_BINS = 20
TOP_CATEGORIES = 10
OTHER_CATEGORIES = "(other)"
TAIL_QUANTILE = 0.005
"""Histogram range runs from this quantile to its complement, so outliers
fall into the edge bins instead of squeezing every other bin."""
LISTED_COLUMNS = 6
"""Drifted column names listed per overview row. Hovering lists them all."""
HEAT_LEVELS = (0.25, 0.5)
"""Effect sizes at which a drifted heat-map cell turns a darker shade."""
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEMPLATE_PATH = Path(__file__).parent / "templates" / "report.html.j2"
PERFORMANCE_COLUMNS = (
    ("roc_auc", "AUC"),
    ("log_loss", "log loss"),
    ("accuracy", "accuracy"),
    ("ece", "ECE"),
    ("positive_rate", "positive rate"),
)


@dataclass
class WindowResult:
    """Everything measured on one window.

    Attributes:
        name: Window name, for example ``"2013-07"``.
        drift: Feature drift against the reference.
        performance: :func:`classification_metrics` of the window, None when
            its labels or scores are unknown.
        rows: Rows in the window.
        prediction_drift: Drift of the model output column, None when no
            prediction or score column was given.
    """

    name: str
    drift: DriftReport
    performance: dict[str, float | None] | None
    rows: int
    prediction_drift: ColumnDrift | None = None


@dataclass(frozen=True)
class FeatureDistribution:
    """Binned reference and current values of one column in one window.

    Attributes:
        column: Column name.
        window: Window the current values come from.
        kind: ``"numeric"`` or ``"categorical"``.
        edges: Histogram bin edges for a numeric column, else empty.
        categories: Bar labels for a categorical column, else empty.
        reference: Share of reference values per bin or category.
        current: Share of current values per bin or category.
        effect_size: Effect size of the column in that window.
        effect_metric: Name of the effect size measure.
        is_datetime: Whether the edges are int64 nanoseconds since the epoch.
    """

    column: str
    window: str
    kind: str
    edges: list[float]
    categories: list[str]
    reference: list[float]
    current: list[float]
    effect_size: float | None
    effect_metric: str
    is_datetime: bool = False

    def to_svg(self) -> str:
        """Draw the two distributions as an inline SVG chart."""
        title = f"{self.column}: reference vs {self.window}"
        labels = ("reference", self.window)
        if self.kind == NUMERIC:
            tick_format = _format_date if self.is_datetime else None
            return svg.histogram_svg(
                self.edges,
                self.reference,
                self.current,
                title=title,
                tick_format=tick_format,
                labels=labels,
            )
        return self._categories_svg(title, labels)

    def _categories_svg(self, title: str, labels: tuple[str, str]) -> str:
        # The grouped rest would dwarf every bar, so it is written as text instead.
        names, reference, current = self.categories, self.reference, self.current
        footnote = ""
        if names and names[-1] == OTHER_CATEGORIES:
            footnote = (
                f"other categories: {reference[-1]:.1%} of reference, "
                f"{current[-1]:.1%} of {self.window}"
            )
            names, reference, current = names[:-1], reference[:-1], current[:-1]
        return svg.bar_chart_svg(
            names, reference, current, title=title, labels=labels, footnote=footnote
        )


@dataclass
class MonitoringReport:
    """Drift and performance of every window against one reference.

    Attributes:
        title: Report title.
        windows: One result per window, in the order given.
        summary: JSON-safe digest: per window drift share, drifted columns and
            performance, and overall the columns that drifted in any window.
        distributions: For each column that drifted in some window, its
            distribution in the window where its effect size was largest.
    """

    title: str
    windows: list[WindowResult]
    summary: dict[str, Any]
    distributions: list[FeatureDistribution] = field(default_factory=list)
    extra_sections: list[tuple[str, str]] = field(default_factory=list)
    """Sections added after the distributions: a title and HTML whose user
    strings the caller escaped, as ``tether.monitoring.monitor_report`` builds them."""

    def to_html(self, path: str | Path) -> Path:
        """Write the report as one self-contained HTML file and return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, render_html(self))
        logger.info("wrote monitoring report %s", target)
        return target

    def to_json(self, path: str | Path) -> Path:
        """Write the summary, every window's results and the distributions as JSON."""
        payload = {
            "title": self.title,
            "summary": self.summary,
            "windows": [_window_payload(window) for window in self.windows],
            "distributions": [vars(item) for item in self.distributions],
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(json_safe(payload), allow_nan=False, indent=2)
        write_text(target, text)
        return target


def build_report(
    reference: pd.DataFrame,
    windows: Mapping[str, pd.DataFrame],
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    prediction_column: str | None = None,
    label_column: str | None = None,
    score_column: str | None = None,
    reference_performance: dict[str, float | None] | None = None,
    title: str = "Monitoring report",
    alpha: float = DEFAULT_ALPHA,
    share_threshold: float = DEFAULT_SHARE_THRESHOLD,
    min_effect: float | None = None,
    reference_label: str = "reference",
    method: str = "auto",
    correction: str = "bonferroni",
) -> MonitoringReport:
    """Compare every window with the reference and collect the results.

    Args:
        reference: Data the model was trained on, the baseline of every window.
        windows: Current data per window name, in display order.
        columns: Features to check for drift. The default is every reference
            column other than the prediction, label and score columns.
        categorical: Columns to treat as categorical whatever their dtype.
        prediction_column: Model output whose drift is reported on its own
            as prediction drift.
        label_column: True label, 0/1, for performance.
        score_column: Predicted probability of class 1, for performance. It is
            also the prediction drift column when ``prediction_column`` is None.
        reference_performance: Metrics of the model on reference data, drawn
            as a guide line. None computes them from the reference when it has
            the label and score columns.
        title: Report title.
        alpha: Family-wise significance level per window (Bonferroni).
        share_threshold: Share of drifted features that marks a window drifted.
        min_effect: Minimum effect size for drift. None uses the defaults of
            :func:`tether.monitoring.drift_detection.drift`.
        reference_label: Name of the overview row that shows
            ``reference_performance``, e.g. the holdout the metrics came from.
        method: The drift method of every feature column, as
            :func:`tether.monitoring.drift_detection.drift` takes it.
        correction: The multiple-testing correction of each window.

    Returns:
        The report, to write with ``to_html`` or ``to_json``.

    Raises:
        DataError: A window's labels or scores are invalid.
        ConfigError: An option is out of range.
    """
    if not isinstance(reference, pd.DataFrame):
        raise DataError(
            f"reference must be a pandas DataFrame, got {type(reference).__name__}"
        )
    validate_drift_options(alpha, min_effect, share_threshold)
    categorical = [categorical] if isinstance(categorical, str) else categorical
    output_column = prediction_column or score_column
    features = _feature_columns(
        reference, columns, output_column, label_column, score_column
    )
    _check_categorical(categorical, [*features, *map(str, reference.columns)])
    roles = _Roles(features, output_column, label_column, score_column)
    options = _DriftOptions(
        list(categorical or []), alpha, share_threshold, min_effect, method, correction
    )
    results = [
        _measure_window(str(name), reference, frame, roles, options)
        for name, frame in windows.items()
    ]
    if reference_performance is None:
        reference_performance = _window_performance("reference", reference, roles)
    summary = summarize(
        title,
        results,
        reference_rows=len(reference),
        alpha=alpha,
        share_threshold=share_threshold,
        min_effect=min_effect,
        reference_performance=reference_performance,
    )
    summary["reference_label"] = reference_label
    frames = {str(name): frame for name, frame in windows.items()}
    distributions = _distributions(reference, frames, results)
    logger.info("built monitoring report %r over %d windows", title, len(results))
    return MonitoringReport(title, results, summary, distributions)


def report_from_drift(
    report: DriftReport, *, title: str = "Drift report", window: str = "current"
) -> MonitoringReport:
    """Wrap a single :class:`DriftReport` as a one-window monitoring report.

    The raw data is not available here, so the report has no distribution charts.
    """
    result = WindowResult(window, report, None, report.current_rows)
    summary = summarize(
        title,
        [result],
        reference_rows=report.reference_rows,
        alpha=report.alpha,
        share_threshold=report.share_threshold,
        min_effect=report.min_effect,
    )
    return MonitoringReport(title, [result], summary)


def _feature_columns(
    reference: pd.DataFrame, columns: Sequence[str] | None, *excluded: str | None
) -> list[str]:
    if columns is not None:
        return [str(name) for name in dict.fromkeys(columns)]
    skip = {name for name in excluded if name}
    return [str(name) for name in reference.columns if str(name) not in skip]


def _check_categorical(
    categorical: Sequence[str] | None, known: list[str | None]
) -> None:
    unknown = [name for name in categorical or [] if name not in known]
    if unknown:
        raise ConfigError(
            f"categorical names columns that are not in the reference: {unknown}. "
            "Check the spelling.",
            setting="categorical",
            value=unknown,
        )


@dataclass(frozen=True)
class _Roles:
    features: list[str]
    output_column: str | None
    label_column: str | None
    score_column: str | None


@dataclass(frozen=True)
class _DriftOptions:
    categorical: list[str]
    alpha: float
    share_threshold: float
    min_effect: float | None
    method: str = "auto"
    correction: str = "bonferroni"


def _measure_window(
    name: str,
    reference: pd.DataFrame,
    frame: pd.DataFrame,
    roles: _Roles,
    options: _DriftOptions,
) -> WindowResult:
    report = drift(
        reference,
        frame,
        columns=roles.features,
        categorical=[c for c in options.categorical if c in roles.features],
        alpha=options.alpha,
        min_effect=options.min_effect,
        share_threshold=options.share_threshold,
        method=options.method,
        correction=options.correction,
    )
    return WindowResult(
        name,
        report,
        _window_performance(name, frame, roles),
        len(frame),
        _prediction_drift(reference, frame, roles.output_column, options),
    )


def _prediction_drift(
    reference: pd.DataFrame,
    frame: pd.DataFrame,
    column: str | None,
    options: _DriftOptions,
) -> ColumnDrift | None:
    # Tested alone, so no Bonferroni correction and no share of its own.
    if column is None:
        return None
    report = drift(
        reference,
        frame,
        columns=[column],
        categorical=[column] if column in options.categorical else None,
        alpha=options.alpha,
        min_effect=options.min_effect,
        method=options.method,
    )
    return report.columns[0]


def _window_performance(
    name: str, frame: pd.DataFrame, roles: _Roles
) -> dict[str, float | None] | None:
    if not roles.label_column or not roles.score_column:
        return None
    labels = column_series(frame, roles.label_column)
    scores = column_series(frame, roles.score_column)
    if labels is None or scores is None or not labels.notna().any():
        return None
    try:
        return classification_metrics(labels, scores)
    except DataError as error:
        raise DataError(f"window {name!r}: {error}", source=name) from error


def summarize(
    title: str,
    windows: Sequence[WindowResult],
    *,
    reference_rows: int,
    alpha: float,
    share_threshold: float,
    min_effect: float | None = None,
    reference_performance: dict[str, float | None] | None = None,
) -> dict[str, Any]:
    """Return the JSON-safe digest stored as :attr:`MonitoringReport.summary`."""
    entries = [_window_summary(window, reference_performance) for window in windows]
    drift_windows: dict[str, list[str]] = {}
    for window in windows:
        for column in window.drift.drifted_columns:
            drift_windows.setdefault(column, []).append(window.name)
    order = _column_order(windows)
    return json_safe_dict(
        {
            "title": title,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reference_rows": reference_rows,
            "alpha": alpha,
            "share_threshold": share_threshold,
            "min_effect": min_effect,
            "columns": order,
            "reference_performance": reference_performance,
            "windows": entries,
            "drifted_columns": [column for column in order if column in drift_windows],
            "drift_windows": drift_windows,
            "windows_with_dataset_drift": [w.name for w in windows if w.drift.drifted],
            "prediction_drift": _prediction_summary(windows),
        }
    )


def _column_order(windows: Sequence[WindowResult]) -> list[str]:
    names: dict[str, None] = {}
    for window in windows:
        names.update(dict.fromkeys(result.column for result in window.drift.columns))
    return list(names)


def _window_summary(
    window: WindowResult, reference_performance: dict[str, float | None] | None
) -> dict[str, Any]:
    report = window.drift
    prediction = window.prediction_drift
    return {
        "name": window.name,
        "rows": window.rows,
        "drift_share": report.share,
        "dataset_drifted": report.drifted,
        "drifted_columns": report.drifted_columns,
        "tested_columns": len(report.tested_columns),
        "skipped_columns": [r.column for r in report.columns if r.status == "skipped"],
        "prediction_drifted": prediction.drifted if prediction else None,
        "performance": window.performance,
        "roc_auc_change": _auc_change(window.performance, reference_performance),
    }


def _auc_change(
    performance: dict[str, float | None] | None,
    reference: dict[str, float | None] | None,
) -> float | None:
    current_auc = (performance or {}).get("roc_auc")
    reference_auc = (reference or {}).get("roc_auc")
    if current_auc is None or reference_auc is None:
        return None
    return current_auc - reference_auc


def _prediction_summary(windows: Sequence[WindowResult]) -> dict[str, Any] | None:
    results = {w.name: w.prediction_drift for w in windows if w.prediction_drift}
    if not results:
        return None
    column = next(iter(results.values())).column
    return {
        "column": column,
        "drifted_windows": [name for name, result in results.items() if result.drifted],
        "windows": {name: result.to_dict() for name, result in results.items()},
    }


def _distributions(
    reference: pd.DataFrame,
    frames: Mapping[str, pd.DataFrame],
    results: list[WindowResult],
) -> list[FeatureDistribution]:
    worst: dict[str, tuple[str, ColumnDrift]] = {}
    for window in results:
        candidates = list(window.drift.columns)
        if window.prediction_drift is not None:
            candidates.append(window.prediction_drift)
        for result in candidates:
            if result.drifted and _larger_effect(result, worst.get(result.column)):
                worst[result.column] = (window.name, result)
    return [
        _distribution(
            column_series(reference, column),
            column_series(frames[name], column),
            name,
            result,
        )
        for column, (name, result) in worst.items()
    ]


def _larger_effect(result: ColumnDrift, best: tuple[str, ColumnDrift] | None) -> bool:
    if best is None:
        return True
    return (result.effect_size or 0.0) > (best[1].effect_size or 0.0)


def _distribution(
    reference: pd.Series | None,
    current: pd.Series | None,
    window: str,
    result: ColumnDrift,
) -> FeatureDistribution:
    ref = prepare_values(reference, result.kind).values
    cur = prepare_values(current, result.kind).values
    edges: list[float] = []
    categories: list[str] = []
    if result.kind == NUMERIC:
        edges, ref_shares, cur_shares = _histogram(ref, cur)
    else:
        categories, ref_shares, cur_shares = _top_categories(ref, cur)
    is_datetime = (
        result.kind == NUMERIC
        and reference is not None
        and pd.api.types.is_datetime64_any_dtype(reference.dtype)
    )
    return FeatureDistribution(
        column=result.column,
        window=window,
        kind=result.kind,
        edges=edges,
        categories=categories,
        reference=ref_shares,
        current=cur_shares,
        effect_size=result.effect_size,
        effect_metric=result.effect_metric,
        is_datetime=is_datetime,
    )


def _histogram(
    reference: np.ndarray, current: np.ndarray
) -> tuple[list[float], list[float], list[float]]:
    combined = np.concatenate([reference, current])
    # Binning values scaled into [-1, 1] cannot overflow, even near 1e308.
    magnitude = float(np.abs(combined).max()) or 1.0
    low, high = _histogram_range(combined / magnitude)
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    shares = [
        _shares(np.histogram(np.clip(side / magnitude, low, high), bins=edges)[0])
        for side in (reference, current)
    ]
    return [float(edge * magnitude) for edge in edges], shares[0], shares[1]


def _histogram_range(scaled: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(scaled, [TAIL_QUANTILE, 1.0 - TAIL_QUANTILE])
    if low == high:
        low, high = scaled.min(), scaled.max()
    if low == high:
        low, high = max(low - 0.5, -1.0), min(high + 0.5, 1.0)
    return float(low), float(high)


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(count) / total if total else 0.0 for count in counts]


def _top_categories(
    reference: np.ndarray, current: np.ndarray
) -> tuple[list[str], list[float], list[float]]:
    ref_share = pd.Series(reference).value_counts(normalize=True)
    cur_share = pd.Series(current).value_counts(normalize=True)
    table = pd.concat({"reference": ref_share, "current": cur_share}, axis=1).fillna(
        0.0
    )
    table = table.assign(total=table["reference"] + table["current"])
    table = table.sort_values("total", ascending=False, kind="stable")
    top, rest = table.iloc[:TOP_CATEGORIES], table.iloc[TOP_CATEGORIES:]
    names = [str(name) for name in top.index]
    ref_values = [float(value) for value in top["reference"]]
    cur_values = [float(value) for value in top["current"]]
    if len(rest):
        names.append(OTHER_CATEGORIES)
        ref_values.append(float(rest["reference"].sum()))
        cur_values.append(float(rest["current"].sum()))
    return names, ref_values, cur_values


def _window_payload(window: WindowResult) -> dict[str, Any]:
    prediction = window.prediction_drift
    return {
        "name": window.name,
        "rows": window.rows,
        "drift": window.drift.to_dict(),
        "performance": window.performance,
        "prediction_drift": prediction.to_dict() if prediction else None,
    }


def _format_date(nanoseconds: float) -> str:
    try:
        moment = UNIX_EPOCH + timedelta(microseconds=nanoseconds / 1000.0)
    except OverflowError:
        return f"{nanoseconds:.4g} ns"
    return moment.strftime("%Y-%m-%d")


def render_html(report: MonitoringReport) -> str:
    """Render ``report`` as a self-contained HTML page."""
    environment = Environment(
        autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
    )
    template = environment.from_string(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return template.render(**_html_context(report))


def _html_context(report: MonitoringReport) -> dict[str, Any]:
    summary = report.summary
    return {
        "title": report.title,
        "generated_at": summary.get("generated_at", ""),
        "reference_rows": summary.get("reference_rows", 0),
        "alpha": summary.get("alpha", DEFAULT_ALPHA),
        "share_threshold": summary.get("share_threshold", DEFAULT_SHARE_THRESHOLD),
        "numeric_metric": NUMERIC_EFFECT_METRIC,
        "categorical_metric": CATEGORICAL_EFFECT_METRIC,
        "numeric_min_effect": _min_effect(summary, NUMERIC_MIN_EFFECT),
        "categorical_min_effect": _min_effect(summary, CATEGORICAL_MIN_EFFECT),
        "performance_headers": [label for _, label in PERFORMANCE_COLUMNS],
        "overview": _overview_rows(report),
        "window_names": [window.name for window in report.windows],
        "heat_rows": _heat_rows(report),
        "prediction_rows": _prediction_rows(report),
        "trend_charts": [Markup(chart) for chart in _trend_charts(report)],
        "distributions": [_distribution_view(item) for item in report.distributions],
        "extra_sections": [
            {"title": title, "body": Markup(body)}
            for title, body in report.extra_sections
        ],
    }


def _min_effect(summary: dict[str, Any], default: float) -> float:
    value = summary.get("min_effect")
    return default if value is None else float(value)


def _overview_rows(report: MonitoringReport) -> list[dict[str, Any]]:
    rows = []
    reference_performance = report.summary.get("reference_performance")
    if reference_performance:
        rows.append(
            {
                "name": report.summary.get("reference_label", "reference"),
                "rows": _row_count(reference_performance.get("count"))
                or report.summary.get("reference_rows", ""),
                "share": "",
                "drifted": "",
                "drifted_count": "",
                "drifted_names": "",
                "drifted_short": "",
                "prediction": "",
                "metrics": _metric_cells(reference_performance),
            }
        )
    rows.extend(_window_overview(window) for window in report.windows)
    return rows


def _row_count(value: Any) -> int | None:
    """Return a metrics ``count`` as an integer row count, or None."""
    return int(value) if isinstance(value, (int, float)) and value == value else None


def _window_overview(window: WindowResult) -> dict[str, Any]:
    report = window.drift
    prediction = window.prediction_drift
    return {
        "name": window.name,
        "rows": window.rows,
        "share": f"{report.share:.0%}",
        "drifted": "yes" if report.drifted else "no",
        "drifted_count": _count_text(report),
        "drifted_names": ", ".join(report.drifted_columns),
        "drifted_short": _short_list(report.drifted_columns),
        "prediction": _status_text(prediction),
        "metrics": _metric_cells(window.performance),
    }


def _short_list(names: list[str]) -> str:
    listed = ", ".join(names[:LISTED_COLUMNS])
    hidden = len(names) - LISTED_COLUMNS
    return f"{listed} and {hidden} more" if hidden > 0 else listed


def _count_text(report: DriftReport) -> str:
    return f"{len(report.drifted_columns)} of {len(report.tested_columns)}"


def _status_text(result: ColumnDrift | None) -> str:
    if result is None:
        return "–"
    return {"drift": "drift", "ok": "ok"}.get(result.status, "skipped")


def _metric_cells(performance: dict[str, float | None] | None) -> list[str]:
    values = performance or {}
    return [_format_metric(values.get(key)) for key, _ in PERFORMANCE_COLUMNS]


def _format_metric(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _heat_rows(report: MonitoringReport) -> list[dict[str, Any]]:
    by_window = [
        {r.column: r for r in window.drift.columns} for window in report.windows
    ]
    rows = []
    for column in _column_order(report.windows):
        cells = [_heat_cell(results.get(column)) for results in by_window]
        rows.append({"column": column, "cells": cells})
    return rows


def _heat_cell(result: ColumnDrift | None) -> dict[str, str]:
    if result is None or result.status == "skipped" or result.effect_size is None:
        reason = result.reason if result else "not compared"
        return {"text": "–", "css": "skip", "tip": f"skipped: {reason}"}
    effect = f"{result.effect_metric}={result.effect_size:.3g}"
    tip = f"{result.test} p={_format_p(result.p_value)}, {effect}"
    if result.reason:
        tip += f"; {result.reason}"
    css = _heat_class(result.effect_size) if result.drifted else ""
    return {"text": f"{result.effect_size:.2f}", "css": css, "tip": tip}


def _heat_class(effect: float) -> str:
    level = sum(effect >= bound for bound in HEAT_LEVELS)
    return f"h{level + 1}"


def _format_p(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def _prediction_rows(report: MonitoringReport) -> list[dict[str, str]]:
    rows = []
    for window in report.windows:
        result = window.prediction_drift
        if result is None:
            continue
        effect = "–" if result.effect_size is None else f"{result.effect_size:.3f}"
        rows.append(
            {
                "window": window.name,
                "column": result.column,
                "status": result.status,
                "test": result.test,
                "p_value": _format_p(result.p_value),
                "effect": f"{effect} ({result.effect_metric})",
                "reason": result.reason,
            }
        )
    return rows


def _trend_charts(report: MonitoringReport) -> list[str]:
    if len(report.windows) < 2:
        return []
    names = [window.name for window in report.windows]
    share_threshold = report.summary.get("share_threshold", DEFAULT_SHARE_THRESHOLD)
    charts = [
        svg.line_chart_svg(
            names,
            {"drift share": [window.drift.share for window in report.windows]},
            title="Share of drifted features",
            y_range=(0.0, 1.0),
            guides={"threshold": share_threshold},
        )
    ]
    aucs = [(window.performance or {}).get("roc_auc") for window in report.windows]
    if any(value is not None for value in aucs):
        reference_auc = (report.summary.get("reference_performance") or {}).get(
            "roc_auc"
        )
        guides = {"reference": reference_auc} if reference_auc is not None else None
        charts.append(
            svg.line_chart_svg(names, {"AUC": aucs}, title="ROC AUC", guides=guides)
        )
    return charts


def _distribution_view(item: FeatureDistribution) -> dict[str, Any]:
    effect = "–" if item.effect_size is None else f"{item.effect_size:.3f}"
    return {
        "column": item.column,
        "window": item.window,
        "effect": f"{item.effect_metric} {effect}",
        "chart": Markup(item.to_svg()),
    }
