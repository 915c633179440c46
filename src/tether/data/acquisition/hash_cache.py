"""A cache of local files' BLAKE3 digests, so an unchanged file is hashed only once.

An entry is keyed on the file's absolute path, inode, size and modification
time in nanoseconds. It is used only while all four still match, so a file
that is rewritten, replaced or truncated is hashed again. The cache lives in
``$TETHER_HOME/cache/file-hashes.db``, a SQLite database in WAL mode with a
busy timeout, so several processes can read and write it at the same time.

A program can rewrite a file in place and then restore its size and
modification time (``touch -r``, some copy tools). The cache cannot notice
that, so delete the database after such a change to hash every file again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

CACHE_FILE = Path("cache") / "file-hashes.db"
BUSY_TIMEOUT_SECONDS = 30.0
# A file modified less than this long before it was hashed may be written
# again within the same timestamp tick (2 s on FAT, 1 s on ext3 and HFS+),
# so its digest is not cached.
RECENT_WINDOW_NS = 2_000_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    hashed_at_ns INTEGER NOT NULL
)
"""
_UPSERT = (
    "INSERT INTO file_hashes (path, inode, size, mtime_ns, digest, hashed_at_ns) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, size = excluded.size, "
    "mtime_ns = excluded.mtime_ns, digest = excluded.digest, "
    "hashed_at_ns = excluded.hashed_at_ns"
)


def default_cache_path() -> Path:
    """Return where the cache lives for the current settings."""
    from tether.config import resolve

    return resolve().home / CACHE_FILE


class FileHashCache:
    """Digests of local files, read and written through one SQLite connection.

    A cache that cannot be opened (a read-only home, a corrupt file) logs a
    warning and behaves as an empty cache that stores nothing, because
    acquisition must not fail for want of a cache.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.hits = 0
        self.misses = 0
        self._connection = self._open()

    def __enter__(self) -> FileHashCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def lookup(self, path: str, status: os.stat_result) -> str | None:
        """Return the cached digest of the file at ``path`` with ``status``, or None."""
        row = None
        if self._connection is not None:
            try:
                row = self._connection.execute(
                    "SELECT digest FROM file_hashes "
                    "WHERE path = ? AND inode = ? AND size = ? AND mtime_ns = ?",
                    (path, status.st_ino, status.st_size, status.st_mtime_ns),
                ).fetchone()
            except sqlite3.Error as exc:
                self._disable(exc)
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        digest: str = row[0]
        return digest

    def store(
        self, entries: Iterable[tuple[str, os.stat_result, str]], *, hashed_at_ns: int
    ) -> int:
        """Store ``(path, status, digest)`` entries in one transaction.

        Args:
            entries: each file's absolute path, its status before it was
                hashed, and its digest.
            hashed_at_ns: ``time.time_ns()`` taken before the files were
                stat'ed; entries modified within :data:`RECENT_WINDOW_NS`
                of it are skipped.

        Returns:
            The number of entries stored.
        """
        rows = [
            (path, status.st_ino, status.st_size, status.st_mtime_ns, digest)
            for path, status, digest in entries
            if status.st_mtime_ns < hashed_at_ns - RECENT_WINDOW_NS
        ]
        if not rows or self._connection is None:
            return 0
        now = time.time_ns()
        connection = self._connection
        try:
            # BEGIN IMMEDIATE takes the write lock at once, waiting up to the
            # busy timeout, so a concurrent writer cannot make the commit fail.
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(_UPSERT, [(*row, now) for row in rows])
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._disable(exc)
            return 0
        return len(rows)

    def close(self) -> None:
        """Close the connection; later lookups miss and stores do nothing."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> sqlite3.Connection | None:
        connection = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit (isolation_level=None): store() begins its own transaction.
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
            connection.execute(
                f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}"
            )
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            if connection is not None:
                connection.close()
            logger.warning(
                "file hash cache %s is not usable (%s); files are hashed without it. "
                "Delete the file, or make its folder writable, to use the cache",
                self.path,
                exc,
            )
            return None
        return connection

    def _disable(self, exc: sqlite3.Error) -> None:
        logger.warning(
            "file hash cache %s failed (%s); files are hashed without it",
            self.path,
            exc,
        )
        self.close()
