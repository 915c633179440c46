"""Cut logged predictions into windows and monitor each against a reference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tether.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from tether.monitoring.report import MonitoringReport

FREQUENCIES = {"hour": "h", "day": "D", "month": "M"}


def by_time(
    frame: pd.DataFrame, column: str, every: str = "month"
) -> dict[str, pd.DataFrame]:
    """Split ``frame`` into windows of ``every`` (hour, day or month) on ``column``."""
    import pandas as pd

    if every not in FREQUENCIES:
        raise ConfigError(
            f"invalid window {every!r}; use one of: {', '.join(FREQUENCIES)}",
            setting="window",
            value=every,
        )
    if column not in frame.columns:
        raise DataError(
            f"window column {column!r} is not in the logged data; "
            f"columns: {', '.join(map(str, frame.columns))}"
        )
    times = pd.to_datetime(frame[column], utc=True, errors="coerce")
    periods = times.dt.tz_localize(None).dt.to_period(FREQUENCIES[every])
    windows = {}
    for period in sorted(periods.dropna().unique()):
        windows[str(period)] = frame.loc[periods == period]
    return windows


def by_count(frame: pd.DataFrame, column: str, rows: int) -> dict[str, pd.DataFrame]:
    """Split ``frame`` into windows of ``rows`` rows in the time order of ``column``.

    Rows without a time come last. Window names are the start time of the
    window's first row and its number, so they sort in time order. The last
    window may be smaller.
    """
    import pandas as pd

    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ConfigError(
            f"invalid window size {rows!r}; give a whole number of rows from 1",
            setting="window_rows",
            value=str(rows),
        )
    if column not in frame.columns:
        raise DataError(
            f"window column {column!r} is not in the logged data; "
            f"columns: {', '.join(map(str, frame.columns))}"
        )
    times = pd.to_datetime(frame[column], utc=True, errors="coerce")
    ordered = frame.assign(_time=times).sort_values(
        "_time", kind="stable", na_position="last"
    )
    windows = {}
    for number, start in enumerate(range(0, len(ordered), rows), start=1):
        chunk = ordered.iloc[start : start + rows]
        first = chunk["_time"].iloc[0]
        stamp = "no time" if pd.isna(first) else first.strftime("%Y-%m-%dT%H:%M:%SZ")
        windows[f"{stamp} #{number:05d}"] = chunk.drop(columns="_time")
    return windows


def join_labels(
    predictions: pd.DataFrame, labels: pd.DataFrame, *, key: str, label: str
) -> pd.DataFrame:
    """Attach ground truth to logged predictions by a key column (left join)."""
    for name, frame, column in (
        ("predictions", predictions, key),
        ("labels", labels, key),
        ("labels", labels, label),
    ):
        if column not in frame.columns:
            raise DataError(
                f"column {column!r} is missing from the {name}; cannot join ground truth"
            )
    truth = labels[[key, label]].drop_duplicates(subset=key, keep="last")
    return predictions.drop(columns=[label], errors="ignore").merge(
        truth, on=key, how="left"
    )


def monitor_predictions(
    reference: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    features: Sequence[str],
    time_column: str,
    every: str = "month",
    categorical: Sequence[str] | None = None,
    label_column: str | None = None,
    score_column: str | None = None,
    reference_performance: dict[str, Any] | None = None,
    reference_label: str = "reference",
    title: str = "Monitoring report",
) -> MonitoringReport:
    """Build a monitoring report of logged predictions, one window per period."""
    from tether.monitoring.report import build_report

    windows = by_time(predictions, time_column, every)
    if not windows:
        raise DataError(
            "no logged predictions to monitor; send requests to the served model first"
        )
    return build_report(
        reference,
        windows,
        columns=list(features),
        categorical=categorical,
        label_column=label_column,
        score_column=score_column,
        prediction_column=score_column,
        reference_performance=reference_performance,
        reference_label=reference_label,
        title=title,
    )
