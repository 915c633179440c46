"""Checks on the whole table: columns present, unique keys, row count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from tether.data.quality.base import Check
from tether.data.quality.fields import require_names, validate_bounds
from tether.data.quality.messages import span
from tether.data.quality.results import CheckResult, SeverityInput, normalize_severity


@dataclass(frozen=True, kw_only=True)
class ColumnsPresentCheck(Check):
    """Fails when any of ``columns`` is missing from the frame."""

    KIND: ClassVar[str] = "columns_present"
    FIELDS: ClassVar[tuple[str, ...]] = ("columns",)

    columns: tuple[str, ...]
    column: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(
            self, "columns", require_names("columns_present", "columns", self.columns)
        )

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
class UniqueCheck(Check):
    """Fails for every row whose values in ``columns`` equal another row's.

    Nulls compare equal to each other, as in :meth:`pandas.DataFrame.duplicated`.
    ``column`` is set to the only column when there is one, else None.
    """

    KIND: ClassVar[str] = "unique"
    FIELDS: ClassVar[tuple[str, ...]] = ("columns",)

    columns: tuple[str, ...]
    column: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        columns = require_names("unique", "columns", self.columns)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "column", columns[0] if len(columns) == 1 else None)

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
        count = int(failing.sum())
        extra = 0
        if count:
            extra = int(frame.duplicated(subset=subset, keep="first").sum())
        keys = count - extra
        message = (
            f"{', '.join(self.columns)}: {count} of {len(frame)} rows share their "
            f"values with another row ({keys} duplicated keys)"
        )
        return self._result(
            frame,
            passed=count == 0,
            message=message,
            failing=failing,
            details={"columns": list(self.columns), "duplicated_keys": keys},
        )


@dataclass(frozen=True, kw_only=True)
class RowCountCheck(Check):
    """Fails when the number of rows is below ``min`` or above ``max``."""

    KIND: ClassVar[str] = "row_count"
    FIELDS: ClassVar[tuple[str, ...]] = ("min", "max")

    min: int | None = None
    max: int | None = None
    column: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        validate_bounds("row_count", self.min, self.max)

    @property
    def name(self) -> str:
        """A label such as ``row_count(1000..)``."""
        return f"row_count({span(self.min, self.max)})"

    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Compare ``len(frame)`` to the bounds."""
        rows = len(frame)
        too_few = self.min is not None and rows < self.min
        too_many = self.max is not None and rows > self.max
        message = f"{rows} rows, expected {span(self.min, self.max)}"
        return self._result(frame, passed=not (too_few or too_many), message=message)


def columns_present(
    *columns: str, severity: SeverityInput = "error", description: str = ""
) -> ColumnsPresentCheck:
    """Declare that every one of ``columns`` exists in the frame."""
    return ColumnsPresentCheck(
        columns=columns,
        severity=normalize_severity(severity),
        description=description,
    )


def unique(
    *columns: str, severity: SeverityInput = "error", description: str = ""
) -> UniqueCheck:
    """Declare that the values of ``columns`` together identify each row."""
    return UniqueCheck(
        columns=columns,
        severity=normalize_severity(severity),
        description=description,
    )


def row_count(
    *,
    min: int | None = None,
    max: int | None = None,
    severity: SeverityInput = "error",
    description: str = "",
) -> RowCountCheck:
    """Declare inclusive bounds for the row count; give ``min``, ``max`` or both."""
    return RowCountCheck(
        min=min,
        max=max,
        severity=normalize_severity(severity),
        description=description,
    )
