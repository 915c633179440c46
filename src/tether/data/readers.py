"""Read tabular files into DataFrames with errors that name the file and the fix."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tether.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

MEDIA_TYPES = {
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".zip": "application/zip",
}


def media_type_of(path: Path) -> str:
    """Return the media type Tether uses for a data file, from its suffix."""
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        known = ", ".join(sorted(MEDIA_TYPES))
        raise DataError(
            f"unsupported data file type {path.suffix or '(none)'!r} for {path}; "
            f"use one of {known}",
            source=str(path),
        )
    return media_type


def read_table(path: str | Path, media_type: str | None = None) -> pd.DataFrame:
    """Read a CSV, zipped CSV, Parquet, JSON or JSON Lines file."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"data file {path} is a directory; pass a file", source=str(path)
        )
    if not path.is_file():
        raise DataError(
            f"data file {path} does not exist; check the path or download the data first",
            source=str(path),
        )
    media_type = media_type or media_type_of(path)
    try:
        if media_type == "application/vnd.apache.parquet":
            return pd.read_parquet(path)
        if media_type == "application/json":
            return pd.read_json(path)
        if media_type == "application/x-ndjson":
            return pd.read_json(path, lines=True)
        compression: Literal["zip"] | None = (
            "zip" if media_type == "application/zip" else None
        )
        return pd.read_csv(path, compression=compression, low_memory=False)
    except PermissionError as exc:
        raise DataError(
            f"cannot read {path}: permission denied; fix its permissions",
            source=str(path),
        ) from exc
    except (ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"cannot parse {path} as {media_type}: {first_line}; check that the file is "
            "complete and in that format",
            source=str(path),
        ) from exc
