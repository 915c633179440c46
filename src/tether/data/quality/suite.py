"""Suites of checks, the report of running one, and :func:`validate`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tether.data.quality.base import Check
from tether.data.quality.references import reference_cache
from tether.data.quality.results import CheckResult
from tether.errors import ConfigError, DataError, QualityCheckError, TetherError
from tether.output_files import write_text

logger = logging.getLogger(__name__)

DataQualityError = QualityCheckError
"""The error :func:`validate` raises with ``raise_on_error=True``; an alias of
:class:`~tether.errors.QualityCheckError`."""

_UNSAFE_PATH_CHARACTERS = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class Suite:
    """A named list of checks that :func:`validate` runs together.

    Build one in Python from the check helpers, or load it from YAML with
    :func:`~tether.data.quality.load_suite`.
    """

    name: str
    checks: Sequence[Check]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(
                f"a suite needs a non-empty name, got {self.name!r}",
                setting="name",
                value=self.name,
            )
        wrong = [item for item in self.checks if not isinstance(item, Check)]
        if wrong:
            raise ConfigError(
                f"suite {self.name!r} contains {wrong[0]!r}, which is not a Check; "
                "build checks with in_range, not_null, allowed_values and the "
                "other helpers in tether.data.quality",
                setting="checks",
                value=wrong[0],
            )

    def to_yaml(self, path: str | Path | None = None) -> str:
        """Return the suite as YAML text, and write it to ``path`` when given."""
        from tether.data.quality.yaml_suite import dump_suite

        return dump_suite(self, path)


@dataclass(frozen=True)
class QualityReport:
    """The results of one suite on one frame.

    Attributes:
        suite: The suite's name.
        rows: Rows in the checked frame.
        results: One result per check, in suite order.
        source: What was checked, such as a file path or a dataset URI.
        created_at: When the suite ran, as an ISO 8601 UTC time.
    """

    suite: str
    rows: int
    results: list[CheckResult]
    source: str = ""
    created_at: str = ""

    @property
    def ok(self) -> bool:
        """True when no check with severity ``"error"`` failed."""
        return not self.errors

    @property
    def passed(self) -> list[CheckResult]:
        """Checks that passed, in suite order."""
        return [result for result in self.results if result.passed]

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

    def counts(self) -> dict[str, int]:
        """Return the number of checks, passed, failed, errors and warnings."""
        return {
            "checks": len(self.results),
            "passed": len(self.passed),
            "failed": len(self.failures),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-safe dict."""
        return {
            "suite": self.suite,
            "source": self.source,
            "created_at": self.created_at,
            "rows": self.rows,
            "ok": self.ok,
            "counts": self.counts(),
            "results": [result.to_dict() for result in self.results],
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as indented JSON and return the path."""
        target = Path(path)
        text = json.dumps(self.to_dict(), allow_nan=False, indent=2, ensure_ascii=False)
        write_text(target, text + "\n")
        return target

    def to_html(self, path: str | Path) -> Path:
        """Write the report as one self-contained HTML page and return the path.

        The page has inline CSS and no script, image or link to another file.
        """
        from tether.data.quality.html import render_html

        target = Path(path)
        write_text(target, render_html(self))
        logger.info("wrote quality report %s", target)
        return target

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


def validate(
    frame: pd.DataFrame,
    suite: Suite | Sequence[Check],
    *,
    raise_on_error: bool = False,
    record: bool = True,
    source: str = "",
) -> QualityReport:
    """Run every check of a suite on a frame.

    Every check runs, also after others failed, so the report lists every
    failure at once. The built-in checks report a missing column or an
    unsuitable column type as a failed result instead of raising, and a
    ``TypeError`` or ``ValueError`` from any check also becomes a failed result.

    When a run is active and ``record`` is true, the report is stored as the
    run's artifact ``quality/<suite>.json`` and its counts as the metrics
    ``quality.<suite>.checks``, ``.passed``, ``.failed``, ``.errors`` and
    ``.warnings``.

    Args:
        frame: The data to check.
        suite: A :class:`Suite`, or a plain sequence of checks (reported as
            suite ``"checks"``).
        raise_on_error: Raise :class:`DataQualityError` when an error-severity
            check fails, after recording the report.
        record: Record the report in the active run, if there is one.
        source: What the frame is, such as a path or a dataset URI, for reports.

    Raises:
        DataError: ``frame`` is not a pandas DataFrame.
        DataQualityError: ``raise_on_error`` is true and an error-severity
            check failed. Its message lists every such check.
        NotFoundError: A distribution check names a dataset version that does
            not exist.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"validate needs a pandas DataFrame, got {type(frame).__name__}"
        )
    if not isinstance(suite, Suite):
        suite = Suite(name="checks", checks=list(suite))
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with reference_cache():
        results = [_evaluate(check, frame) for check in suite.checks]
    report = QualityReport(suite.name, len(frame), results, source, created)
    logger.info(
        "quality suite %r: %d checks on %d rows, %d errors, %d warnings",
        suite.name,
        len(results),
        len(frame),
        len(report.errors),
        len(report.warnings),
    )
    if record:
        record_in_active_run(report)
    if raise_on_error:
        report.raise_for_errors()
    return report


def record_in_active_run(report: QualityReport) -> bool:
    """Store the report and its counts in the active run; return False without one."""
    from tether.active import current

    run = current()
    if run is None:
        return False
    name = _UNSAFE_PATH_CHARACTERS.sub("_", report.suite).strip("._") or "suite"
    run.log_dict(report.to_dict(), f"quality/{name}.json")
    run.log_metrics(
        {
            f"quality.{name}.{key}": float(value)
            for key, value in report.counts().items()
        }
    )
    return True


def _evaluate(check: Check, frame: pd.DataFrame) -> CheckResult:
    try:
        return check.evaluate(frame)
    except (TypeError, ValueError) as error:
        if isinstance(error, TetherError):
            raise
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
