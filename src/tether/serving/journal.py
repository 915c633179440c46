"""A write-ahead journal, so rows queued for a Parquet log survive a killed process.

Each queued entry is appended to the writer's current journal segment with
one ``os.write`` before the caller returns (and so before a scoring
response is sent). The bytes reach the kernel at once, so they survive
SIGKILL of the process; they do not survive a crash of the machine, which
would need an fsync per request. When the writer takes the queued entries
to write a Parquet file, it starts a new segment, and deletes the old one
once the file is in place.

A segment left behind by a process that no longer runs holds entries that
were never written. :func:`orphaned_segments` finds them, and the writer
that starts next recovers them: it claims a segment by renaming it, so
two processes never recover the same one, and writes its entries to a
Parquet file whose name carries the segment's id. When such a file already
exists, the process died after writing it and before deleting the segment,
and the segment is only deleted, so no row is logged twice.

Records are length-prefixed pickles. A record cut short by the kill was
being written when the process died, before its response was sent, and
is dropped.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SUFFIX = ".journal"
_LENGTH = struct.Struct("<Q")
_NAME = re.compile(
    r"(?P<prefix>.+)-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})-(?P<segment>\d{6})\.journal"
)


class Journal:
    """The segments of one writer: ``PREFIX-PID-TOKEN-SEGMENT.journal``."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self.token = secrets.token_hex(4)
        self._segment = 0
        self._fd: int | None = None
        self._path: Path | None = None

    @property
    def segment_id(self) -> str:
        """The id of the current segment, as Parquet file names carry it."""
        return f"{self.token}{self._segment:06d}"

    def append(self, record: bytes) -> None:
        """Append one record to the current segment, opening it if needed."""
        if self._fd is None:
            self._open()
        assert self._fd is not None
        os.write(self._fd, _LENGTH.pack(len(record)) + record)

    def rotate(self) -> tuple[Path | None, str]:
        """Close the current segment and return its path (None if empty) and id.

        The next :meth:`append` opens a new segment.
        """
        path, segment_id = self._path, self.segment_id
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._path = None, None
        self._segment += 1
        return path, segment_id

    def close(self) -> None:
        """Close the current segment; the caller deletes it once its rows are written."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        name = f"{self.prefix}-{os.getpid()}-{self.token}-{self._segment:06d}{SUFFIX}"
        self._path = self.directory / name
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def encode(entry: Any) -> bytes:
    """Return the journal record of one entry."""
    return pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)


def orphaned_segments(directory: Path, prefix: str) -> list[tuple[Path, str]]:
    """Return the segments of ``prefix`` whose process is gone, with their ids, oldest first.

    A segment that a process claimed and then died recovering counts too.
    """
    found = []
    for path in sorted(directory.glob(f"{prefix}-*{SUFFIX}")):
        match = _NAME.fullmatch(path.name)
        if match is None or match["prefix"] != prefix:
            continue
        if not _alive(int(match["pid"])):
            found.append((path, f"{match['token']}{match['segment']}"))
    for path in sorted(directory.glob(f".{prefix}-*{SUFFIX}.recovering-*")):
        inner, _, recovering = path.name[1:].rpartition(".recovering-")
        match = _NAME.fullmatch(inner)
        if match is None or not recovering.isdigit() or _alive(int(recovering)):
            continue
        found.append((path, f"{match['token']}{match['segment']}"))
    return found


def claim(path: Path) -> Path | None:
    """Rename an orphaned segment for this process; None when another took it."""
    name = (
        path.name[1:].rpartition(".recovering-")[0]
        if path.name.startswith(".")
        else path.name
    )
    claimed = path.with_name(f".{name}.recovering-{os.getpid()}")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        return None
    return claimed


def read_records(path: Path) -> Iterator[Any]:
    """Yield the entries of a segment, stopping at a record cut short."""
    data = path.read_bytes()
    offset = 0
    while offset + _LENGTH.size <= len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        start = offset + _LENGTH.size
        if start + length > len(data):
            logger.warning("dropped a partly written record at the end of %s", path)
            return
        # Only writers of this log write here; the folder is trusted as the
        # Parquet files next to it are.
        yield pickle.loads(data[start : start + length])
        offset = start + length


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
