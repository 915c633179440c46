"""Previews of run artifacts: the first rows of a table, an image, text or a report.

A preview reads at most :data:`MAX_TEXT_BYTES` of a text blob and the first
rows of a table, so a large artifact costs little. The blob itself is served
by the artifact route, which the page links to for images and HTML reports.
"""

from __future__ import annotations

import csv
import logging
import mimetypes
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from tether.artifacts import ObjectStore
from tether.errors import TetherError
from tether.store.records import ArtifactRecord

logger = logging.getLogger(__name__)

MAX_TEXT_BYTES = 64 * 1024
MAX_TABLE_ROWS = 20
MAX_TABLE_COLUMNS = 50
MAX_FOLDER_FILES = 200
MAX_CELL_CHARS = 80
PARQUET_TYPES = frozenset({"application/vnd.apache.parquet", "application/x-parquet"})
TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/x-ndjson",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/xml",
    }
)
TEXT_SUFFIXES = frozenset(
    {".txt", ".log", ".md", ".json", ".jsonl", ".yaml", ".yml", ".toml", ".py"}
    | {".patch", ".diff", ".cfg", ".ini", ".sql", ".xml"}
)
IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}
)


@dataclass
class Preview:
    """The preview of one artifact on the run page.

    ``kind`` is ``table``, ``image``, ``html``, ``text``, ``folder`` or
    ``none``, and the other fields contain the content of that kind.
    """

    kind: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    text: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    note: str = ""


def media_type(record: ArtifactRecord) -> str:
    """Return the media type to serve an artifact with, from its record or its name."""
    stored = record.media_type.split(";")[0].strip().lower()
    if stored and stored != "application/octet-stream":
        return stored
    return guess_media_type(record.path)


def guess_media_type(path: str) -> str:
    """Return the media type of a file name, ``application/octet-stream`` if unknown."""
    if path.lower().endswith(".parquet"):
        return "application/vnd.apache.parquet"
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def preview_kind(path: str, kind_of_media: str, is_dir: bool = False) -> str:
    """Return which preview suits a file of this name and media type."""
    suffix = PurePosixPath(path).suffix.lower()
    if is_dir:
        return "folder"
    if kind_of_media in IMAGE_TYPES:
        return "image"
    if kind_of_media == "text/html":
        return "html"
    if kind_of_media == "text/csv" or suffix == ".csv":
        return "table"
    if kind_of_media in PARQUET_TYPES:
        return "parquet"
    if kind_of_media.startswith("text/") or kind_of_media in TEXT_TYPES:
        return "text"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return "none"


def preview(
    record: ArtifactRecord, objects: ObjectStore, *, tail: bool = False
) -> Preview:
    """Return the preview of one artifact; ``tail`` shows the end of a text file."""
    kind = preview_kind(record.path, media_type(record), record.is_dir)
    try:
        if kind == "folder":
            return _folder(record, objects)
        if kind == "table":
            return _csv_table(objects, record.digest)
        if kind == "parquet":
            return _parquet_table(objects, record.digest)
        if kind == "text":
            return _text(objects, record.digest, record.size, tail=tail)
    except (OSError, ValueError, TetherError) as exc:
        logger.info("no preview of artifact %s: %s", record.path, exc)
        return Preview("none", note=f"no preview: {exc}")
    return Preview(kind)


def read_head(objects: ObjectStore, digest: str, size: int) -> bytes:
    """Return the first ``size`` bytes of a blob."""
    with objects.path(digest).open("rb") as blob:
        return blob.read(size)


def _text(objects: ObjectStore, digest: str, size: int, *, tail: bool) -> Preview:
    with objects.path(digest).open("rb") as blob:
        if tail and size > MAX_TEXT_BYTES:
            blob.seek(size - MAX_TEXT_BYTES)
        data = blob.read(MAX_TEXT_BYTES)
    text = data.decode("utf-8", errors="replace")
    truncated = size > MAX_TEXT_BYTES
    if truncated and tail:
        text = text.partition("\n")[2] or text
    return Preview("text", text=text, truncated=truncated)


def _csv_table(objects: ObjectStore, digest: str) -> Preview:
    data = read_head(objects, digest, MAX_TEXT_BYTES)
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(data) == MAX_TEXT_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    parsed = list(csv.reader(lines[: MAX_TABLE_ROWS + 1]))
    if not parsed:
        return Preview("table")
    columns = parsed[0][:MAX_TABLE_COLUMNS]
    body = [[_cell(v) for v in row[:MAX_TABLE_COLUMNS]] for row in parsed[1:]]
    return Preview(
        "table", columns=columns, rows=body, truncated=len(lines) > len(parsed)
    )


def _parquet_table(objects: ObjectStore, digest: str) -> Preview:
    import pyarrow.parquet as pq

    with pq.ParquetFile(objects.path(digest)) as table:
        names = table.schema_arrow.names[:MAX_TABLE_COLUMNS]
        total = table.metadata.num_rows
        batch = next(table.iter_batches(batch_size=MAX_TABLE_ROWS, columns=names), None)
    if batch is None:
        return Preview("table", columns=names)
    body = [[_cell(row[name]) for name in names] for row in batch.to_pylist()]
    return Preview(
        "table",
        columns=names,
        rows=body,
        truncated=total > len(body),
        note=f"{total} rows",
    )


def _folder(record: ArtifactRecord, objects: ObjectStore) -> Preview:
    files = objects.manifest(record.digest)
    shown = [
        {"path": f"{record.path}/{entry['path']}", "size": entry["size"]}
        for entry in files[:MAX_FOLDER_FILES]
    ]
    return Preview("folder", files=shown, truncated=len(files) > MAX_FOLDER_FILES)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"
