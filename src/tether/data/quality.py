"""Declared data quality checks and the report of running them on a frame.

A check is a frozen dataclass built by one of the helpers (:func:`in_range`,
:func:`not_null`, ...). :func:`validate` runs a :class:`Suite` of checks and
returns a :class:`QualityReport`. A failed check with severity ``"error"``
makes the report not ``ok``, and :meth:`QualityReport.raise_for_errors` turns
that into a :class:`~tether.errors.QualityCheckError`. A failed ``"warning"``
check is only reported.

Every check is vectorised, so its cost does not include a Python loop over rows.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from tether.data.profiles import TYPES, column_type, json_safe
from tether.errors import ConfigError, DataError, QualityCheckError

logger = logging.getLogger(__name__)

Severity = Literal["error", "warning"]

DTYPE_KINDS = (*TYPES, "number")
"""Kinds a :func:`dtype` check accepts: the :data:`~tether.data.profiles.TYPES`
vocabulary, plus ``"number"`` for integer or float."""

MAX_EXAMPLES = 5
_MAX_LISTED = 25


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one frame.

    ``failing_rows`` counts rows for row-level checks (range, not-null, allowed
    values, unique). A table-level failure, such as a missing column, a wrong
    dtype or a row count out of bounds, reports 0 failing rows.
    """

    check: str
    column: str | None
    severity: Severity
    passed: bool
    failing_rows: int
    total_rows: int
    message: str
    examples: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-safe dict."""
        return dataclasses.asdict(self)

    def line(self) -> str:
        """Return a one-line text with name, message, description and an example."""
        text = f"{self.check}: {self.message}"
        if self.description:
            text += f" [{self.description}]"
        if self.examples:
            text += f"; example row: {json.dumps(self.examples[0], default=str)}"
        return text


@dataclass(frozen=True, kw_only=True)
class Check(ABC):
    """Base of every declared check.

    Attributes:
        column: The column the check reads, or None for a table-level check.
        severity: ``"error"`` makes a failure stop a pipeline, ``"warning"``
            only reports it.
        description: A human note shown next to a failure, such as "cancelled
            flights have no departure time".
    """

    column: str | None
    severity: Severity = "error"
    description: str = ""

    def __post_init__(self) -> None:
        if self.severity not in get_args(Severity):
            raise ConfigError(
                f"severity must be 'error' or 'warning', got {self.severity!r}",
                setting="severity",
                value=self.severity,
            )

    @property
    @abstractmethod
    def name(self) -> str:
        """A short label for reports, such as ``range(dep_delay, -60..1500)``."""

    @abstractmethod
    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Run the check on a frame and return its result."""

    def _result(
        self,
        frame: pd.DataFrame,
        *,
        passed: bool,
        message: str,
        failing: np.ndarray | None = None,
    ) -> CheckResult:
        return CheckResult(
            check=self.name,
            column=self.column,
            severity=self.severity,
            passed=passed,
            failing_rows=0 if failing is None else int(failing.sum()),
            total_rows=len(frame),
            message=message,
            examples=[] if failing is None else failing_examples(frame, failing),
            description=self.description,
        )

    def _missing_result(self, frame: pd.DataFrame, missing: list[str]) -> CheckResult:
        return self._result(
            frame, passed=False, message=_missing_message(frame, missing)
        )


@dataclass(frozen=True, kw_only=True)
class ColumnCheck(Check):
    """A check on the values of one column; it fails when the column is missing."""

    column: str

    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Run the check on ``frame[column]``, or fail when the column is missing."""
        if self.column not in frame.columns:
            return self._missing_result(frame, [self.column])
        position = list(frame.columns).index(self.column)
        return self._evaluate_series(frame, frame.iloc[:, position])

    @abstractmethod
    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        """Evaluate the check on the column's values."""


@dataclass(frozen=True, kw_only=True)
class ColumnsPresentCheck(Check):
    """Fails when any of ``columns`` is missing from the frame."""

    columns: tuple[str, ...]
    column: str | None = None

    @property
    def name(self) -> str:
        """A label such as ``columns_present(origin, dest)``."""
        return f"columns_present({', '.join(self.columns)})"

    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Fail with the missing and present column names when any is missing."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            return self._missing_result(frame, missing)
        message = f"all {len(self.columns)} columns present"
        return self._result(frame, passed=True, message=message)


@dataclass(frozen=True, kw_only=True)
class DtypeCheck(ColumnCheck):
    """Fails when the column's type (as :func:`~tether.data.profiles.schema_of`
    names it) is not ``kind``; ``"number"`` accepts integer and float."""

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
        accepted = ("integer", "float") if self.kind == "number" else (self.kind,)
        message = f"{self.column}: type is {found} (dtype {series.dtype})"
        if found in accepted:
            return self._result(frame, passed=True, message=message)
        message += f", expected {self.kind}"
        return self._result(frame, passed=False, message=message)


