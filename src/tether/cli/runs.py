"""``tether runs``: list and inspect runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, print_json, table
from tether.errors import NotFoundError

if TYPE_CHECKING:
    from tether.store.records import RunRecord

app = typer.Typer(help="List and inspect runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Only runs of this experiment."
    ),
    filter_text: str = typer.Option(
        "",
        "--filter",
        "-f",
        help='Only runs that match this filter, e.g. "metrics.auc > 0.8"; '
        "see docs/search.md.",
    ),
    order_by: list[str] = typer.Option(
        [],
        "--order-by",
        "-o",
        help='Order key such as "metrics.auc DESC"; repeat for more keys. '
        "Default: newest first.",
    ),
    limit: int = typer.Option(50, min=1, help="Maximum number of runs to show."),
) -> None:
    """List runs, newest first unless --order-by sets another order."""
    from tether.store import get_store

    store = get_store()
    if experiment is not None and not store.experiment_exists(experiment):
        raise NotFoundError(
            f"experiment {experiment!r} not found; list runs without --experiment to see "
            "every experiment",
            kind="experiment",
            name=experiment,
        )
    records, _ = store.search_runs(
        experiments=None if experiment is None else [experiment],
        filter=filter_text,
        order_by=order_by,
        max_results=limit,
    )
    keys = _ordered_value_keys(order_by)
    rows = [
        (
            r.id,
            r.experiment,
            r.name,
            r.kind,
            r.status + (" (cached)" if r.cached_from else ""),
            r.start_time.strftime("%Y-%m-%d %H:%M:%S"),
            *(_value_of(r, kind, key) for kind, key in keys),
        )
        for r in records
    ]
    columns = ["id", "experiment", "name", "kind", "status", "started (UTC)"]
    table("runs", columns + [f"{kind}.{key}" for kind, key in keys], rows)


def _ordered_value_keys(order_by: list[str]) -> list[tuple[str, str]]:
    """Return the metric, param and tag keys of the order, to show as columns."""
    from tether.store.filters import parse_order_key

    keys = [parse_order_key(item).target for item in order_by]
    return [(k.kind, k.key) for k in keys if k.kind in ("metrics", "params", "tags")]


def _value_of(record: RunRecord, kind: str, key: str) -> Any:
    values: dict[str, Any] = getattr(record, kind)
    return values.get(key)


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
    # Names, errors and entry points are user text, so they are escaped
    # before they are printed with Rich markup around them.
    console.print(
        f"[bold]{escape(record.name)}[/] {record.id}  {record.kind}  {record.status}"
    )
    console.print(
        f"experiment {escape(record.experiment)}  parent {record.parent_id or '-'}"
    )
    console.print(
        f"commit {escape(str(git.get('commit') or '-'))}  dirty {git.get('dirty')}  "
        f"entry point {escape(str(record.source.get('entry_point')))}"
    )
    if record.error:
        console.print(f"[red]error[/] {escape(record.error)}")
    table("params", ["key", "value"], sorted(record.params.items()))
    table("metrics", ["key", "latest value"], sorted(record.metrics.items()))
    table("tags", ["key", "value"], sorted(record.tags.items()))
    table(
        "artifacts",
        ["path", "role", "digest", "size"],
        [(a.path, a.role, a.digest[:16], a.size) for a in artifacts],
    )


@app.command("logs")
def run_logs(
    run_id: str = typer.Argument(..., help="The run's id, e.g. a step run."),
    name: str | None = typer.Option(
        None,
        "--name",
        help="One log: stdout, stderr, logging, traceback or retries. Default: all.",
    ),
) -> None:
    """Print the logs a run stored: its output, log records, traceback and retries."""
    import sys

    from tether.artifacts import get_objects
    from tether.errors import NotFoundError
    from tether.store import get_store

    store = get_store()
    store.get_run(run_id)
    logs = {
        a.path.removeprefix("logs/").removesuffix(".txt"): a
        for a in store.list_artifacts(run_id)
        if a.role == "log"
    }
    if name is not None and name not in logs:
        raise NotFoundError(
            f"run {run_id} has no {name} log; it has: {', '.join(sorted(logs)) or 'none'}",
            kind="log",
            name=name,
        )
    objects = get_objects()
    for key in [name] if name is not None else sorted(logs):
        text = objects.read_bytes(logs[str(key)].digest).decode("utf-8", "replace")
        if name is None:
            sys.stdout.write(f"==> {logs[str(key)].path} <==\n")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command("delete")
def delete_run(
    run_id: str = typer.Argument(..., help="The run's id; its child runs go too."),
) -> None:
    """Mark a run and its child runs deleted; `tether gc` removes them for good."""
    from tether.config import current_user
    from tether.store import get_store

    ids = get_store().delete_run(run_id, actor=current_user())
    children = len(ids) - 1
    below = (
        f" and {children} run{'s' if children != 1 else ''} below it"
        if children
        else ""
    )
    console.print(
        escape(f"deleted run {run_id}{below}; run `tether gc` to free their storage")
    )
