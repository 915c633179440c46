"""Shared rendering helpers for CLI commands."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table of rows.

    The title, headers and cells are escaped, so a key or value such as
    ``[bold]`` or ``x[/]`` prints as written instead of being read as Rich markup.
    """
    grid = Table(title=escape(title), show_lines=False)
    for column in columns:
        # Ids are copied by users, so they are never cut or wrapped; other
        # values wrap in a narrow terminal instead of losing characters.
        whole = column in ("id", "run")
        grid.add_column(
            escape(column),
            no_wrap=whole,
            min_width=26 if whole else None,
            overflow="fold",
        )
    for row in rows:
        grid.add_row(*(escape(format_value(v)) for v in row))
    console.print(grid)


def format_value(value: Any) -> str:
    """Format one cell: floats with 4 significant digits, NaN as 'nan'."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def format_number(value: float) -> str:
    """Format a number: integral values in full, others with 4 significant digits."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """Return ``"1 file"`` or ``"3 files"``: the count and the noun that fits it."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_noun or noun + 's'}"


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout, without Rich markup."""
    typer.echo(
        json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    )


def check_format(value: str, allowed: Sequence[str]) -> str:
    """Reject an output format that is not one of ``allowed``."""
    if value not in allowed:
        raise typer.BadParameter(
            f"invalid format {value!r}; use one of: {', '.join(allowed)}"
        )
    return value
