"""``tether doctor``: check the store and the artifact folder."""

from __future__ import annotations

import typer

from tether.cli.render import console, table


def doctor_command() -> None:
    """Check database integrity, the schema revision and every blob's digest."""
    from tether.artifacts import get_objects
    from tether.doctor import run_checks
    from tether.store import get_store

    checks = run_checks(get_store(), get_objects())
    rows = [
        (c.name, "ok" if c.ok else f"{len(c.problems)} problems", c.detail)
        for c in checks
    ]
    table("tether doctor", ["check", "result", "detail"], rows)
    problems = [problem for check in checks for problem in check.problems]
    for problem in problems:
        console.print(f"  [red]problem[/] {problem}")
    if problems:
        raise typer.Exit(1)
