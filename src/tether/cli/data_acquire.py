"""``tether data acquire``: read a source and register it as a dataset version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.data import app
from tether.cli.render import check_format, console, plural, print_json

if TYPE_CHECKING:
    from tether.data.acquisition import Acquired

__all__ = ["app"]

SOURCE_FORMATS = ("csv", "parquet", "json", "jsonl", "files")


@app.command("acquire")
def acquire_command(
    name: str = typer.Argument(..., help="The dataset's name."),
    source: str = typer.Argument(
        ...,
        help="A file, folder or glob (quote it), an http(s):// URL, an s3:// URL, "
        "or with --query a SQLAlchemy database URL.",
    ),
    query: str | None = typer.Option(
        None, "--query", help="SQL query to run; SOURCE is then a database URL."
    ),
    source_format: str | None = typer.Option(
        None,
        "--source-format",
        help="How to read SOURCE: csv, parquet, json, jsonl (a table) or files "
        "(a file set). Default: from the file suffixes.",
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=0.001,
        help="Seconds to wait for an HTTP(S) server to connect and for each read "
        "(default 60). Only for http:// and https:// sources.",
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Read SOURCE and register it as a version of NAME, unless it is unchanged."""
    check_format(output, ["text", "json"])
    if source_format is not None:
        check_format(source_format, SOURCE_FORMATS)
    if query is not None and source_format is not None:
        raise typer.BadParameter(
            "--source-format does not apply to --query, whose result is a table"
        )
    if query is not None and timeout is not None:
        raise typer.BadParameter("--timeout applies to HTTP(S) sources, not to --query")
    if query is None:
        _require_query_for_database(source)
    if query is not None:
        from tether.data.acquisition import acquire_sql

        acquired = acquire_sql(name, source, query)
    else:
        from tether.data.acquisition import acquire

        acquired = acquire(name, source, format=source_format, timeout=timeout)
    summary = summarize(acquired)
    if output == "json":
        print_json(summary)
        return
    console.print(_text(summary), soft_wrap=True)


def _require_query_for_database(source: str) -> None:
    """Reject a URL scheme that only --query can read (sqlite://) or none can."""
    from tether.data.acquisition.dispatch import SOURCE_SCHEMES, url_scheme
    from tether.errors import ConfigError

    scheme = url_scheme(source)
    if scheme is not None and scheme not in SOURCE_SCHEMES:
        raise ConfigError(
            f"unsupported source scheme {scheme}:// in {source!r}; pass a local "
            "path or glob, an http(s):// URL or an s3:// URL, or to read a "
            "database, pass its SQLAlchemy URL with a SQL query in --query",
            setting="source",
            value=source,
        )


def summarize(acquired: Acquired) -> dict[str, Any]:
    """Return what the command prints about an acquisition, as JSON-safe values."""
    version = acquired.version
    return {
        "uri": version.uri,
        "name": version.name,
        "version": version.version,
        "new": acquired.new,
        "rows": version.rows,
        "files": _file_count(version.source),
        "size": version.size,
        "digest": version.digest,
        "media_type": version.media_type,
        "source": version.source,
    }


def _file_count(source: dict[str, Any]) -> int | None:
    """Return how many files a source read; large file sets record only the count."""
    return source.get("file_count") or len(source.get("files", [])) or None


def _text(summary: dict[str, Any]) -> str:
    state = "new" if summary["new"] else "unchanged"
    counts = []
    if summary["rows"] is not None:
        counts.append(plural(summary["rows"], "row"))
    if summary["files"] is not None:
        counts.append(plural(summary["files"], "file"))
    counts.append(f"{summary['size']} bytes")
    return (
        f"[bold]{escape(summary['uri'])}[/]  {state}  {'  '.join(counts)}  "
        f"digest {summary['digest']}"
    )
