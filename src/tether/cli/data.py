"""``tether data``: dataset versions in the catalog.

``list``, ``versions``, ``show``, ``diff``, ``tag`` and ``search`` are defined
here; other modules add their commands to the same group.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.render import (
    check_format,
    console,
    format_number,
    format_value,
    plural,
    print_json,
    table,
)

if TYPE_CHECKING:
    from tether.data.compare import DatasetDiff
    from tether.store.records import DatasetVersionRecord

app = typer.Typer(help="Register and inspect dataset versions.", no_args_is_help=True)

FORMATS = ["text", "json"]
FORMAT_HELP = "text or json."
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
DEFAULT_DIFF_COLUMNS = 10


@app.command("list")
def list_datasets(
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """List every dataset with its latest version."""
    from tether.store import get_store

    check_format(output, FORMATS)
    versions = get_store().list_dataset_versions()
    if output == "json":
        print_json([_summary(v) for v in versions])
        return
    rows = [
        (
            v.name,
            v.version,
            v.rows,
            v.size,
            v.digest[:16],
            _tags_text(v.tags),
            _created(v),
        )
        for v in versions
    ]
    table(
        "datasets",
        ["name", "latest", "rows", "bytes", "digest", "tags", "created (UTC)"],
        rows,
    )


@app.command("versions")
def list_versions(
    name: str = typer.Argument(..., help="The dataset's name."),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """List the versions of one dataset, newest first."""
    from tether.errors import NotFoundError
    from tether.store import get_store

    check_format(output, FORMATS)
    versions = get_store().list_dataset_versions(name)
    if not versions:
        raise NotFoundError(
            f"dataset {name!r} not found; list datasets with `tether data list`",
            kind="dataset",
            name=name,
        )
    if output == "json":
        print_json([_summary(v) for v in versions])
        return
    rows = [
        (
            v.version,
            v.rows,
            v.size,
            v.digest[:16],
            _tags_text(v.tags),
            v.run_id or "",
            _created(v),
        )
        for v in versions
    ]
    table(
        f"versions of {name}",
        ["version", "rows", "bytes", "digest", "tags", "run", "created (UTC)"],
        rows,
    )


@app.command("show")
def show_version(
    uri: str = typer.Argument(
        ..., help="datasets:/NAME@VERSION, or a name for the latest version."
    ),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Show a dataset version: digest, schema, profile, source, tags and creator run."""
    from tether.data.catalog import version_of

    check_format(output, FORMATS)
    record = version_of(uri)
    run = _run_summary(record.run_id)
    if output == "json":
        print_json(asdict(record) | {"uri": record.uri, "run": run})
        return
    rows = "" if record.rows is None else f"  {plural(record.rows, 'row')}"
    size = plural(record.size, "byte")
    console.print(f"[bold]{escape(record.uri)}[/]{rows}  {size}")
    facts = [
        ("digest", record.digest),
        ("media type", record.media_type),
        ("created", f"{_created(record)} UTC"),
        ("run", _run_text(record.run_id, run)),
        ("source", _source_text(record.source)),
        ("tags", _tags_text(record.tags) or "-"),
    ]
    for label, value in facts:
        console.print(f"[dim]{label:<11}[/]{escape(value)}")
    if record.schema:
        _print_profile(record)


