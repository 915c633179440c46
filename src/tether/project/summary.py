"""The Markdown summary of a ``tether ci`` run, for ``--summary`` and GitHub's job summary."""

from __future__ import annotations

import os
from pathlib import Path

from tether.project.ci import FAILED, CiReport, StepResult

GITHUB_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
MAX_DETAIL_LINES = 50
"""Detail lines shown per step; the rest are counted, so a summary stays readable."""


def render_summary(report: CiReport) -> str:
    """Return the report as Markdown: a verdict, a table of steps, and their details."""
    verdict = "passed" if report.passed else "failed"
    source = report.source
    branch = f"`{source.branch}`" if source.branch else "unknown"
    commit = f", commit `{source.commit[:12]}`" if source.commit else ""
    released, reason = report.release
    lines = [
        f"## tether ci {verdict}",
        "",
        f"Branch {branch} ({source.origin}){commit}. "
        f"Release: {'yes' if released else 'no'}, {reason}.",
        "",
    ]
    if report.failed_steps:
        names = ", ".join(f"`{step.name}`" for step in report.failed_steps)
        lines += [f"**Failed step:** {names}", ""]
    lines += ["| step | result | detail |", "| --- | --- | --- |"]
    lines += [_row(step) for step in report.steps]
    for step in report.steps:
        if step.lines:
            lines += ["", *_details(step)]
    return "\n".join(lines) + "\n"


def write_summary(report: CiReport, path: str | Path | None) -> list[Path]:
    """Write the summary to ``path`` and append it to ``$GITHUB_STEP_SUMMARY`` when set.

    Returns:
        The files written to.
    """
    text = render_summary(report)
    written = []
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    github = os.environ.get(GITHUB_SUMMARY_ENV)
    if github:
        with Path(github).open("a", encoding="utf-8") as handle:
            handle.write(text)
        written.append(Path(github))
    return written


def _row(step: StepResult) -> str:
    result = f"**{step.status}**" if step.status == FAILED else step.status
    return f"| {_cell(step.name)} | {result} | {_cell(step.detail)} |"


def _details(step: StepResult) -> list[str]:
    shown = [f"- {_cell(line)}" for line in step.lines[:MAX_DETAIL_LINES]]
    hidden = len(step.lines) - len(shown)
    if hidden > 0:
        shown.append(f"- and {hidden} more")
    return [f"### {step.name}", "", *shown]


def _cell(text: str) -> str:
    """Return text that stays inside one Markdown table cell or list item."""
    return " ".join(text.split()).replace("|", "\\|")