@dataclass(frozen=True, kw_only=True)
class RangeCheck(ColumnCheck):
    """Fails for rows whose value is below ``min`` or above ``max`` (both
    inclusive bounds). Nulls pass, and ±inf fails against a finite bound."""

    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate_bounds("in_range", self.min, self.max)

    @property
    def name(self) -> str:
        """A label such as ``range(dep_delay, -60..1500)``."""
        return f"range({self.column}, {_span(self.min, self.max)})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        found = column_type(series)
        if found not in ("integer", "float"):
            message = (
                f"{self.column}: type is {found} (dtype {series.dtype}), "
                "but a range check needs an integer or float column"
            )
            return self._result(frame, passed=False, message=message)
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        below = (
            values < self.min if self.min is not None else np.zeros(len(values), bool)
        )
        above = (
            values > self.max if self.max is not None else np.zeros(len(values), bool)
        )
        failing = below | above
        message = (
            f"{self.column}: {int(failing.sum())} of {len(values)} rows outside "
            f"{_span(self.min, self.max)}{_seen(values, below, above)}"
        )
        return self._result(
            frame, passed=not failing.any(), message=message, failing=failing
        )


@dataclass(frozen=True, kw_only=True)
class NotNullCheck(ColumnCheck):
    """Fails when the share of null rows exceeds ``max_share``.

    ``failing_rows`` counts every null row, also when their share is within
    ``max_share`` and the check passes.
    """

    max_share: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.max_share <= 1.0:
            raise ConfigError(
                f"max_share must be between 0 and 1, got {self.max_share!r}",
                setting="max_share",
                value=self.max_share,
            )

    @property
    def name(self) -> str:
        """A label such as ``not_null(dep_time)`` or ``not_null(dep_time, 0.05)``."""
        if self.max_share:
            return f"not_null({self.column}, max_share={self.max_share:g})"
        return f"not_null({self.column})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        nulls = series.isna().to_numpy()
        count = int(nulls.sum())
        share = count / len(nulls) if len(nulls) else 0.0
        message = (
            f"{self.column}: {count} of {len(nulls)} rows are null "
            f"({share:.2%}, allowed {self.max_share * 100:g}%)"
        )
        return self._result(
            frame, passed=share <= self.max_share, message=message, failing=nulls
        )


@dataclass(frozen=True, kw_only=True)
class AllowedValuesCheck(ColumnCheck):
    """Fails for rows whose value is not in ``values``; nulls pass."""

    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        """A label such as ``allowed_values(origin)``."""
        return f"allowed_values({self.column})"

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        failing = (~series.isin(self.values) & series.notna()).to_numpy(dtype=bool)
        allowed = _listing(self.values)
        count = int(failing.sum())
        message = f"{self.column}: {count} of {len(series)} rows not in {{{allowed}}}"
        if count:
            seen = series[failing].drop_duplicates().head(MAX_EXAMPLES).tolist()
            message += f" (seen {', '.join(repr(json_safe(v)) for v in seen)})"
        return self._result(frame, passed=count == 0, message=message, failing=failing)


@dataclass(frozen=True, kw_only=True)
class UniqueCheck(Check):
    """Fails for every row whose values in ``columns`` equal another row's.

    Nulls compare equal to each other, as in :meth:`pandas.DataFrame.duplicated`.
    """

    columns: tuple[str, ...]
    column: str | None = None

    @property
    def name(self) -> str:
        """A label such as ``unique(flight, time_hour)``."""
        return f"unique({', '.join(self.columns)})"

    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Fail for every row that shares its key with another row."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            return self._missing_result(frame, missing)
        subset = list(self.columns)
        failing = frame.duplicated(subset=subset, keep=False).to_numpy(dtype=bool)
        extra = int(frame.duplicated(subset=subset, keep="first").sum())
        count = int(failing.sum())
        message = (
            f"{', '.join(self.columns)}: {count} of {len(frame)} rows share their "
            f"values with another row ({count - extra} duplicated keys)"
        )
        return self._result(frame, passed=count == 0, message=message, failing=failing)


