"""Source formats: how the files of a source are read and which media type they get."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from tether.artifacts.materializers import PARQUET
from tether.data.readers import MEDIA_TYPES
from tether.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

FILES = "files"
TABLE_FORMATS = ("csv", "parquet", "json", "jsonl")
FORMATS = (*TABLE_FORMATS, FILES)

ZIP = "application/zip"
_FORMAT_MEDIA_TYPES = {
    "csv": "text/csv",
    "parquet": PARQUET,
    "json": "application/json",
    "jsonl": "application/x-ndjson",
}
_MEDIA_TYPE_FORMATS = {media: fmt for fmt, media in _FORMAT_MEDIA_TYPES.items()}
_MEDIA_TYPE_FORMATS[ZIP] = "csv"
# Content types that servers send for table formats, beyond the ones above.
_CONTENT_TYPE_FORMATS = {
    "application/csv": "csv",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
}


def check_format(value: str | None) -> str | None:
    """Return ``value`` when it is None or one of :data:`FORMATS`, else raise."""
    if value is not None and value not in FORMATS:
        raise ConfigError(
            f"invalid source format {value!r}; use one of: {', '.join(FORMATS)}",
            setting="format",
            value=value,
        )
    return value


def format_of_name(name: str) -> str | None:
    """Return the table format a file name's suffix implies, or None.

    A ``.zip`` file is a zipped CSV, as :func:`tether.data.readers.read_table` reads it.
    """
    media_type = MEDIA_TYPES.get(PurePosixPath(name).suffix.lower())
    return _MEDIA_TYPE_FORMATS.get(media_type) if media_type else None


def format_of_content_type(content_type: str | None) -> str | None:
    """Return the table format an HTTP ``Content-Type`` names, or None."""
    if not content_type:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    return _MEDIA_TYPE_FORMATS.get(media_type) or _CONTENT_TYPE_FORMATS.get(media_type)


def choose_format(requested: str | None, names: Sequence[str]) -> str:
    """Return the requested format, or the table format every name's suffix shares.

    Files whose suffixes name no table format, or different ones, are a file set.
    """
    if requested is not None:
        return requested
    found = {format_of_name(name) for name in names}
    if len(found) == 1:
        only = found.pop()
        if only is not None:
            return only
    return FILES


def media_type_of(fmt: str, name: str) -> str:
    """Return the media type of one file read as table format ``fmt``."""
    if fmt == "csv" and PurePosixPath(name).suffix.lower() == ".zip":
        return ZIP
    return _FORMAT_MEDIA_TYPES[fmt]


def read_frame(data: bytes, media_type: str, source: str) -> pd.DataFrame:
    """Parse the bytes of one table file, naming ``source`` in every error."""
    import pandas as pd

    if not data:
        raise DataError(
            f"{source} is empty (0 bytes); check that it was written completely, "
            "then acquire it again",
            source=source,
        )
    buffer = io.BytesIO(data)
    try:
        if media_type == PARQUET:
            return pd.read_parquet(buffer)
        if media_type == "application/json":
            return pd.read_json(buffer)
        if media_type == "application/x-ndjson":
            return pd.read_json(buffer, lines=True)
        compression: Literal["zip"] | None = "zip" if media_type == ZIP else None
        return pd.read_csv(buffer, compression=compression, low_memory=False)
    except (ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"cannot parse {source} as {media_type}: {first_line}; check that the "
            "file is complete and in that format, or pass the right format",
            source=source,
        ) from exc
