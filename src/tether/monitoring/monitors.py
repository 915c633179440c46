"""Monitors: what to compare a model's logged predictions with, and how often.

A monitor names a registered model, a reference dataset version, the
feature columns and the window (hour, day or month of ``time_column``).
:func:`compute_monitor` reads the model's prediction log, cuts it into
windows, compares each with the reference (drift, prediction drift, and
performance where labels are known) and returns the report with each
window's named values (``tether.monitoring.window_values``). Storing the
values and acting on alerts is ``tether.automation.monitor_runs``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tether.errors import ConfigError, DataError
from tether.monitoring.windows import FREQUENCIES, by_count, by_time
from tether.uris import NAME_PATTERN

if TYPE_CHECKING:
    import pandas as pd

    from tether.monitoring.data_integrity import IntegrityReport
    from tether.monitoring.performance_estimation import Calibrator
    from tether.monitoring.report import MonitoringReport

logger = logging.getLogger(__name__)

DEFAULT_TIME_COLUMN = "logged_at"
DEFAULT_SCORE_COLUMN = "probability"
REFERENCE_SCHEMES = ("datasets:/", "runs:/", "models:/")


@dataclass(frozen=True)
class MonitorSpec:
    """The data a monitor compares, and its windows.

    Attributes:
        model: The registered model whose logged predictions are watched
            (every version, or ``version``).
        reference: The reference data: ``datasets:/NAME@VERSION``, or a
            stored reference profile (``runs:/RUN_ID/PATH``, or
            ``models:/NAME/VERSION`` for the profile attached to a version),
            whose samples stand in for the rows (see
            ``tether.monitoring.reference``).
        features: The feature columns to test for drift; default: the
            reference's columns that the logged predictions also have.
        categorical: Feature columns to test as categories.
        every: The window: ``hour``, ``day`` or ``month``.
        time_column: The column of the log that places a row in a window.
        score_column: The predicted probability, for prediction drift and
            performance; None to skip both.
        label_column: The true label's column once labels are joined.
        labels: Where labels come from: ``feedback`` (``POST /feedback``),
            a dataset URI joined on ``key``, or None.
        key: The column that joins a labels dataset to the log.
        version: One version of the model, or None for all.
        since: Only predictions logged at or after this time (ISO 8601,
            UTC when it has no offset), for example since a release.
        method: The drift method of the feature columns (see
            ``tether.monitoring.drift_detection.drift``).
        correction: The multiple-testing correction of each window.
        window_rows: Windows of this many rows, in time order, instead of
            one per ``every``.
        sensitive: Columns whose groups get fairness values per window.
        prediction_column: The logged predicted label, for fairness.
    """

    model: str
    reference: str
    features: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    every: str = "month"
    time_column: str = DEFAULT_TIME_COLUMN
    score_column: str | None = DEFAULT_SCORE_COLUMN
    label_column: str | None = "label"
    labels: str | None = "feedback"
    key: str | None = None
    version: int | None = None
    since: str | None = None
    method: str = "auto"
    correction: str = "bonferroni"
    window_rows: int | None = None
    sensitive: list[str] = field(default_factory=list)
    prediction_column: str = "prediction"

    def __post_init__(self) -> None:
        if not re.fullmatch(NAME_PATTERN, self.model):
            raise ConfigError(
                f"invalid model name {self.model!r}; give a registered model's name",
                setting="model",
                value=self.model,
            )
        if not self.reference.startswith(REFERENCE_SCHEMES):
            raise ConfigError(
                f"invalid reference {self.reference!r}; give a dataset version "
                "such as datasets:/flights-train@1, or a stored reference profile: "
                "runs:/RUN_ID/PATH or models:/NAME/VERSION",
                setting="reference",
                value=self.reference,
            )
        if self.every not in FREQUENCIES:
            raise ConfigError(
                f"invalid window {self.every!r}; use one of: {', '.join(FREQUENCIES)}",
                setting="every",
                value=self.every,
            )
        if self.since is not None:
            _check_since(self.since)
        if self.window_rows is not None and (
            isinstance(self.window_rows, bool)
            or not isinstance(self.window_rows, int)
            or self.window_rows < 1
        ):
            raise ConfigError(
                f"invalid window_rows {self.window_rows!r}; give a whole number of "
                "rows from 1, or leave it out for windows by time",
                setting="window_rows",
                value=str(self.window_rows),
            )
        from tether.monitoring.drift_detection import validate_method_options

        validate_method_options(self.method, self.correction)
        if self.labels not in (None, "feedback") and self.key is None:
            raise ConfigError(
                f"labels from {self.labels} need the column that joins them to "
                "the log; pass key=COLUMN (--key)",
                setting="key",
                value=self.labels,
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-compatible values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorSpec:
        """Build a spec from :meth:`to_dict` output."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass(frozen=True)
