"""Time splits: train is ``column < cutoff``, holdout is ``cutoff <= column < end``.

All timestamps are compared in UTC: a timezone-aware column or cutoff is
converted to UTC, and a naive one (no offset, such as ``"2013-10-01"``) is taken
to be UTC already. Rows whose time is null go to neither part.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

import numpy as np
import pandas as pd

from tether.data.profiles import column_type
from tether.data.splits.checks import require_column
from tether.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


def time_masks(
    frame: pd.DataFrame,
    column: str | None,
    cutoff: str | None,
    end: str | None,
    holdout: str = "test",
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Return the train and holdout row masks and the UTC cutoff and end."""
    if column is None:
        raise ConfigError(
            "a time split needs column=, the name of a datetime or ISO timestamp "
            "column",
            setting="column",
        )
    require_column(frame, column, "column")
    start, stop = _time_window(cutoff, end)
    times = _utc_times(frame, column)
    is_train = (times < start).to_numpy(dtype=bool)
    is_test = (times >= start).to_numpy(dtype=bool)
    if stop is not None:
        is_test = is_test & (times < stop).to_numpy(dtype=bool)
    _require_both_parts(times, column, is_train, is_test, cutoff, end, holdout)
    return (
        is_train,
        is_test,
        start.isoformat(),
        None if stop is None else stop.isoformat(),
    )


def _time_window(
    cutoff: str | None, end: str | None
) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """Parse the cutoff and optional end of a time split as UTC timestamps."""
    if cutoff is None:
        raise ConfigError(
            "a time split needs cutoff=, an ISO timestamp such as '2013-10-01'",
            setting="cutoff",
        )
    start = _parse_timestamp("cutoff", cutoff)
    stop = None if end is None else _parse_timestamp("end", end)
    if stop is not None and stop <= start:
        raise ConfigError(
            f"end {end!r} is not after cutoff {cutoff!r}; give an end later than "
            "the cutoff or drop it",
            setting="end",
            value=end,
        )
    return start, stop


def _utc_times(frame: pd.DataFrame, column: str) -> pd.Series:
    """Return the column as UTC timestamps, logging how many are null."""
    series = frame[column]
    kind = column_type(series)
    if kind == "datetime":
        times = _to_utc(series)
    elif kind == "string":
        times = _parse_iso_column(series, column)
    else:
        raise ConfigError(
            f"column {column!r} has type {kind} (dtype {series.dtype}); a time split "
            "needs a datetime column or ISO timestamp strings",
            setting="column",
            value=column,
        )
    nulls = int(times.isna().sum())
    if nulls == len(times):
        raise DataError(f"column {column!r} has no non-null time to split on")
    if nulls:
        logger.warning(
            "%d rows with a null %r go to neither part of the time split",
            nulls,
            column,
        )
    return times


def _to_utc(series: pd.Series) -> pd.Series:
    if series.dt.tz is None:
        return cast(pd.Series, series.dt.tz_localize("UTC"))
    return cast(pd.Series, series.dt.tz_convert("UTC"))


def _parse_iso_column(series: pd.Series, column: str) -> pd.Series:
    times = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    invalid = times.isna() & series.notna()
    if invalid.any():
        position = int(np.argmax(invalid.to_numpy(dtype=bool)))
        value, label = series.iloc[position], series.index[position]
        raise DataError(
            f"column {column!r} has {int(invalid.sum())} values that are not ISO "
            f"timestamps, such as {value!r} at row {label!r}; fix or drop "
            "them before splitting",
            source=column,
        )
    return times


def _parse_timestamp(setting: str, value: Any) -> pd.Timestamp:
    """Parse a cutoff or end as a UTC timestamp, taking naive values as UTC."""
    stamp = _read_timestamp(value)
    if stamp is None:
        raise ConfigError(
            f"{setting} {value!r} is not an ISO timestamp; use a form such as "
            "'2013-10-01' or '2013-10-01T00:00:00Z'",
            setting=setting,
            value=value,
        )
    if stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")


def _read_timestamp(value: Any) -> pd.Timestamp | None:
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    # An ISO timestamp starts with its year. The check rejects the words
    # "now" and "today", which pandas would accept and which never repeat.
    if not isinstance(value, str) or not value.strip()[:1].isdigit():
        return None
    try:
        stamp = pd.to_datetime(value, format="ISO8601")
    except ValueError:
        return None
    return None if pd.isna(stamp) else stamp


def _require_both_parts(
    times: pd.Series,
    column: str,
    is_train: np.ndarray,
    is_test: np.ndarray,
    cutoff: str | None,
    end: str | None,
    holdout: str,
) -> None:
    first, last = times.min().isoformat(), times.max().isoformat()
    spans = f"column {column!r} spans {first} to {last}"
    if not is_train.any():
        raise ConfigError(
            f"cutoff {cutoff!r} leaves the train part empty: {spans}; choose a "
            f"cutoff after {first}",
            setting="cutoff",
            value=cutoff,
        )
    if not is_test.any():
        if end is None:
            bounds = f"cutoff {cutoff!r} leaves"
        else:
            bounds = f"cutoff {cutoff!r} and end {end!r} leave"
        raise ConfigError(
            f"{bounds} the {holdout} part empty: {spans}; choose a {holdout} range "
            "that contains some of these times",
            setting="cutoff",
            value=cutoff,
        )
