"""``tether reproduce``: re-run the pipeline behind a model version or run, and compare."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, print_json, table

if TYPE_CHECKING:
    from tether.reproduce.report import ModelComparison, Reproduction

FORMATS = ["text", "json"]
SHORT_DIGEST = 16


def reproduce_command(
    uri: str = typer.Argument(
        ...,
        help="models:/NAME/VERSION, models:/NAME@ALIAS, runs:/RUN_ID or a run id.",
    ),
    repository: Path | None = typer.Option(
        None,
        "--repo",
        help="A folder of the project's git repository. Default: the current folder.",
    ),
    keep: bool = typer.Option(
        False, "--keep", help="Keep the temporary worktree and print its folder."
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Re-run the pipeline behind a model version or run at its recorded code and data.

    The recorded commit is checked out in a temporary git worktree with the
    recorded uncommitted diff applied, and the pipeline runs again with the
    recorded arguments, the cache off and the dataset versions the original
    run read. The report compares metrics and models and lists the package,
    Python, data and code differences. Exits with 0 when every metric is
    identical, 1 otherwise.
    """
    from tether.reproduce import reproduce

    check_format(output, FORMATS)
    report = reproduce(uri, repository=repository, keep=keep)
    if output == "json":
        print_json(report.to_dict())
    else:
        render(report)
    if not report.identical:
        raise typer.Exit(1)


def render(report: Reproduction) -> None:
    """Print the report: what ran, the metrics, the models and the differences."""
    say(
        f"reproduced pipeline run {report.original_run} ({report.pipeline}) as "
        f"pipeline run {report.reproduction_run}, tagged "
        f"tether.reproduces={report.original_run}"
    )
    applied = (
        ", with the recorded uncommitted diff applied" if report.diff_applied else ""
    )
    say(f"code: commit {report.commit}{applied}")
    render_metrics(report)
    for model in report.models:
        say(model_line(model))
    render_differences(report)
    for pin in report.pins:
        say(
            f"pinned: datasets:/{pin.name} was read as datasets:/{pin.name}@"
            f"{pin.version}, the latest when the original run started (latest now: "
            f"@{pin.latest})"
        )
    if report.kept_checkout:
        say(f"kept the worktree at {report.kept_checkout}")


def render_metrics(report: Reproduction) -> None:
    """Print whether the metrics are identical, or a table of those that differ."""
    if report.identical:
        say(f"metrics: identical ({report.metrics_compared} compared)")
        return
    say(
        f"metrics: {len(report.metric_differences)} of {report.metrics_compared} differ"
    )
    rows = [
        (d.run, d.metric, value_text(d.original), value_text(d.reproduced))
        for d in report.metric_differences
    ]
    table("metrics that differ", ["run", "metric", "original", "reproduced"], rows)


def model_line(model: ModelComparison) -> str:
    """Describe how the original and the reproduced model version compare."""
    versions = f"{model.original_uri} and {model.reproduced_uri}"
    if model.status == "identical":
        return (
            f"model {model.name}: identical digest {model.original_digest} ({versions})"
        )
    if model.status == "same content":
        return (
            f"model {model.name}: identical content digest {model.original_content} "
            f"({versions}); the stored files differ only in the object ids skops "
            f"writes ({model.original_digest[:SHORT_DIGEST]} vs "
            f"{str(model.reproduced_digest)[:SHORT_DIGEST]})"
        )
    if model.status == "missing":
        return (
            f"model {model.name}: the re-run registered no version of it to compare "
            f"with {model.original_uri}"
        )
    return (
        f"model {model.name}: differs: {model.original_digest} ({model.original_uri}) "
        f"vs {model.reproduced_digest} ({model.reproduced_uri})"
    )


def render_differences(report: Reproduction) -> None:
    """Print the package, Python, data and code differences that can explain a change."""
    say("differences that can explain a change:")
    python = report.python
    if python is None:
        say("  python: same")
    else:
        say(f"  python: {python.original} -> {python.reproduced}")
    sections = (
        ("packages", report.packages, "same versions"),
        ("data", report.data, "same digests"),
        ("code", report.code, "same commit, diff and step code"),
    )
    for name, differences, same in sections:
        if not differences:
            say(f"  {name}: {same}")
            continue
        say(f"  {name}: {len(differences)} differ")
        rows = [
            (d.subject, value_text(d.original), value_text(d.reproduced))
            for d in differences
        ]
        table(name, ["what", "original", "reproduced"], rows)


def value_text(value: Any) -> str:
    """Return a value as the report prints it: floats in full, None as "none"."""
    if value is None:
        return "none"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict) and {"uri", "digest"} <= set(value):
        return f"{value['uri']} (digest {str(value['digest'])[:SHORT_DIGEST]})"
    return str(value)


def say(text: str) -> None:
    """Print one line without Rich markup or highlighting."""
    console.print(escape(text), highlight=False, soft_wrap=True)