class ComputedMonitor:
    """A monitor's report over the logged predictions, and each window's values.

    Attributes:
        frames: Each window's logged rows, by window name.
        values: Each window's named values, by window name, in time order.
        bounds: Each window's start and end (UTC), by window name.
        integrity: Each window's data integrity report, by window name.
    """

    report: MonitoringReport
    frames: dict[str, pd.DataFrame]
    values: dict[str, dict[str, float | None]]
    bounds: dict[str, tuple[Any, Any]]
    integrity: dict[str, IntegrityReport] = field(default_factory=dict)


def compute_monitor(
    spec: MonitorSpec,
    logged: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    title: str = "Monitoring report",
) -> ComputedMonitor:
    """Compare each window of ``logged`` with ``reference``.

    Raises:
        DataError: The log is empty or lacks the time column.
    """
    from tether.monitoring.report import build_report
    from tether.monitoring.window_values import report_values

    if logged.empty:
        raise DataError(
            f"model {spec.model} has no logged predictions; serve it with "
            "prediction logging on and send requests first"
        )
    if spec.window_rows is not None:
        frames = by_count(logged, spec.time_column, spec.window_rows)
    else:
        frames = by_time(logged, spec.time_column, spec.every)
    _check_named_columns(spec, reference, logged)
    features = spec.features or _shared_features(spec, reference, logged)
    label = spec.label_column if _has_labels(logged, spec.label_column) else None
    score = spec.score_column if spec.score_column in logged.columns else None
    report = build_report(
        reference,
        frames,
        columns=features,
        categorical=[c for c in spec.categorical if c in features] or None,
        label_column=label,
        score_column=score,
        prediction_column=score,
        title=title,
        method=spec.method,
        correction=spec.correction,
    )
    values = report_values(report, frames)
    checks = _integrity(spec, reference, frames, features)
    for name, checked in checks.items():
        values[name].update(integrity_values(checked))
    _zero_missing_checks(values)
    if score is not None:
        _add_estimates(values, frames, score, _calibrator(spec, reference))
    for name, frame in frames.items():
        values[name].update(fairness_values(spec, frame, label))
    return ComputedMonitor(report, frames, values, _bounds(frames, spec), checks)


def _integrity(
    spec: MonitorSpec,
    reference: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    features: list[str],
) -> dict[str, IntegrityReport]:
    from tether.monitoring.data_integrity import integrity

    categorical = [c for c in spec.categorical if c in features] or None
    return {
        name: integrity(reference, frame, columns=features, categorical=categorical)
        for name, frame in frames.items()
    }


def _calibrator(spec: MonitorSpec, reference: pd.DataFrame) -> Calibrator | None:
    """Fit the score calibration on the reference, when it has labels and scores."""
    from tether.monitoring.performance_estimation import Calibrator

    label, score = spec.label_column, spec.score_column
    if label not in reference.columns or score not in reference.columns:
        return None
    try:
        return Calibrator.fit(reference[label], reference[score])
    except DataError as exc:
        logger.info("scores are not calibrated for the estimates: %s", exc)
        return None


def _add_estimates(
    values: dict[str, dict[str, float | None]],
    frames: dict[str, pd.DataFrame],
    score: str,
    calibrator: Calibrator | None,
) -> None:
    """Add ``estimated.METRIC`` values: performance expected from the scores alone."""
    from tether.monitoring.performance_estimation import estimate_performance

    for name, frame in frames.items():
        scores = _numeric(frame[score])
        estimates = estimate_performance(scores, calibrator=calibrator)
        for metric, value in estimates.items():
            values[name][f"estimated.{metric}"] = value
        values[name]["estimated.calibrated"] = float(calibrator is not None)


def _numeric(series: pd.Series) -> Any:
    """Return a column as floats, with values that are not numbers as NaN."""
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def fairness_values(
    spec: MonitorSpec, frame: pd.DataFrame, label: str | None
) -> dict[str, float | None]:
    """Return ``fairness.COLUMN.METRIC`` values of one window.

    The demographic parity difference and ratio need only the predictions;
    the equalized odds difference also needs labels, from the labelled rows.
    """
    from tether.models.fairness import fairness_metrics

    found: dict[str, float | None] = {}
    predicted = spec.prediction_column
    if predicted not in frame.columns or frame.empty:
        return found
    for column in spec.sensitive:
        if column not in frame.columns:
            continue
        try:
            parity = fairness_metrics(frame[predicted], frame[predicted], frame[column])
        except (DataError, ConfigError) as exc:
            logger.info("no fairness values for %s: %s", column, exc)
            continue
        found[f"fairness.{column}.demographic_parity_difference"] = (
            parity.demographic_parity_difference
        )
        found[f"fairness.{column}.demographic_parity_ratio"] = (
            parity.demographic_parity_ratio
        )
        if label is not None and frame[label].notna().any():
            rows = frame[frame[label].notna()]
            odds = fairness_metrics(rows[label], rows[predicted], rows[column])
            found[f"fairness.{column}.equalized_odds_difference"] = (
                odds.equalized_odds_difference
            )
    return found


