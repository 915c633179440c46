"""The outcome of one model test and of a whole suite, in the form the store keeps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ModelTestResult:
    """The outcome of one test of a suite.

    Attributes:
        value: The main measured number (the metric, the improvement over the
            champion, the worst slice, the share of changed predictions, ...),
            or None when it could not be measured.
        values: Every measured value, by name; slice tests list each slice.
        thresholds: The limits the test applied, by name.
        message: One line that states what was measured and why the test
            passed or failed.
        dataset: The data the test ran on: a dataset version URI, or a
            description of an in-memory frame.
    """

    name: str
    kind: str
    required: bool
    passed: bool
    value: float | None
    values: dict[str, Any]
    thresholds: dict[str, Any]
    message: str
    dataset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-compatible dict, the form the store keeps."""
        return {
            "name": self.name,
            "kind": self.kind,
            "required": self.required,
            "passed": self.passed,
            "value": json_safe(self.value),
            "values": json_safe(self.values),
            "thresholds": json_safe(self.thresholds),
            "message": self.message,
            "dataset": self.dataset,
        }


@dataclass(frozen=True)
class SuiteResult:
    """The outcome of running a suite on one model version.

    Attributes:
        uri: The tested version, as ``models:/NAME/VERSION``.
        suite: The suite's name, stored with the result.
        results: One result per test, in suite order.
        test_id: The id of the stored test result.
        created_at: When the result was stored.
    """

    uri: str
    suite: str
    results: list[ModelTestResult] = field(default_factory=list)
    test_id: str = ""
    created_at: datetime | None = None

    @property
    def passed(self) -> bool:
        """Whether every test passed."""
        return all(result.passed for result in self.results)

    @property
    def required_passed(self) -> bool:
        """Whether every required test passed; moving ``champion`` checks this."""
        return all(result.passed for result in self.results if result.required)

    @property
    def failed(self) -> list[ModelTestResult]:
        """The tests that failed, required or not."""
        return [result for result in self.results if not result.passed]

    def summary(self) -> str:
        """Return one line: how many tests passed and whether a required one failed."""
        passed = len(self.results) - len(self.failed)
        verdict = (
            "every required test passed"
            if self.required_passed
            else "a required test failed: "
            + ", ".join(r.name for r in self.failed if r.required)
        )
        return (
            f"suite {self.suite} on {self.uri}: {passed} of {len(self.results)} "
            f"tests passed; {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the suite result as a JSON-compatible dict."""
        return {
            "uri": self.uri,
            "suite": self.suite,
            "passed": self.passed,
            "required_passed": self.required_passed,
            "test_id": self.test_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "results": [result.to_dict() for result in self.results],
        }


def json_safe(value: Any) -> Any:
    """Convert numbers, lists and dicts to JSON-compatible values.

    NaN and infinities become None, because JSON (and PostgreSQL's JSON type)
    cannot hold them. Numpy scalars become Python numbers.
    """
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | str | bool):
        return value
    return str(value)
