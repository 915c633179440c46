"""Train/test splits by time or at random, returned with the rule that made them.

A time split puts rows with ``column < cutoff`` in train and rows with
``cutoff <= column`` (and ``column < end`` when ``end`` is given) in test. All
timestamps are compared in UTC: a timezone-aware column or cutoff is converted
to UTC, and a naive one (no offset, such as ``"2013-10-01"``) is taken to be
UTC already. Rows whose time is null go to neither part.

A random split draws the test rows with :func:`numpy.random.default_rng`, so
the same seed on the same frame gives the same parts. Both parts keep the
original index and row order.

``split(frame, **rule.to_dict())`` repeats the split that produced ``rule``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from tether.data.profiles import column_type
from tether.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

SPLIT_KINDS = ("time", "random")


@dataclass(frozen=True)
class SplitRule:
    """The parameters of one split, enough to repeat it.

    Attributes:
        by: ``"time"`` or ``"random"``.
        column: The time column of a time split.
        cutoff: Start of the test part of a time split, as a UTC ISO timestamp.
        end: Optional end (exclusive) of the test part, as a UTC ISO timestamp.
        test_size: Share of rows drawn for test in a random split.
        seed: Seed of the random generator in a random split.
        stratify: Column whose value shares a random split keeps in both parts.
    """

    by: str
    column: str | None = None
    cutoff: str | None = None
    end: str | None = None
    test_size: float | None = None
    seed: int | None = None
    stratify: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as a JSON-safe dict whose keys are ``split`` arguments."""
        return dataclasses.asdict(self)


def split(
    frame: pd.DataFrame,
    *,
    by: str = "time",
    column: str | None = None,
    cutoff: str | None = None,
    end: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, SplitRule]:
    """Split a frame into train and test parts.

    Args:
        frame: The rows to split.
        by: ``"time"`` or ``"random"``.
        column: Time splits: a datetime column (naive or timezone-aware) or a
            column of ISO timestamp strings.
        cutoff: Time splits: ISO timestamp where test starts (train is
            ``column < cutoff``). Naive values are taken as UTC.
        end: Time splits: optional ISO timestamp where test stops (exclusive).
        test_size: Random splits: share of rows for test, between 0 and 1.
        seed: Random splits: seed for :func:`numpy.random.default_rng`.
        stratify: Random splits: column whose groups are each split by
            ``test_size`` (rounded half up per group). Nulls form one group.

    Returns:
        ``(train, test, rule)``.

    Raises:
        ConfigError: ``by`` is unknown, a column is missing or has the wrong
            type, ``cutoff`` or ``end`` does not parse, or ``test_size`` is not
            in (0, 1). Also raised when one part would be empty, and then the
            message names that part and, for time splits, the data's first and
            last timestamps.
        DataError: The frame has no rows, the time column has no non-null
            value, or a string in it is not an ISO timestamp.
    """
    if len(frame) == 0:
        raise DataError("cannot split a frame without rows")
    if by == "time":
        return _split_by_time(frame, column, cutoff, end)
    if by == "random":
        if cutoff is not None or end is not None:
            raise ConfigError(
                "cutoff and end apply to time splits only; drop them or use by='time'",
                setting="cutoff",
                value=cutoff if cutoff is not None else end,
            )
        return _split_at_random(frame, test_size, seed, stratify)
    raise ConfigError(
        f"unknown split by={by!r}; use one of {', '.join(SPLIT_KINDS)}",
        setting="by",
        value=by,
    )


def _split_by_time(
    frame: pd.DataFrame, column: str | None, cutoff: str | None, end: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, SplitRule]:
    if column is None:
        raise ConfigError(
            "a time split needs column=, the name of a datetime or ISO timestamp "
            "column",
            setting="column",
        )
    _require_column(frame, column, "column")
    start, stop = _time_window(cutoff, end)
    times = _utc_times(frame, column)
    is_train = (times < start).to_numpy(dtype=bool)
    is_test = (times >= start).to_numpy(dtype=bool)
    if stop is not None:
        is_test = is_test & (times < stop).to_numpy(dtype=bool)
    _require_both_parts(times, column, is_train, is_test, cutoff, end)
    rule = SplitRule(
        by="time",
        column=column,
        cutoff=start.isoformat(),
        end=None if stop is None else stop.isoformat(),
    )
    return _parts(frame, is_train, is_test, rule)


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
            f"{bounds} the test part empty: {spans}; choose a test range "
            "that contains some of these times",
            setting="cutoff",
            value=cutoff,
        )


def _split_at_random(
    frame: pd.DataFrame, test_size: float, seed: int, stratify: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, SplitRule]:
    _validate_random_options(test_size, seed)
    rng = np.random.default_rng(seed)
    if stratify is None:
        count = _round_half_up(len(frame) * test_size)
        test_positions = rng.permutation(len(frame))[:count]
    else:
        _require_column(frame, stratify, "stratify")
        codes, _ = pd.factorize(frame[stratify], use_na_sentinel=False)
        test_positions = _stratified_test_positions(codes, test_size, rng)
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[test_positions] = True
    for part, rows in (("test", is_test), ("train", ~is_test)):
        if not rows.any():
            raise ConfigError(
                f"test_size {test_size!r} leaves the {part} part of {len(frame)} rows "
                "empty; choose a test_size that keeps rows on both sides",
                setting="test_size",
                value=test_size,
            )
    rule = SplitRule(by="random", test_size=test_size, seed=seed, stratify=stratify)
    return _parts(frame, ~is_test, is_test, rule)


def _validate_random_options(test_size: Any, seed: Any) -> None:
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0.0 < float(test_size) < 1.0
    ):
        raise ConfigError(
            f"test_size must be a number between 0 and 1 (exclusive), got "
            f"{test_size!r}",
            setting="test_size",
            value=test_size,
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(
            f"a random split needs an integer seed so it can be repeated, got {seed!r}",
            setting="seed",
            value=seed,
        )


def _stratified_test_positions(
    codes: np.ndarray, test_size: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``test_size`` of each group's positions, rounded half up per group."""
    shuffled = rng.permutation(len(codes))
    # A stable sort by group keeps the shuffled order inside each group, so the
    # first `quota` rows of a group are a uniform sample of it.
    order = shuffled[np.argsort(codes[shuffled], kind="stable")]
    grouped = codes[order]
    sizes = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(len(codes)) - starts[grouped]
    quota = np.floor(sizes * test_size + 0.5).astype(np.int64)
    positions: np.ndarray = order[rank < quota[grouped]]
    return positions


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _require_column(frame: pd.DataFrame, column: str, setting: str) -> None:
    if column not in frame.columns:
        present = ", ".join(str(name) for name in frame.columns)
        label = "column" if setting == "column" else f"{setting} column"
        raise ConfigError(
            f"{label} {column!r} is missing from the frame; present columns: {present}",
            setting=setting,
            value=column,
        )


def _parts(
    frame: pd.DataFrame, is_train: np.ndarray, is_test: np.ndarray, rule: SplitRule
) -> tuple[pd.DataFrame, pd.DataFrame, SplitRule]:
    train = frame.iloc[np.flatnonzero(is_train)]
    test = frame.iloc[np.flatnonzero(is_test)]
    logger.info(
        "%s split: %d train rows, %d test rows (%s)",
        rule.by,
        len(train),
        len(test),
        rule.to_dict(),
    )
    return train, test, rule
