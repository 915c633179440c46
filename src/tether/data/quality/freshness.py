"""The freshness check: the newest timestamp of a column is recent enough."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tether.data.profiles import column_type
from tether.data.quality.base import ColumnCheck
from tether.data.quality.fields import require_text
from tether.data.quality.results import (
    CheckResult,
    SeverityInput,
    normalize_severity,
    rows_as_records,
)
from tether.errors import ConfigError

_UNITS = {
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
    "d": "days",
    "day": "days",
    "days": "days",
    "h": "hours",
    "hour": "hours",
    "hours": "hours",
    "m": "minutes",
    "min": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "s": "seconds",
    "sec": "seconds",
    "second": "seconds",
    "seconds": "seconds",
}
_DURATION = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[a-zA-Z]+)+\s*")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)")
DURATION_HINT = "a duration such as '36h', '2d', '1d 12h', '90min' or 'P2D' (ISO 8601)"


def parse_duration(value: Any) -> pd.Timedelta:
    """Parse ``'36h'``, ``'2d'``, ``'1w 2d'``, ``'90min'``, ISO ``'P2DT3H'`` or a timedelta.

    Units are w, d, h, m or min, and s, or their English words (``2 days``).

    Raises:
        ConfigError: ``value`` is not a duration, or it is negative.
    """
    if isinstance(value, dt.timedelta):
        duration = pd.Timedelta(value)
    elif isinstance(value, str) and value.strip().upper().startswith("P"):
        duration = _parse_iso(value)
    elif isinstance(value, str) and _DURATION.fullmatch(value):
        duration = _parse_units(value)
    else:
        raise ConfigError(
            f"invalid duration {value!r}; use {DURATION_HINT}", value=value
        )
    if duration < pd.Timedelta(0):
        raise ConfigError(
            f"invalid duration {value!r}: it is negative; use {DURATION_HINT}",
            value=value,
        )
    return duration


def _parse_iso(text: str) -> pd.Timedelta:
    try:
        return pd.Timedelta(text.strip())
    except ValueError as error:
        raise ConfigError(
            f"invalid duration {text!r}: {error}; use {DURATION_HINT}", value=text
        ) from error


def _parse_units(text: str) -> pd.Timedelta:
    parts: dict[str, float] = {}
    for amount, unit in _PART.findall(text):
        name = _UNITS.get(unit.lower())
        if name is None:
            raise ConfigError(
                f"invalid duration {text!r}: unknown unit {unit!r}; use {DURATION_HINT}",
                value=text,
            )
        parts[name] = parts.get(name, 0.0) + float(amount)
    return pd.Timedelta(dt.timedelta(**parts))


def parse_time(value: Any, timezone: str) -> pd.Timestamp:
    """Parse an ISO 8601 text or a datetime; a naive time is read in ``timezone``.

    Raises:
        ConfigError: ``value`` is not a time.
    """
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"invalid time {value!r}: {error}; use an ISO 8601 time such as "
            "'2014-01-01T00:00:00Z'",
            value=value,
        ) from error
    if pd.isna(moment):
        raise ConfigError(f"invalid time {value!r}: it is empty", value=value)
    if moment.tzinfo is None:
        return moment.tz_localize(timezone)
    return moment


@dataclass(frozen=True, kw_only=True)
class FreshnessCheck(ColumnCheck):
    """Fails when the newest timestamp of ``column`` is older than ``max_age``.

    Age is measured from ``now``: an ISO 8601 time, or None for the current
    time when the check runs. The column is a datetime column, or strings in
    ISO 8601. Naive timestamps, in the column or in ``now``, are read in
    ``timezone`` (UTC by default). Non-null strings that do not parse as ISO
    8601 count as failing rows and fail the check. Timestamps newer than
    ``now`` pass.
    """

    KIND: ClassVar[str] = "freshness"
    FIELDS: ClassVar[tuple[str, ...]] = ("column", "max_age", "now", "timezone")

    max_age: str | dt.timedelta
    now: str | dt.datetime | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        super().__post_init__()
        duration = _declared(parse_duration, self.max_age, "max_age")
        if not isinstance(self.max_age, str):
            object.__setattr__(self, "max_age", duration.isoformat())
        _validate_timezone(self.timezone)
        if self.now is not None:
            moment = _declared(parse_time, self.now, "now", self.timezone)
            if not isinstance(self.now, str):
                object.__setattr__(self, "now", moment.isoformat())

    @property
    def name(self) -> str:
        """A label such as ``freshness(time_hour, 2d)``."""
        return f"freshness({self.column}, {self.max_age})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        found = column_type(series)
        if found not in ("datetime", "string", "category", "other"):
            message = (
                f"{self.column}: type is {found} (dtype {series.dtype}), but a "
                "freshness check needs a datetime column or ISO 8601 strings"
            )
            return self._result(frame, passed=False, message=message)
        times, unparsed = self._timestamps(series)
        return self._freshness_result(frame, times, unparsed)

    def _timestamps(self, series: pd.Series) -> tuple[pd.Series, np.ndarray]:
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            times = series
            if times.dt.tz is None:
                times = times.dt.tz_localize(self.timezone)
            return times, np.zeros(len(series), bool)
        return _parse_texts(series, self.timezone)

    def _now(self) -> pd.Timestamp:
        if self.now is None:
            return pd.Timestamp.now(tz="UTC")
        return parse_time(self.now, self.timezone)

    def _freshness_result(
        self, frame: pd.DataFrame, times: pd.Series, unparsed: np.ndarray
    ) -> CheckResult:
        bad = int(unparsed.sum())
        if times.notna().sum() == 0:
            message = f"{self.column}: no timestamps in {len(times)} rows"
            if bad:
                message += f" ({bad} of them are not ISO 8601 times)"
            return self._result(frame, passed=False, message=message, failing=unparsed)

        max_age = parse_duration(self.max_age)
        now = self._now()
        position = _newest_position(times)
        newest = times.iloc[position]
        age = now - newest
        fresh = age <= max_age
        message = (
            f"{self.column}: newest {newest.isoformat()} is {_duration_text(age)} "
            f"before {now.isoformat()}, allowed {_duration_text(max_age)}"
        )
        if bad:
            message += f"; {bad} of {len(times)} rows are not ISO 8601 times"

        details = {
            "newest": newest.isoformat(),
            "newest_row": frame.index[position],
            "now": now.isoformat(),
            "age_seconds": age.total_seconds(),
            "max_age_seconds": max_age.total_seconds(),
        }
        examples = None
        if not fresh and not bad:
            examples = rows_as_records(frame, np.array([position]))
        return self._result(
            frame,
            passed=bool(fresh) and not bad,
            message=message,
            failing=unparsed,
            details=details,
            examples=examples,
        )


def _parse_texts(series: pd.Series, timezone: str) -> tuple[pd.Series, np.ndarray]:
    # Time columns repeat values, so each distinct text is parsed once.
    codes, uniques = pd.factorize(series)
    texts = pd.Index(uniques).astype(str)
    try:
        parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce")
        if parsed.tz is None:
            parsed = parsed.tz_localize(timezone)
    except ValueError:
        # Texts with different UTC offsets parse only as UTC.
        parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce", utc=True)
    values = parsed.take(codes, allow_fill=True, fill_value=pd.NaT)
    times = pd.Series(values, index=series.index)
    unparsed = (codes >= 0) & times.isna().to_numpy(dtype=bool)
    return times, unparsed


def _newest_position(times: pd.Series) -> int:
    # NaT is the smallest int64, so argmax skips it while any time is present.
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return int(np.argmax(np.asarray(naive).view("i8")))


def _duration_text(duration: pd.Timedelta) -> str:
    seconds = int(duration.total_seconds())
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(abs(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}min")
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return sign + " ".join(parts)


def _validate_timezone(timezone: Any) -> None:
    require_text("freshness", "timezone", timezone)
    try:
        pd.Timestamp("2000-01-01").tz_localize(timezone)
    except Exception as error:  # zoneinfo and pytz raise different types
        raise ConfigError(
            f"freshness: unknown time zone {timezone!r} ({error}); use an IANA "
            "name such as 'UTC' or 'America/New_York'",
            setting="timezone",
            value=timezone,
        ) from error


def _declared(parse: Any, value: Any, field: str, *args: Any) -> Any:
    try:
        return parse(value, *args)
    except ConfigError as error:
        raise ConfigError(
            f"freshness: {field}: {error}", setting=field, value=value
        ) from error


def freshness(
    column: str,
    max_age: str | dt.timedelta,
    *,
    now: str | dt.datetime | None = None,
    timezone: str = "UTC",
    severity: SeverityInput = "error",
    description: str = "",
) -> FreshnessCheck:
    """Declare that the newest timestamp of ``column`` is at most ``max_age`` old.

    Args:
        column: A datetime column, or strings in ISO 8601.
        max_age: A duration such as ``"36h"``, ``"2d"``, ``"P2D"`` or a timedelta.
        now: The time to measure the age from; None means the time of the run.
        timezone: The zone of naive timestamps in the column and in ``now``.
        severity: ``"error"`` or ``"warning"`` (``"warn"``).
        description: A note shown next to a failure.
    """
    return FreshnessCheck(
        column=column,
        max_age=max_age,
        now=now,
        timezone=timezone,
        severity=normalize_severity(severity),
        description=description,
    )
