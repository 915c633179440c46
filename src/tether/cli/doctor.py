"""``tether doctor``: check the store and the artifact folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from tether.cli.render import console, table

if TYPE_CHECKING:
    from tether.doctor import Check


def doctor_command() -> None:
    """Check database integrity, the schema revision and every blob's digest."""
    from tether.artifacts import get_objects
    from tether.config import require_database, resolve
    from tether.doctor import missing_store, run_checks
    from tether.errors import NotFoundError
    from tether.store import get_store

    settings = resolve()
    require_database(settings, "doctor")
    path = missing_store(settings)
    if path is not None:
        raise NotFoundError(
            f"no store at {path}: there is nothing to check; set TETHER_HOME or "
            "TETHER_STORE to the store you want to check",
            kind="store",
            name=str(path),
        )
    checks = run_checks(get_store(settings), get_objects())
    rows = [(c.name, _result(c), c.detail) for c in checks]
    table("tether doctor", ["check", "result", "detail"], rows)
    problems = [problem for check in checks for problem in check.problems]
    for problem in problems:
        console.print(f"  [red]problem[/] {escape(problem)}")
    for warning in (warning for check in checks for warning in check.warnings):
        console.print(f"  [yellow]warning[/] {escape(warning)}")
    if problems:
        raise typer.Exit(1)


def _result(check: Check) -> str:
    if check.problems:
        return f"{len(check.problems)} problems"
    if check.warnings:
        return "ok, with warnings"
    return "ok"
