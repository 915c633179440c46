"""``tether monitor``: drift between two dataset versions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from tether.cli.render import console, table
from tether.output_files import write_text

app = typer.Typer(
    help="Compare data for drift and write reports.", no_args_is_help=True
)


@app.command("drift")
def drift_command(
    reference: str = typer.Argument(
        ..., help="Reference data: datasets:/NAME@VERSION."
    ),
    current: str = typer.Argument(..., help="Current data: datasets:/NAME@VERSION."),
    columns: str | None = typer.Option(
        None, help="Comma-separated columns to compare; default: all shared columns."
    ),
    html: Path | None = typer.Option(
        None, help="Write a self-contained HTML report here."
    ),
    json_path: Path | None = typer.Option(
        None, "--json", help="Write the result as JSON here."
    ),
    method: str = typer.Option(
        "auto",
        help="Method for every column: auto (KS for numeric, chi-squared for "
        "categorical columns), ks, chi2, psi, wasserstein or jensen_shannon.",
    ),
    correction: str = typer.Option(
        "bonferroni",
        help="Multiple-testing correction of the p-values: bonferroni, "
        "bh (Benjamini-Hochberg) or none.",
    ),
) -> None:
    """Test each column of CURRENT for drift against REFERENCE."""
    import json

    from tether.data.versions import load
    from tether.monitoring.drift_detection import drift, validate_method_options

    validate_method_options(method, correction)
    ref_frame, cur_frame = load(reference), load(current)
    selected = (
        [c.strip() for c in columns.split(",")]
        if columns
        else [c for c in ref_frame.columns if c in cur_frame.columns]
    )
    unshared = sorted(set(ref_frame.columns) ^ set(cur_frame.columns))
    if unshared and not columns:
        console.print(
            f"[yellow]note[/] not compared, in one data set only: "
            f"{escape(', '.join(map(str, unshared)))}"
        )
    report = drift(
        ref_frame, cur_frame, columns=selected, method=method, correction=correction
    )
    rows = [
        (
            c.column,
            c.method,
            c.statistic,
            c.p_value,
            c.adjusted_p_value,
            c.effect_size,
            c.threshold,
            c.status,
        )
        for c in report.columns
    ]
    table(
        f"drift of {current} against {reference}",
        [
            "column",
            "method",
            "statistic",
            "p-value",
            "adjusted p-value",
            "effect",
            "threshold",
            "status",
        ],
        rows,
    )
    console.print(f"drift share {report.share:.2f}; data set drifted: {report.drifted}")
    if html:
        console.print(f"HTML report: {report.to_html(html)}")
    if json_path:
        write_text(json_path, json.dumps(report.to_dict(), indent=2, allow_nan=False))
        console.print(f"JSON: {json_path}")