def _zero_missing_checks(values: dict[str, dict[str, float | None]]) -> None:
    """Give every window a count of 0 for a check that found something elsewhere.

    A clean window must read 0, not lack the value, so an alert on a check
    resolves when the check stops finding anything.
    """
    checks = {
        key
        for window in values.values()
        for key in window
        if key.startswith("integrity.checks.")
    }
    for window in values.values():
        for key in checks:
            window.setdefault(key, 0.0)


def integrity_values(checked: IntegrityReport) -> dict[str, float | None]:
    """Return a window's integrity values: findings per severity and per check.

    ``integrity.error``, ``integrity.warning`` and ``integrity.info`` count
    the findings of each severity; ``integrity.checks.CHECK`` counts the
    findings of one check, such as ``null_rate`` or ``new_category``.
    """
    values: dict[str, float | None] = {
        f"integrity.{severity}": float(count)
        for severity, count in checked.summary.items()
    }
    for finding in checked.findings:
        key = f"integrity.checks.{finding.check}"
        values[key] = (values.get(key) or 0.0) + 1.0
    return values


def _check_since(since: str) -> None:
    import pandas as pd

    try:
        pd.Timestamp(since)
    except ValueError:
        raise ConfigError(
            f"invalid since {since!r}; give an ISO 8601 time such as 2013-07-01T00:00:00Z",
            setting="since",
            value=since,
        ) from None


def logged_since(logged: pd.DataFrame, since: str | None) -> pd.DataFrame:
    """Return the rows of the log written at or after ``since``."""
    import pandas as pd

    if since is None or logged.empty or "logged_at" not in logged.columns:
        return logged
    start = pd.Timestamp(since)
    start = (
        start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    )
    times = pd.to_datetime(logged["logged_at"], utc=True)
    return logged.loc[times >= start].reset_index(drop=True)


def reference_frame(reference: str) -> pd.DataFrame:
    """Return the rows of a dataset version, or the samples of a stored profile."""
    if reference.startswith("datasets:/"):
        from tether.data.versions import load

        return load(reference)
    from tether.monitoring.reference import load_reference

    return load_reference(reference).reference_frame()


def _check_named_columns(
    spec: MonitorSpec, reference: pd.DataFrame, logged: pd.DataFrame
) -> None:
    """Raise DataError for a named column that the reference or the log lacks.

    A misspelled feature would otherwise drop out of every test and silence
    the alerts on it.
    """
    named = {
        "features": spec.features,
        "categorical": spec.categorical,
        "sensitive": spec.sensitive,
    }
    for setting, columns in named.items():
        for frame, where in (
            (logged, "the logged predictions"),
            (reference, "the reference"),
        ):
            if setting == "sensitive" and frame is reference:
                continue
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise DataError(
                    f"{setting} {', '.join(repr(c) for c in missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not in {where} of "
                    f"monitor model {spec.model}; columns there: "
                    f"{', '.join(map(str, frame.columns))}"
                )


def _shared_features(
    spec: MonitorSpec, reference: pd.DataFrame, logged: pd.DataFrame
) -> list[str]:
    skipped = {spec.label_column, spec.score_column, spec.time_column, spec.key}
    shared = [
        str(c) for c in reference.columns if c in logged.columns and c not in skipped
    ]
    if not shared:
        raise DataError(
            f"the reference {spec.reference} and the logged predictions of "
            f"{spec.model} share no column; pass the feature columns with "
            "features=[...] (--features)"
        )
    return shared


def _has_labels(logged: pd.DataFrame, label: str | None) -> bool:
    return (
        label is not None
        and label in logged.columns
        and bool(logged[label].notna().any())
    )


def _span(frame: pd.DataFrame, column: str) -> tuple[Any, Any]:
    import pandas as pd

    times = pd.to_datetime(frame[column], utc=True, errors="coerce").dropna()
    if times.empty:
        return None, None
    return times.min().to_pydatetime(), times.max().to_pydatetime()


def _bounds(
    frames: dict[str, pd.DataFrame], spec: MonitorSpec
) -> dict[str, tuple[Any, Any]]:
    import pandas as pd

    if spec.window_rows is not None:
        return {name: _span(frame, spec.time_column) for name, frame in frames.items()}
    bounds = {}
    for name in frames:
        period = pd.Period(name, freq=FREQUENCIES[spec.every])
        bounds[name] = (
            period.start_time.tz_localize("UTC").to_pydatetime(),
            period.end_time.tz_localize("UTC").to_pydatetime(),
        )
    return bounds
