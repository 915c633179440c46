"""``tether data check`` and ``tether data infer-checks``: quality suites from the shell.

The commands are added to the ``tether data`` group defined in tether.cli.data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tether.cli.data import app
from tether.cli.render import table

if TYPE_CHECKING:
    import pandas as pd

    from tether.data.quality import CheckResult, QualityReport

__all__ = ["app"]

EXIT_FAILED = 1
"""Exit code of ``tether data check`` when a check with severity error failed."""
EXIT_ERROR = 2
"""Exit code of an invalid suite, a missing file or dataset, or a bad option."""
LISTED_ROWS = 3
"""Example row labels listed per check in the terminal table."""


@app.command("check")
def check_command(
    data: str = typer.Argument(
        ...,
        help="A data file (CSV, zipped CSV, Parquet, JSON, JSON Lines), or a "
        "dataset version: datasets:/NAME@VERSION, or NAME for the latest.",
    ),
    suite: Path = typer.Option(
        ...,
        "--suite",
        "-s",
        help="The YAML suite to run.",
        exists=True,
        dir_okay=False,
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Write the report as a self-contained HTML page here."
    ),
    json_path: Path | None = typer.Option(
        None, "--json", help="Write the report as JSON here."
    ),
) -> None:
    """Run a quality suite on data and print one row per check.

    Exits with 1 when a check with severity error failed, 0 otherwise (failed
    warnings included), and 2 when the suite, the data or an option is invalid.
    """
    if (
        json_path is not None
        and html is not None
        and json_path.resolve() == html.resolve()
    ):
        raise typer.BadParameter(
            f"--json and --html both name {json_path}; give the reports different files"
        )
    with _usage_errors():
        from tether.data.quality import load_suite, validate

        checks = load_suite(suite)
        frame, source = _read_data(data)
        report = validate(frame, checks, source=source)
        if json_path is not None:
            report.to_json(json_path)
        if html is not None:
            report.to_html(html)
    _print_report(report)
    for label, path in (("JSON", json_path), ("HTML", html)):
        if path is not None:
            typer.echo(f"{label} report: {path}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command("infer-checks")
def infer_checks_command(
    data: str = typer.Argument(
        ...,
        help="The reference: datasets:/NAME@VERSION, NAME for the latest "
        "version, or a data file.",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write the suite to this YAML file instead of printing it.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Suite name; defaults to the dataset or file name."
    ),
    margin: float = typer.Option(
        0.1,
        "--margin",
        help="Widen each numeric range by this share of its span on each side.",
    ),
    row_margin: float = typer.Option(
        0.5,
        "--row-margin",
        help="Allow this share fewer or more rows than the reference has.",
    ),
    max_categories: int = typer.Option(
        20,
        "--max-categories",
        help="Declare allowed values for text columns with at most this many values.",
    ),
    distribution: bool = typer.Option(
        False,
        "--distribution",
        help="Add distribution checks (KS, TVD; severity warning) against the "
        "reference dataset version. Needs a dataset, not a file.",
    ),
) -> None:
    """Propose a quality suite from a reference dataset version or file.

    The suite passes on the reference. Review it before use: the bounds and
    allowed values describe the reference, not what the data may hold.
    """
    with _usage_errors():
        from tether.data.quality import infer_suite

        frame, source = _read_data(data)
        reference = None
        if distribution:
            reference = _dataset_uri(data, source)
        suite = infer_suite(
            frame,
            name=name or _default_name(source),
            margin=margin,
            row_margin=row_margin,
            max_categories=max_categories,
            reference=reference,
        )
        text = suite.to_yaml(output)
    if output is None:
        typer.echo(text, nl=False)
        return
    typer.echo(f"wrote {len(suite.checks)} checks inferred from {source} to {output}")


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Print a TetherError or OSError as one ``error:`` line and exit with 2."""
    from tether.errors import TetherError

    try:
        yield
    except TetherError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as error:
        target = f" {error.filename}" if error.filename else ""
        typer.echo(f"error: cannot access{target}: {error.strerror or error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _read_data(data: str) -> tuple[pd.DataFrame, str]:
    """Read a data file, or load a dataset version; return it with its name."""
    from tether.data.readers import MEDIA_TYPES, read_table

    path = Path(data)
    if not data.startswith("datasets:/") and (
        path.exists() or path.suffix.lower() in MEDIA_TYPES
    ):
        return read_table(path), str(path)
    from tether.data.versions import load, resolve

    record = resolve(data)
    return load(record), record.uri


def _dataset_uri(data: str, source: str) -> str:
    from shlex import quote

    from tether.errors import ConfigError

    if not source.startswith("datasets:/"):
        raise ConfigError(
            f"--distribution compares with a dataset version, but {data!r} is a "
            f"file; register it first with `tether data acquire NAME {quote(data)}`, "
            "then pass NAME or its datasets:/NAME@VERSION URI",
            setting="distribution",
            value=data,
        )
    return source


def _default_name(source: str) -> str:
    if source.startswith("datasets:/"):
        return source.removeprefix("datasets:/").split("@")[0]
    return Path(source).name.split(".")[0] or "inferred"


def _print_report(report: QualityReport) -> None:
    rows = [
        (
            _status(result),
            result.check,
            _failing(result),
            _example_labels(result),
            result.message,
        )
        for result in report.results
    ]
    table(
        f"quality suite {report.suite}",
        ["result", "check", "failing rows", "example rows", "message"],
        rows,
    )
    counts = report.counts()
    # Plain echo, so the line is never wrapped and scripts can match it.
    typer.echo(
        f"{report.suite}: {counts['checks']} checks on {report.rows} rows of "
        f"{report.source}: {counts['passed']} passed, {counts['errors']} errors, "
        f"{counts['warnings']} warnings"
    )


def _status(result: CheckResult) -> str:
    if result.passed:
        return "pass"
    return "FAIL" if result.severity == "error" else "warn"


def _failing(result: CheckResult) -> str:
    if not result.failing_rows:
        return ""
    return f"{result.failing_rows} of {result.total_rows}"


def _example_labels(result: CheckResult) -> str:
    labels = [str(example.get("_row")) for example in result.examples]
    text = ", ".join(labels[:LISTED_ROWS])
    if result.failing_rows > LISTED_ROWS:
        text += ", …"
    return text
