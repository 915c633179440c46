"""``tether data``: dataset versions in the catalog."""

from __future__ import annotations

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, print_json, table

app = typer.Typer(help="Register and inspect dataset versions.", no_args_is_help=True)


@app.command("list")
def list_datasets() -> None:
    """List every dataset with its latest version."""
    from tether.store import get_store

    rows = [
        (
            v.name,
            v.version,
            v.rows,
            v.size,
            v.digest[:16],
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
        for v in get_store().list_dataset_versions()
    ]
    table(
        "datasets", ["name", "latest", "rows", "bytes", "digest", "created (UTC)"], rows
    )


@app.command("versions")
def list_versions(name: str = typer.Argument(..., help="The dataset's name.")) -> None:
    """List the versions of one dataset."""
    from tether.store import get_store

    versions = get_store().list_dataset_versions(name)
    if not versions:
        from tether.errors import NotFoundError

        raise NotFoundError(
            f"dataset {name!r} not found; list datasets with `tether data list`",
            kind="dataset",
            name=name,
        )
    rows = [
        (
            v.version,
            v.rows,
            v.size,
            v.digest[:16],
            v.run_id or "",
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
        for v in versions
    ]
    table(
        f"versions of {name}",
        ["version", "rows", "bytes", "digest", "run", "created (UTC)"],
        rows,
    )


@app.command("show")
def show_version(
    uri: str = typer.Argument(
        ..., help="datasets:/NAME@VERSION, or a name for the latest version."
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Show a dataset version: digest, schema, profile and source."""
    from dataclasses import asdict

    from tether.data.versions import resolve

    check_format(output, ["text", "json"])
    record = resolve(uri)
    if output == "json":
        print_json(asdict(record) | {"uri": record.uri})
        return
    console.print(
        f"[bold]{escape(record.uri)}[/]  {record.rows} rows  {record.size} bytes"
    )
    console.print(f"digest {record.digest}")
    source = ", ".join(f"{key}={value}" for key, value in sorted(record.source.items()))
    console.print(f"source {escape(source)}")
    columns = record.profile.get("columns", {})
    rows = [
        (
            c["name"],
            c["type"],
            columns.get(c["name"], {}).get("nulls"),
            columns.get(c["name"], {}).get("distinct"),
            columns.get(c["name"], {}).get("min"),
            columns.get(c["name"], {}).get("max"),
        )
        for c in record.schema
    ]
    table(
        "schema and profile",
        ["column", "type", "nulls", "distinct", "min", "max"],
        rows,
    )
