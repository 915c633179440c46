"""The quality report as one self-contained HTML page.

The page has inline CSS and no script, image, font or link to another file,
so it opens offline and can be stored as a run artifact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, StrictUndefined

from tether.data.quality.results import MAX_EXAMPLES, CheckResult

if TYPE_CHECKING:
    from tether.data.quality.suite import QualityReport

TEMPLATE_PATH = Path(__file__).parent / "templates" / "quality_report.html.j2"
MAX_CELL_CHARS = 200
"""Longer values are cut in example tables and details, ending with "…"."""


def render_html(report: QualityReport) -> str:
    """Render ``report`` as a self-contained HTML page."""
    environment = Environment(
        autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
    )
    template = environment.from_string(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return template.render(**_context(report))


def _context(report: QualityReport) -> dict[str, Any]:
    anchors = {
        id(result): f"check-{index + 1}" for index, result in enumerate(report.results)
    }
    return {
        "suite": report.suite,
        "source": report.source,
        "rows": report.rows,
        "created_at": report.created_at,
        "ok": report.ok,
        "counts": report.counts(),
        "max_examples": MAX_EXAMPLES,
        "results": [
            _result_row(result, None if result.passed else anchors[id(result)])
            for result in report.results
        ],
        "failures": [
            _failure_view(result, anchors[id(result)]) for result in report.failures
        ],
    }


def _result_row(result: CheckResult, anchor: str | None) -> dict[str, Any]:
    if result.passed:
        status, css = "pass", "pass"
    else:
        status, css = "FAIL", result.severity
    failing = ""
    if result.failing_rows:
        failing = f"{result.failing_rows} of {result.total_rows}"
    return {
        "status": status,
        "css": css,
        "severity": result.severity,
        "check": result.check,
        "anchor": anchor,
        "failing": failing,
        "message": result.message,
        "description": result.description,
    }


def _failure_view(result: CheckResult, anchor: str) -> dict[str, Any]:
    columns = list(result.examples[0]) if result.examples else []
    checked = _checked_columns(result)
    rows = [
        [_cell(name, record.get(name), checked) for name in columns]
        for record in result.examples
    ]
    return {
        "anchor": anchor,
        "severity": result.severity,
        "check": result.check,
        "message": result.message,
        "description": result.description,
        "details": [
            (key.replace("_", " "), _text(value))
            for key, value in result.details.items()
        ],
        "example_columns": ["row" if name == "_row" else name for name in columns],
        "example_rows": rows,
    }


def _checked_columns(result: CheckResult) -> set[str]:
    if result.column is not None:
        return {result.column}
    return {str(name) for name in result.details.get("columns", [])}


def _cell(name: str, value: Any, checked: set[str]) -> dict[str, str]:
    if value is None:
        css = "hit" if name in checked else "null"
        return {"text": "null", "css": css}
    return {"text": _text(value), "css": "hit" if name in checked else ""}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_CELL_CHARS:
        return text[: MAX_CELL_CHARS - 1] + "…"
    return text
