"""``tether runs``: list and inspect runs."""

from __future__ import annotations

import typer

from tether.cli.render import check_format, console, print_json, table

app = typer.Typer(help="List and inspect runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Only runs of this experiment."
    ),
    limit: int = typer.Option(50, help="Maximum number of runs to show."),
) -> None:
    """List runs, newest first."""
    from tether.store import get_store

    records = get_store().list_runs(experiment=experiment, limit=limit)
    rows = [
        (
            r.id,
            r.experiment,
            r.name,
            r.kind,
            r.status + (" (cached)" if r.cached_from else ""),
            r.start_time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        for r in records
    ]
    table("runs", ["id", "experiment", "name", "kind", "status", "started (UTC)"], rows)


@app.command("show")
def show_run(
    run_id: str = typer.Argument(..., help="The run's id."),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Show a run's params, metrics, tags, artifacts and source."""
    from dataclasses import asdict

    from tether.store import get_store

    check_format(output, ["text", "json"])
    store = get_store()
    record = store.get_run(run_id)
    artifacts = store.list_artifacts(run_id)
    if output == "json":
        print_json({"run": asdict(record), "artifacts": [asdict(a) for a in artifacts]})
        return
    git = record.source.get("git", {})
    console.print(f"[bold]{record.name}[/] {record.id}  {record.kind}  {record.status}")
    console.print(f"experiment {record.experiment}  parent {record.parent_id or '-'}")
    console.print(
        f"commit {git.get('commit') or '-'}  dirty {git.get('dirty')}  "
        f"entry point {record.source.get('entry_point')}"
    )
    if record.error:
        console.print(f"[red]error[/] {record.error}")
    table("params", ["key", "value"], sorted(record.params.items()))
    table("metrics", ["key", "latest value"], sorted(record.metrics.items()))
    table(
        "artifacts",
        ["path", "role", "digest", "size"],
        [(a.path, a.role, a.digest[:16], a.size) for a in artifacts],
    )
