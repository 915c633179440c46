"""The result of one check, its severity, and the failing rows it reports."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from tether.data.profiles import json_safe
from tether.errors import ConfigError

Severity = Literal["error", "warning"]
"""``"error"`` makes a failure stop a pipeline, ``"warning"`` only reports it."""

SeverityInput = Literal["error", "warning", "warn"]
"""The severities a declaration accepts: ``"warn"`` is read as ``"warning"``."""

MAX_EXAMPLES = 5
"""Failing rows kept per check as examples."""


def normalize_severity(value: object) -> Severity:
    """Return ``value`` as ``"error"`` or ``"warning"``, accepting ``"warn"``.

    Raises:
        ConfigError: ``value`` is not one of error, warning or warn.
    """
    if value == "error":
        return "error"
    if value in ("warning", "warn"):
        return "warning"
    raise ConfigError(
        f"severity must be 'error' or 'warning' (or 'warn'), got {value!r}",
        setting="severity",
        value=value,
    )


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one frame.

    ``failing_rows`` counts rows for row-level checks (range, not-null, allowed
    values, regex, unique, unseen categories). A table-level failure, such as a
    missing column, a wrong dtype, a row count out of bounds, a stale time
    column or a distribution statistic over its threshold, reports 0 failing
    rows. ``examples`` contains up to :data:`MAX_EXAMPLES` failing rows, each with
    ``"_row"`` (the row's index label) and every column. ``details`` contains the
    measured values behind the verdict, such as the statistic of a distribution
    check or the newest timestamp of a freshness check.
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
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-safe dict."""
        data = dataclasses.asdict(self)
        data["details"] = json_safe(self.details)
        return data

    def line(self) -> str:
        """Return a one-line text with name, message, description and an example."""
        text = f"{self.check}: {self.message}"
        if self.description:
            text += f" [{self.description}]"
        if self.examples:
            text += f"; example row: {json.dumps(self.examples[0], default=str)}"
        return text


def failing_examples(
    frame: pd.DataFrame, failing: np.ndarray, limit: int = MAX_EXAMPLES
) -> list[dict[str, Any]]:
    """Return up to ``limit`` failing rows as JSON-safe records.

    Each record starts with ``"_row"``, the row's index label, followed by
    every column (names converted to str).
    """
    positions = np.flatnonzero(failing)[:limit]
    return rows_as_records(frame, positions)


def rows_as_records(frame: pd.DataFrame, positions: np.ndarray) -> list[dict[str, Any]]:
    """Return the rows at ``positions`` as JSON-safe records with ``"_row"`` first."""
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
