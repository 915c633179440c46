"""``tether models test`` and ``tether models suite``: run and attach model test suites."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, plural, print_json, table

if TYPE_CHECKING:
    from tether.models.testing import SuiteResult

EXIT_FAILED = 1
"""Exit code of ``tether models test`` when a required test failed."""


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `tether models` group."""
    app.command("test")(test_command)
    app.command("suite")(suite_command)


def test_command(
    uri: str = typer.Argument(
        ..., help="The version to test, e.g. models:/flight-delay/3."
    ),
    suite: str | None = typer.Option(
        None,
        "--suite",
        "-s",
        help="A YAML suite file, or MODULE:NAME of a Python suite. Default: the "
        "suite attached to the model with `tether models suite`.",
    ),
    data: str | None = typer.Option(
        None,
        "--data",
        help="A dataset version (datasets:/NAME@VERSION) that replaces the suite's "
        "dataset for tests that name none.",
    ),
    output_format: str = typer.Option(
        "table", "--format", help="Output format: table or json."
    ),
) -> None:
    """Run a test suite on a model version and store the result with it.

    Exits with 0 when every required test passed, 1 when a required test
    failed, and 2 when the suite, the data or an option is invalid.
    """
    from tether.models.testing import run_tests

    check_format(output_format, ("table", "json"))
    result = run_tests(uri, suite, data)
    if output_format == "json":
        print_json(result.to_dict())
    else:
        _print_result(result)
    if not result.required_passed:
        raise typer.Exit(code=EXIT_FAILED)


def suite_command(
    name: str = typer.Argument(..., help="The model's name."),
    source: str = typer.Argument(
        ..., help="A YAML suite file, or MODULE:NAME of a Python suite."
    ),
) -> None:
    """Attach a test suite to a model; `tether models test` runs it by default.

    The suite's datasets and columns are checked first. A YAML file is stored
    as its text; a Python suite is imported again at each run.
    """
    from tether.models.testing import attach_suite

    attached = attach_suite(name, source)
    console.print(
        escape(
            f"attached suite {attached.name!r} "
            f"({plural(len(attached.tests), 'test')}) to model {name!r}; run it with "
            f"`tether models test models:/{name}/VERSION`"
        )
    )


def _print_result(result: SuiteResult) -> None:
    rows = [
        (
            test.name,
            test.kind,
            "yes" if test.required else "no",
            "passed" if test.passed else "FAILED",
            test.value,
            _thresholds(test.thresholds),
            test.message,
        )
        for test in result.results
    ]
    columns = ["test", "kind", "required", "result", "value", "limits", "message"]
    table(f"{result.suite} on {result.uri}", columns, rows)
    colour = "green" if result.required_passed else "red"
    console.print(f"[{colour}]{escape(result.summary())}[/]")


def _thresholds(thresholds: dict[str, Any]) -> str:
    return ", ".join(
        f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in thresholds.items()
        if value is not None
    )