@dataclass(frozen=True, kw_only=True)
class RowCountCheck(Check):
    """Fails when the number of rows is below ``min`` or above ``max``."""

    min: int | None = None
    max: int | None = None
    column: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate_bounds("row_count", self.min, self.max)

    @property
    def name(self) -> str:
        """A label such as ``row_count(1000..)``."""
        return f"row_count({_span(self.min, self.max)})"

    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Compare ``len(frame)`` to the bounds."""
        rows = len(frame)
        too_few = self.min is not None and rows < self.min
        too_many = self.max is not None and rows > self.max
        message = f"{rows} rows, expected {_span(self.min, self.max)}"
        return self._result(frame, passed=not (too_few or too_many), message=message)


def columns_present(*columns: str, severity: Severity = "error") -> Check:
    """Declare that every one of ``columns`` exists in the frame."""
    if not columns:
        raise ConfigError("columns_present needs at least one column name")
    return ColumnsPresentCheck(columns=tuple(columns), severity=severity)


def dtype(column: str, kind: str, *, severity: Severity = "error") -> Check:
    """Declare the type of a column.

    Args:
        column: The column name.
        kind: One of integer, float, number (integer or float), boolean,
            string, datetime, category, other, as
            :func:`~tether.data.profiles.schema_of` names types.
        severity: ``"error"`` or ``"warning"``.
    """
    return DtypeCheck(column=column, kind=kind, severity=severity)


def in_range(
    column: str,
    *,
    min: float | None = None,
    max: float | None = None,
    severity: Severity = "error",
    description: str = "",
) -> Check:
    """Declare inclusive bounds for a numeric column; give ``min``, ``max`` or both.

    Nulls are not counted as failures, so pair this with :func:`not_null` where
    nulls are wrong too.
    """
    return RangeCheck(
        column=column, min=min, max=max, severity=severity, description=description
    )


def not_null(
    column: str,
    *,
    max_share: float = 0.0,
    severity: Severity = "error",
    description: str = "",
) -> Check:
    """Declare that at most ``max_share`` (0 to 1) of a column's rows are null."""
    return NotNullCheck(
        column=column, max_share=max_share, severity=severity, description=description
    )


def allowed_values(
    column: str,
    values: Iterable[Any],
    *,
    severity: Severity = "error",
    description: str = "",
) -> Check:
    """Declare the set of values a column may hold; nulls are not failures."""
    try:
        distinct = tuple(dict.fromkeys(values))
    except TypeError as error:
        raise ConfigError(
            f"allowed values must be hashable scalars such as str or int: {error}",
            setting="values",
        ) from error
    return AllowedValuesCheck(
        column=column, values=distinct, severity=severity, description=description
    )


def unique(*columns: str, severity: Severity = "error") -> Check:
    """Declare that the values of ``columns`` together identify each row."""
    if not columns:
        raise ConfigError("unique needs at least one column name")
    column = columns[0] if len(columns) == 1 else None
    return UniqueCheck(columns=tuple(columns), column=column, severity=severity)


def row_count(
    *,
    min: int | None = None,
    max: int | None = None,
    severity: Severity = "error",
) -> Check:
    """Declare inclusive bounds for the row count; give ``min``, ``max`` or both."""
    return RowCountCheck(min=min, max=max, severity=severity)


@dataclass(frozen=True)
class Suite:
    """A named list of checks that :func:`validate` runs together."""

    name: str
    checks: Sequence[Check]

    def __post_init__(self) -> None:
        wrong = [item for item in self.checks if not isinstance(item, Check)]
        if wrong:
            raise ConfigError(
                f"suite {self.name!r} contains {wrong[0]!r}, which is not a Check; "
                "build checks with in_range, not_null, allowed_values and the "
                "other helpers in tether.data.quality",
                setting="checks",
                value=wrong[0],
            )


