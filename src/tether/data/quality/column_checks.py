"""Checks on the values of one column: type, range, nulls, allowed values, regex."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tether.data.profiles import TYPES, column_type, json_safe
from tether.data.quality.base import ColumnCheck
from tether.data.quality.fields import (
    require_text,
    validate_bounds,
    validate_share,
)
from tether.data.quality.messages import listing, seen_extremes, span
from tether.data.quality.results import (
    MAX_EXAMPLES,
    CheckResult,
    SeverityInput,
    normalize_severity,
)
from tether.errors import ConfigError

DTYPE_KINDS = (*TYPES, "number")
"""Kinds a :func:`dtype` check accepts: the :data:`~tether.data.profiles.TYPES`
vocabulary, plus ``"number"`` for integer or float."""

NUMERIC_TYPES = ("integer", "float")
TEXT_TYPES = ("string", "category", "other")
"""Column types a regex check reads. Non-str values in them fail the check."""


@dataclass(frozen=True, kw_only=True)
class DtypeCheck(ColumnCheck):
    """Fails when the column's type (as :func:`~tether.data.profiles.schema_of`
    names it) is not ``kind``; ``"number"`` accepts integer and float."""

    KIND: ClassVar[str] = "dtype"
    FIELDS: ClassVar[tuple[str, ...]] = ("column", "kind")

    kind: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind not in DTYPE_KINDS:
            raise ConfigError(
                f"dtype kind must be one of {', '.join(DTYPE_KINDS)}, "
                f"got {self.kind!r}",
                setting="kind",
                value=self.kind,
            )

    @property
    def name(self) -> str:
        """A label such as ``dtype(dep_time, float)``."""
        return f"dtype({self.column}, {self.kind})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        found = column_type(series)
        accepted = NUMERIC_TYPES if self.kind == "number" else (self.kind,)
        message = f"{self.column}: type is {found} (dtype {series.dtype})"
        details = {"type": found, "dtype": str(series.dtype)}
        if found in accepted:
            return self._result(frame, passed=True, message=message, details=details)
        message += f", expected {self.kind}"
        return self._result(frame, passed=False, message=message, details=details)


@dataclass(frozen=True, kw_only=True)
class RangeCheck(ColumnCheck):
    """Fails for rows whose value is below ``min`` or above ``max`` (both
    inclusive bounds). Nulls pass, and ±inf fails against a finite bound.

    An ``object`` column of mixed values is read as numbers where it can be,
    and its other non-null values fail as "not a number".
    """

    KIND: ClassVar[str] = "in_range"
    FIELDS: ClassVar[tuple[str, ...]] = ("column", "min", "max")

    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        validate_bounds("in_range", self.min, self.max)

    @property
    def name(self) -> str:
        """A label such as ``range(dep_delay, -60..1500)``."""
        return f"range({self.column}, {span(self.min, self.max)})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        found = column_type(series)
        if found not in (*NUMERIC_TYPES, "other"):
            message = (
                f"{self.column}: type is {found} (dtype {series.dtype}), "
                "but a range check needs an integer or float column"
            )
            return self._result(frame, passed=False, message=message)
        if found == "other":
            numbers = pd.to_numeric(series, errors="coerce")
            values = numbers.to_numpy(dtype="float64", na_value=np.nan)
            not_numbers = (numbers.isna() & series.notna()).to_numpy(dtype=bool)
        else:
            values = series.to_numpy(dtype="float64", na_value=np.nan)
            not_numbers = np.zeros(len(values), bool)
        return self._range_result(frame, values, not_numbers)

    def _range_result(
        self, frame: pd.DataFrame, values: np.ndarray, not_numbers: np.ndarray
    ) -> CheckResult:
        none = np.zeros(len(values), bool)
        below = values < self.min if self.min is not None else none
        above = values > self.max if self.max is not None else none
        failing = below | above | not_numbers
        message = (
            f"{self.column}: {int(failing.sum())} of {len(values)} rows outside "
            f"{span(self.min, self.max)}{seen_extremes(values, below, above)}"
        )
        if not_numbers.any():
            message += f", {int(not_numbers.sum())} of them not numbers"
        details = {
            "below": int(below.sum()),
            "above": int(above.sum()),
            "not_numbers": int(not_numbers.sum()),
        }
        return self._result(
            frame,
            passed=not failing.any(),
            message=message,
            failing=failing,
            details=details,
        )


@dataclass(frozen=True, kw_only=True)
class NotNullCheck(ColumnCheck):
    """Fails when the share of null rows exceeds ``max_share``.

    ``failing_rows`` counts every null row, also when their share is within
    ``max_share`` and the check passes.
    """

    KIND: ClassVar[str] = "not_null"
    FIELDS: ClassVar[tuple[str, ...]] = ("column", "max_share")

    max_share: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        validate_share("not_null", "max_share", self.max_share)

    @property
    def name(self) -> str:
        """A label such as ``not_null(dep_time)`` or ``not_null(dep_time, 0.05)``."""
        if self.max_share:
            return f"not_null({self.column}, max_share={self.max_share:g})"
        return f"not_null({self.column})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        nulls = series.isna().to_numpy(dtype=bool)
        count = int(nulls.sum())
        share = count / len(nulls) if len(nulls) else 0.0
        message = (
            f"{self.column}: {count} of {len(nulls)} rows are null "
            f"({share:.2%}, allowed {self.max_share * 100:g}%)"
        )
        return self._result(
            frame,
            passed=share <= self.max_share,
            message=message,
            failing=nulls,
            details={"null_share": share},
        )


@dataclass(frozen=True, kw_only=True)
class AllowedValuesCheck(ColumnCheck):
    """Fails for rows whose value is not in ``values``; nulls pass."""

    KIND: ClassVar[str] = "allowed_values"
    FIELDS: ClassVar[tuple[str, ...]] = ("column", "values")

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "values", _distinct_values(self.values))

    @property
    def name(self) -> str:
        """A label such as ``allowed_values(origin)``."""
        return f"allowed_values({self.column})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        failing = (~series.isin(self.values) & series.notna()).to_numpy(dtype=bool)
        allowed = listing(self.values)
        count = int(failing.sum())
        message = f"{self.column}: {count} of {len(series)} rows not in {{{allowed}}}"
        unexpected: list[Any] = []
        if count:
            unexpected = series[failing].drop_duplicates().head(MAX_EXAMPLES).tolist()
            listed = ", ".join(repr(json_safe(value)) for value in unexpected)
            message += f" (seen {listed})"
        return self._result(
            frame,
            passed=count == 0,
            message=message,
            failing=failing,
            details={"unexpected_values": unexpected},
        )


@dataclass(frozen=True, kw_only=True)
class RegexCheck(ColumnCheck):
    """Fails for rows whose value does not match ``pattern`` in full; nulls pass.

    The pattern uses Python :mod:`re` syntax and must match the whole value
    (:meth:`pandas.Series.str.fullmatch`). Pyarrow-backed string columns run it
    with pyarrow's RE2 engine, and pandas falls back to :mod:`re` for patterns
    that RE2 does not support, such as backreferences. In a column of mixed
    values, every non-null value that is not a str fails.
    """

    KIND: ClassVar[str] = "regex"
    FIELDS: ClassVar[tuple[str, ...]] = ("column", "pattern")

    pattern: str

    def __post_init__(self) -> None:
        super().__post_init__()
        compile_pattern(self.pattern)

    @property
    def name(self) -> str:
        """A label such as ``regex(tailnum, N[0-9A-Z]{1,5})``."""
        return f"regex({self.column}, {self.pattern})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        found = column_type(series)
        if found not in TEXT_TYPES:
            message = (
                f"{self.column}: type is {found} (dtype {series.dtype}), but a regex "
                "check needs a string column; convert the column to str first"
            )
            return self._result(frame, passed=False, message=message)
        present = series.notna().to_numpy(dtype=bool)
        matched = _fullmatch(series, self.pattern)
        not_text = present & ~matched.notna
        failing = present & ~matched.ok
        message = (
            f"{self.column}: {int(failing.sum())} of {len(series)} rows do not match "
            f"{self.pattern!r}"
        )
        if not_text.any():
            message += f", {int(not_text.sum())} of them not strings"
        return self._result(
            frame,
            passed=not failing.any(),
            message=message,
            failing=failing,
            details={"not_strings": int(not_text.sum())},
        )


@dataclass(frozen=True)
class _Matches:
    ok: np.ndarray
    """True where the value is a str that matches."""
    notna: np.ndarray
    """True where the value is a str (matching or not)."""


def _fullmatch(series: pd.Series, pattern: str) -> _Matches:
    try:
        result = series.str.fullmatch(pattern)
    except AttributeError:
        # The .str accessor rejects an object or category column without any str.
        none = np.zeros(len(series), bool)
        return _Matches(ok=none, notna=none)
    # Object columns give NaN for values that are not str, and nullable string
    # columns give NA for nulls; both count as "no match" here.
    ok = result.eq(True).fillna(False).to_numpy(dtype=bool)
    return _Matches(ok=ok, notna=result.notna().to_numpy(dtype=bool))


def compile_pattern(pattern: Any) -> re.Pattern[str]:
    """Compile a regex check's pattern, or raise ConfigError naming the problem."""
    require_text("regex", "pattern", pattern)
    try:
        return re.compile(pattern)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        raise ConfigError(
            f"regex: invalid regular expression {pattern!r}: {error.msg}{where}; "
            "fix the pattern (it must match the whole value, and YAML needs "
            "single quotes around a pattern with backslashes)",
            setting="pattern",
            value=pattern,
        ) from error


