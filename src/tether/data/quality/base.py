"""The base classes of declared checks."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tether.data.quality.fields import require_text
from tether.data.quality.messages import missing_message
from tether.data.quality.results import (
    CheckResult,
    Severity,
    failing_examples,
    normalize_severity,
)
from tether.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class Check(ABC):
    """Base of every declared check.

    A subclass that sets :attr:`KIND` and :attr:`FIELDS` can be written to and
    read from a YAML suite. A check written only in Python needs neither.

    Attributes:
        column: The column the check reads, or None for a table-level check.
        severity: ``"error"`` makes a failure stop a pipeline, ``"warning"``
            only reports it. ``"warn"`` is accepted and stored as ``"warning"``.
        description: A human note shown next to a failure, such as "cancelled
            flights have no departure time".
    """

    KIND: ClassVar[str] = ""
    """The check's name in a YAML suite, such as ``in_range``."""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    """The YAML fields of the check besides ``severity`` and ``description``."""

    column: str | None
    severity: Severity = "error"
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", normalize_severity(self.severity))
        if not isinstance(self.description, str):
            raise ConfigError(
                f"description must be a string, got {self.description!r}",
                setting="description",
                value=self.description,
            )

    @property
    @abstractmethod
    def name(self) -> str:
        """A short label for reports, such as ``range(dep_delay, -60..1500)``."""

    @abstractmethod
    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Run the check on a frame and return its result."""

    def spec(self) -> dict[str, Any]:
        """Return the check as a YAML mapping: ``check``, its fields, severity.

        Fields at their default value are left out.

        Raises:
            ConfigError: The check has no :attr:`KIND`, so YAML cannot name it.
        """
        if not self.KIND:
            raise ConfigError(
                f"check {self.name!r} ({type(self).__name__}) has no YAML form; "
                "only the built-in checks can be written to a YAML suite",
                value=self.name,
            )
        defaults = {item.name: item.default for item in _fields(self)}
        data: dict[str, Any] = {"check": self.KIND}
        for key in (*self.FIELDS, "severity", "description"):
            value = getattr(self, key)
            if key in defaults and value == defaults[key]:
                continue
            data[key] = list(value) if isinstance(value, tuple) else value
        return data

    def _result(
        self,
        frame: pd.DataFrame,
        *,
        passed: bool,
        message: str,
        failing: np.ndarray | None = None,
        details: dict[str, Any] | None = None,
        examples: list[dict[str, Any]] | None = None,
    ) -> CheckResult:
        if examples is None:
            examples = [] if failing is None else failing_examples(frame, failing)
        return CheckResult(
            check=self.name,
            column=self.column,
            severity=self.severity,
            passed=passed,
            failing_rows=0 if failing is None else int(failing.sum()),
            total_rows=len(frame),
            message=message,
            examples=examples,
            description=self.description,
            details=details or {},
        )

    def _missing_result(self, frame: pd.DataFrame, missing: list[str]) -> CheckResult:
        return self._result(
            frame,
            passed=False,
            message=missing_message(frame, missing),
            details={"missing_columns": missing},
        )


@dataclass(frozen=True, kw_only=True)
class ColumnCheck(Check):
    """A check on the values of one column; it fails when the column is missing."""

    column: str

    def __post_init__(self) -> None:
        super().__post_init__()
        require_text(self.KIND or type(self).__name__, "column", self.column)

    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        """Run the check on ``frame[column]``, or fail when the column is missing."""
        if self.column not in frame.columns:
            return self._missing_result(frame, [self.column])
        position = list(frame.columns).index(self.column)
        return self._evaluate_series(frame, frame.iloc[:, position])

    @abstractmethod
    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        """Evaluate the check on the column's values."""


def _fields(check: Check) -> list[Any]:
    return [item for item in dataclasses.fields(check) if item.init]
