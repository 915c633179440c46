"""``tether import``: copy runs and models from other tools into the Tether store."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, plural, print_json, table

if TYPE_CHECKING:
    from tether.importers import ImportSummary

app = typer.Typer(
    help="Copy runs and models from other tools into the Tether store.",
    no_args_is_help=True,
)


@app.command("mlflow")
def mlflow_command(
    source: str = typer.Option(
        ...,
        "--from",
        help="MLflow's database: sqlite:///PATH or postgresql://USER@HOST/DB.",
    ),
    artifacts: str | None = typer.Option(
        None,
        "--artifacts",
        help="The folder that now contains MLflow's artifacts (./mlruns by default), "
        "when they moved or a tracking server served them.",
    ),
    experiments: list[str] = typer.Option(
        [],
        "--experiment",
        "-e",
        help="Copy only this experiment, and the model versions its runs made; "
        "repeat for more.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what would be copied, and write nothing."
    ),
    load_pickles: bool = typer.Option(
        False,
        "--load-pickles",
        help="Unpickle scikit-learn models that MLflow stored as pickles, which runs "
        "code from the files, to register them.",
    ),
    workspace: str = typer.Option(
        "default", "--workspace", help="The MLflow workspace to read (MLflow 3)."
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Copy MLflow's experiments, runs, artifacts and registered models.

    Running it again copies only what is new.
    """
    from tether.importers import import_mlflow

    check_format(output, ["text", "json"])
    summary = import_mlflow(
        source,
        artifacts=artifacts,
        experiments=experiments,
        dry_run=dry_run,
        load_pickles=load_pickles,
        workspace=workspace,
    )
    if output == "json":
        print_json(asdict(summary))
        return
    _print_summary(summary)


def _print_summary(summary: ImportSummary) -> None:
    """Print the counts, then the entries: all in a dry run, else those to look at."""
    listed = summary.entries if summary.dry_run else summary.attention()
    if listed:
        table(
            "would copy" if summary.dry_run else "not copied as they are",
            ["kind", "name", "MLflow id", "action", "detail"],
            [(e.kind, e.name, e.source_id, e.action, e.detail) for e in listed],
        )
    verb = "would copy" if summary.dry_run else "copied"
    console.print(
        f"{verb} {plural(summary.runs, 'run')} "
        f"({plural(summary.params, 'param')}, {plural(summary.tags, 'tag')}, "
        f"{plural(summary.metric_points, 'metric point')}, "
        f"{plural(summary.artifact_files, 'artifact file')} of "
        f"{summary.artifact_bytes} bytes), "
        f"{plural(summary.model_versions, 'model version')} and "
        f"{plural(summary.aliases, 'alias', 'aliases')} from {escape(summary.source)}",
        soft_wrap=True,
    )
    present = summary.count("run", "present")
    if present:
        console.print(f"{plural(present, 'run')} had been copied before")
    if summary.runs and summary.runs_without_artifacts == summary.runs:
        console.print(
            "no copied run had an artifact folder where MLflow recorded it; if the "
            "artifacts moved, import again with --artifacts DIR",
            soft_wrap=True,
        )