@dataclass(frozen=True)
class QualityReport:
    """The results of one suite on one frame."""

    suite: str
    rows: int
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        """True when no check with severity ``"error"`` failed."""
        return not self.errors

    @property
    def failures(self) -> list[CheckResult]:
        """All failed checks, errors and warnings, in suite order."""
        return [result for result in self.results if not result.passed]

    @property
    def errors(self) -> list[CheckResult]:
        """Failed checks with severity ``"error"``."""
        return [result for result in self.failures if result.severity == "error"]

    @property
    def warnings(self) -> list[CheckResult]:
        """Failed checks with severity ``"warning"``."""
        return [result for result in self.failures if result.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-safe dict."""
        return {
            "suite": self.suite,
            "rows": self.rows,
            "ok": self.ok,
            "counts": {
                "checks": len(self.results),
                "failed": len(self.failures),
                "errors": len(self.errors),
                "warnings": len(self.warnings),
            },
            "results": [result.to_dict() for result in self.results],
        }

    def summary(self) -> str:
        """Return a header line plus one line per failed check.

        Each failure line contains the severity, check name, message, description
        and the first example row as JSON.
        """
        header = (
            f"suite {self.suite!r}: {len(self.results)} checks on {self.rows} rows, "
            f"{len(self.failures)} failed (errors: {len(self.errors)}, "
            f"warnings: {len(self.warnings)})"
        )
        lines = [
            f"{result.severity.upper()} {result.line()}" for result in self.failures
        ]
        return "\n".join([header, *lines])

    def raise_for_errors(self) -> None:
        """Raise QualityCheckError listing every failed ``"error"`` check.

        Raises:
            QualityCheckError: At least one error-severity check failed. The
                message has one line per such check with an example row, and
                the exception's ``report`` field is this report.
        """
        errors = self.errors
        if not errors:
            return
        lines = [f"- {result.line()}" for result in errors]
        message = (
            f"suite {self.suite!r} failed {len(errors)} of {len(self.results)} "
            f"checks with severity 'error' on {self.rows} rows; fix the data or "
            "the checks:\n" + "\n".join(lines)
        )
        raise QualityCheckError(message, report=self)


def validate(frame: pd.DataFrame, suite: Suite | Sequence[Check]) -> QualityReport:
    """Run every check of a suite on a frame.

    The built-in checks report a missing column or an unsuitable column type
    as a failed result instead of raising, and a ``TypeError`` from any check
    also becomes a failed result. Call :meth:`QualityReport.raise_for_errors`
    to stop on error-severity failures.

    Args:
        frame: The data to check.
        suite: A :class:`Suite`, or a plain sequence of checks (reported as
            suite ``"checks"``).

    Raises:
        DataError: ``frame`` is not a pandas DataFrame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"validate needs a pandas DataFrame, got {type(frame).__name__}"
        )
    if not isinstance(suite, Suite):
        suite = Suite(name="checks", checks=list(suite))
    results = [_evaluate(check, frame) for check in suite.checks]
    report = QualityReport(suite=suite.name, rows=len(frame), results=results)
    logger.info(
        "quality suite %r: %d checks on %d rows, %d errors, %d warnings",
        suite.name,
        len(results),
        len(frame),
        len(report.errors),
        len(report.warnings),
    )
    return report


def failing_examples(
    frame: pd.DataFrame, failing: np.ndarray, limit: int = MAX_EXAMPLES
) -> list[dict[str, Any]]:
    """Return up to ``limit`` failing rows as JSON-safe records.

    Each record starts with ``"_row"``, the row's index label, followed by
    every column (names converted to str).
    """
    positions = np.flatnonzero(failing)[:limit]
    if positions.size == 0:
        return []
    rows = frame.iloc[positions]
    names = [str(name) for name in frame.columns]
    values = [rows.iloc[:, index].tolist() for index in range(len(names))]
    records = []
    for offset, label in enumerate(rows.index):
        record: dict[str, Any] = {"_row": json_safe(label)}
        for name, column in zip(names, values, strict=True):
            if name != "_row":
                record[name] = json_safe(column[offset])
        records.append(record)
    return records


def _evaluate(check: Check, frame: pd.DataFrame) -> CheckResult:
    try:
        return check.evaluate(frame)
    except TypeError as error:
        # Unhashable or incomparable values (lists in an object column, say)
        # fail the check instead of aborting the whole suite.
        logger.warning("quality check %s could not run: %s", check.name, error)
        return CheckResult(
            check=check.name,
            column=check.column,
            severity=check.severity,
            passed=False,
            failing_rows=0,
            total_rows=len(frame),
            message=f"check could not run on these values: {error}",
            description=check.description,
        )


def _validate_bounds(helper: str, low: float | None, high: float | None) -> None:
    if low is None and high is None:
        raise ConfigError(f"{helper} needs min, max or both")
    for bound in (low, high):
        if bound is not None and not _is_number(bound):
            raise ConfigError(
                f"{helper} bounds must be numbers, got {bound!r}", value=bound
            )
    if low is not None and high is not None and low > high:
        raise ConfigError(
            f"{helper} min {low!r} is greater than max {high!r}; swap them",
            value=(low, high),
        )


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(value)


def _missing_message(frame: pd.DataFrame, missing: list[str]) -> str:
    names = [str(name) for name in frame.columns]
    present = _listing(names)
    if len(missing) == 1:
        close = difflib.get_close_matches(missing[0], names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"column {missing[0]!r} is missing{hint}; present columns: {present}"
    listed = ", ".join(repr(name) for name in missing)
    return f"columns {listed} are missing; present columns: {present}"


def _listing(values: Sequence[Any]) -> str:
    text = ", ".join(str(json_safe(value)) for value in values[:_MAX_LISTED])
    if len(values) > _MAX_LISTED:
        text += f", ... ({len(values) - _MAX_LISTED} more)"
    return text


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _span(low: float | None, high: float | None) -> str:
    return f"{_number(low)}..{_number(high)}"


def _seen(values: np.ndarray, below: np.ndarray, above: np.ndarray) -> str:
    seen = []
    if below.any():
        seen.append(f"min seen {_number(float(values[below].min()))}")
    if above.any():
        seen.append(f"max seen {_number(float(values[above].max()))}")
    return f" ({', '.join(seen)})" if seen else ""