@app.command("diff")
def diff_versions(
    a: str = typer.Argument(..., help="The first version: datasets:/NAME@VERSION."),
    b: str = typer.Argument(..., help="The second version: datasets:/NAME@VERSION."),
    top: int = typer.Option(
        DEFAULT_DIFF_COLUMNS,
        "--top",
        min=0,
        help="How many of the most shifted columns to print; 0 prints all.",
    ),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Compare two versions: schema, row count and the columns that shifted most.

    Columns are ranked by score, the larger of their distribution distance
    (Kolmogorov-Smirnov estimate for numbers and datetimes, total-variation
    distance of the top values otherwise) and the change in their share of
    nulls. Only the stored profiles are read, never the data.
    """
    from tether.data.compare import diff

    check_format(output, FORMATS)
    result = diff(a, b)
    if output == "json":
        print_json(result.to_dict())
        return
    _print_diff(result, top)


@app.command("tag")
def tag_version(
    uri: str = typer.Argument(
        ..., help="datasets:/NAME@VERSION, or a name for the latest version."
    ),
    assignments: list[str] | None = typer.Argument(
        None, help="Tags to set, as KEY=VALUE.", show_default=False
    ),
    remove: list[str] | None = typer.Option(
        None, "--remove", help="A tag key to remove; repeat for several."
    ),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Set or remove tags on a dataset version, then print its tags."""
    from tether.data.catalog import parse_tags, tag, untag, version_of

    check_format(output, FORMATS)
    if not assignments and not remove:
        raise typer.BadParameter(
            "give tags to set as KEY=VALUE or keys to remove with --remove KEY"
        )
    updates = parse_tags(assignments or [])
    record = version_of(uri)
    if remove:
        record = untag(record, *remove)
    if updates:
        record = tag(record, updates)
    if output == "json":
        print_json({"uri": record.uri, "tags": record.tags})
        return
    console.print(f"{escape(record.uri)}  {escape(_tags_text(record.tags) or '-')}")


@app.command("search")
def search_versions(
    pattern: str | None = typer.Argument(
        None, help="A dataset name pattern with * and ?, ignoring case."
    ),
    tags: list[str] | None = typer.Option(
        None,
        "--tag",
        help="KEY=VALUE, or KEY for any value; repeat to require several.",
    ),
    column: str | None = typer.Option(
        None, "--column", help="A column name pattern with * and ?, ignoring case."
    ),
    digest: str | None = typer.Option(
        None, "--digest", help="The start of the version's digest, in hex."
    ),
    created_after: str | None = typer.Option(
        None,
        "--created-after",
        help="An ISO date or time (UTC unless it has an offset), inclusive.",
    ),
    latest: bool = typer.Option(
        False, "--latest", help="Print only the newest matching version per dataset."
    ),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Find dataset versions by name, tag, column, digest prefix and creation time."""
    from tether.data.catalog import parse_tags, search

    check_format(output, FORMATS)
    found = search(
        pattern,
        tags=parse_tags(tags or [], value_required=False),
        column=column,
        digest=digest,
        created_after=created_after,
        latest=latest,
    )
    if output == "json":
        print_json([_summary(v) for v in found])
        return
    rows = [
        (v.uri, v.rows, v.digest[:16], _tags_text(v.tags), _created(v)) for v in found
    ]
    table(
        plural(len(found), "matching version"),
        ["version", "rows", "digest", "tags", "created (UTC)"],
        rows,
    )


def require_table(record: DatasetVersionRecord, command: str) -> None:
    """Reject a file-set version, for a command that reads rows.

    Raises:
        DataError: ``record`` is a set of files, so it has no rows.
    """
    from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
    from tether.errors import DataError

    if record.media_type == MANIFEST_MEDIA_TYPE:
        raise DataError(
            f"{record.uri} is a set of files, not a table, so `{command}` has no "
            "rows to read; pass a table version, one registered from a DataFrame "
            "or acquired from CSV, Parquet or JSON files",
            source=record.uri,
        )


# -- rendering helpers -------------------------------------------------------


def _summary(record: DatasetVersionRecord) -> dict[str, Any]:
    """Return a version without its profile, for the listing commands' JSON."""
    data = asdict(record)
    del data["profile"]
    return data | {"uri": record.uri}


def _created(record: DatasetVersionRecord) -> str:
    return record.created_at.strftime("%Y-%m-%d %H:%M")


def _tags_text(tags: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(tags.items()))


def _source_text(source: dict[str, Any]) -> str:
    """Return the source as ``key=value`` pairs, with lists shown by their length.

    A file set's source lists every file; ``--format json`` prints the list.
    """
    pairs = []
    for key, value in sorted(source.items()):
        if isinstance(value, list):
            value = f"[{plural(len(value), 'entry', 'entries')}]"
        pairs.append(f"{key}={value}")
    return ", ".join(pairs) or "-"


def _run_summary(run_id: str | None) -> dict[str, Any] | None:
    """Return the id, name, experiment and status of the run that made a version."""
    from tether.errors import NotFoundError
    from tether.store import get_store

    if run_id is None:
        return None
    try:
        run = get_store().get_run(run_id)
    except NotFoundError:
        return {"id": run_id, "name": None, "experiment": None, "status": None}
    return {
        "id": run.id,
        "name": run.name,
        "experiment": run.experiment,
        "status": run.status,
    }


def _run_text(run_id: str | None, run: dict[str, Any] | None) -> str:
    if run is None:
        return "-"
    if run["name"] is None:
        return f"{run_id} (not in this store)"
    return f"{run['id']} ({run['name']} in experiment {run['experiment']})"


def _print_profile(record: DatasetVersionRecord) -> None:
    columns = record.profile.get("columns", {})
    rows = []
    for entry in record.schema:
        summary = columns.get(str(entry["name"]), {})
        rows.append(
            (
                entry["name"],
                entry["type"],
                summary.get("nulls"),
                summary.get("distinct"),
                summary.get("min"),
                summary.get("max"),
                summary.get("mean"),
                summary.get("std"),
                _shape(summary),
            )
        )
    table(
        "schema and profile",
        ["column", "type", "nulls", "distinct", "min", "max", "mean", "std", "shape"],
        rows,
    )


def _shape(summary: dict[str, Any]) -> str:
    """Draw a histogram as block characters, or name the most frequent value."""
    histogram = summary.get("histogram")
    if histogram and histogram.get("counts"):
        counts = histogram["counts"]
        peak = max(counts) or 1
        last = len(SPARK_BLOCKS) - 1
        return "".join(
            SPARK_BLOCKS[round(count / peak * last)] if count else " "
            for count in counts
        )
    top = summary.get("top") or []
    if not top:
        return ""
    first = top[0]
    return f"top {format_value(first['value'])} ×{first['count']}"


def _print_diff(result: DatasetDiff, top: int) -> None:
    console.print(f"[bold]{escape(result.a)}[/] -> [bold]{escape(result.b)}[/]")
    same = "identical" if result.same_content else "different"
    console.print(f"content  {same} ({result.kind})")
    console.print(
        f"rows     {_change(result.rows_a, result.rows_b)}\n"
        f"bytes    {_change(result.size_a, result.size_b)}"
    )
    if result.kind == "files":
        for label, paths in (
            ("added", result.files_added),
            ("removed", result.files_removed),
            ("changed", result.files_changed),
        ):
            console.print(f"files {label}: {len(paths)}")
            for path in paths:
                console.print(f"  {escape(path)}")
        return
    _print_schema_changes(result)
    listed = result.columns if top == 0 else result.columns[:top]
    rows = [
        (
            shift.name,
            shift.type_b
            if shift.type_a == shift.type_b
            else f"{shift.type_a} -> {shift.type_b}",
            shift.measure,
            shift.distance,
            shift.null_share_change,
            shift.mean_change,
            shift.score,
        )
        for shift in listed
    ]
    table(
        f"columns by shift ({len(listed)} of {len(result.columns)})",
        [
            "column",
            "type",
            "measure",
            "distance",
            "null share change",
            "mean change (sd)",
            "score",
        ],
        rows,
    )


def _print_schema_changes(result: DatasetDiff) -> None:
    if not result.schema_changed:
        console.print("schema   unchanged")
        return
    for entry in result.added:
        console.print(f"[green]+ {escape(str(entry['name']))}[/] ({entry['type']})")
    for entry in result.removed:
        console.print(f"[red]- {escape(str(entry['name']))}[/] ({entry['type']})")
    for change in result.type_changes:
        console.print(
            f"[yellow]~ {escape(change['name'])}[/] {change['a']} -> {change['b']}"
        )


def _change(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return f"{format_value(before) or '-'} -> {format_value(after) or '-'}"
    delta = after - before
    share = f", {format_number(100 * delta / before)}%" if before else ""
    return f"{before} -> {after} ({delta:+d}{share})"