def _distinct_values(values: Any) -> tuple[Any, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigError(
            f"allowed_values: values must be a list of values, got {values!r}",
            setting="values",
            value=values,
        )
    try:
        return tuple(dict.fromkeys(values))
    except TypeError as error:
        raise ConfigError(
            f"allowed values must be hashable scalars such as str or int: {error}",
            setting="values",
        ) from error


def dtype(
    column: str,
    kind: str,
    *,
    severity: SeverityInput = "error",
    description: str = "",
) -> DtypeCheck:
    """Declare the type of a column.

    Args:
        column: The column name.
        kind: One of integer, float, number (integer or float), boolean,
            string, datetime, category, other, as
            :func:`~tether.data.profiles.schema_of` names types.
        severity: ``"error"`` or ``"warning"`` (``"warn"``).
        description: A note shown next to a failure.
    """
    return DtypeCheck(
        column=column,
        kind=kind,
        severity=normalize_severity(severity),
        description=description,
    )


def in_range(
    column: str,
    *,
    min: float | None = None,
    max: float | None = None,
    severity: SeverityInput = "error",
    description: str = "",
) -> RangeCheck:
    """Declare inclusive bounds for a numeric column; give ``min``, ``max`` or both.

    Nulls are not counted as failures, so pair this with :func:`not_null` where
    nulls are wrong too.
    """
    return RangeCheck(
        column=column,
        min=min,
        max=max,
        severity=normalize_severity(severity),
        description=description,
    )


def not_null(
    column: str,
    *,
    max_share: float = 0.0,
    severity: SeverityInput = "error",
    description: str = "",
) -> NotNullCheck:
    """Declare that at most ``max_share`` (0 to 1) of a column's rows are null."""
    return NotNullCheck(
        column=column,
        max_share=max_share,
        severity=normalize_severity(severity),
        description=description,
    )


def allowed_values(
    column: str,
    values: Iterable[Any],
    *,
    severity: SeverityInput = "error",
    description: str = "",
) -> AllowedValuesCheck:
    """Declare the set of values a column may hold; nulls are not failures."""
    return AllowedValuesCheck(
        column=column,
        values=tuple(_distinct_values(values)),
        severity=normalize_severity(severity),
        description=description,
    )


def regex(
    column: str,
    pattern: str,
    *,
    severity: SeverityInput = "error",
    description: str = "",
) -> RegexCheck:
    """Declare a regular expression that every non-null value matches in full.

    Raises:
        ConfigError: ``pattern`` is not a valid Python regular expression.
    """
    return RegexCheck(
        column=column,
        pattern=pattern,
        severity=normalize_severity(severity),
        description=description,
    )
