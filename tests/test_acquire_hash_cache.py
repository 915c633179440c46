"""The file hash cache: keys, the recent-file window, concurrent writers, fallbacks."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tether.artifacts import digest_file
from tether.data.acquisition.hash_cache import RECENT_WINDOW_NS, FileHashCache

PROCESSES = 4
FILES_PER_PROCESS = 50

WRITER = """
import os, sys, time
from pathlib import Path
from tether.data.acquisition.hash_cache import FileHashCache

database, folder = Path(sys.argv[1]), Path(sys.argv[2])
prefix, count = sys.argv[3], int(sys.argv[4])
past = time.time() - 3600
entries = []
for index in range(count):
    path = folder / f"{prefix}-{index}.txt"
    path.write_text(f"{prefix} {index}")
    os.utime(path, (past, past))
    entries.append((str(path), path.stat(), f"{prefix}{index:04d}".ljust(64, "0")))
with FileHashCache(database) as cache:
    for entry in entries:
        stored = cache.store([entry], hashed_at_ns=time.time_ns())
        assert stored == 1, stored
print("ok")
"""


def old_file(path: Path, text: str) -> os.stat_result:
    path.write_text(text)
    past = time.time() - 3600
    os.utime(path, (past, past))
    return path.stat()


def test_lookup_after_store(tmp_path: Path) -> None:
    path = tmp_path / "data file ü.csv"
    status = old_file(path, "a,b\n1,2\n")
    digest = digest_file(path)
    with FileHashCache(tmp_path / "cache.db") as cache:
        assert cache.lookup(str(path), status) is None
        assert (
            cache.store([(str(path), status, digest)], hashed_at_ns=time.time_ns()) == 1
        )
        assert cache.lookup(str(path), status) == digest
        assert (cache.hits, cache.misses) == (1, 1)


def test_changed_key_misses(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    status = old_file(path, "a,b\n1,2\n")
    database = tmp_path / "cache.db"
    with FileHashCache(database) as cache:
        cache.store([(str(path), status, "0" * 64)], hashed_at_ns=time.time_ns())
    # Same size, new modification time.
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    with FileHashCache(database) as cache:
        assert cache.lookup(str(path), path.stat()) is None
    # Same size and time, another inode: the file was replaced.
    replacement = tmp_path / "replacement.csv"
    replacement.write_text("a,b\n3,4\n")
    os.utime(replacement, ns=(status.st_atime_ns, status.st_mtime_ns))
    replacement.replace(path)
    assert path.stat().st_ino != status.st_ino
    with FileHashCache(database) as cache:
        assert cache.lookup(str(path), path.stat()) is None
        # Another path with the first file's status.
        assert cache.lookup(str(tmp_path / "other.csv"), status) is None
        assert cache.misses == 2


def test_recent_file_skipped(tmp_path: Path) -> None:
    path = tmp_path / "fresh.csv"
    path.write_text("a\n1\n")
    status = path.stat()
    with FileHashCache(tmp_path / "cache.db") as cache:
        stored = cache.store(
            [(str(path), status, "1" * 64)],
            hashed_at_ns=status.st_mtime_ns + RECENT_WINDOW_NS - 1,
        )
        assert stored == 0
        stored = cache.store(
            [(str(path), status, "1" * 64)],
            hashed_at_ns=status.st_mtime_ns + RECENT_WINDOW_NS + 1,
        )
        assert stored == 1


def test_database_uses_wal(tmp_path: Path) -> None:
    database = tmp_path / "cache.db"
    FileHashCache(database).close()
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_concurrent_processes_store_all(tmp_path: Path) -> None:
    database = tmp_path / "cache.db"
    folder = tmp_path / "files"
    folder.mkdir()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(database),
                str(folder),
                f"p{number}",
                str(FILES_PER_PROCESS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(PROCESSES)
    ]
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
        assert stdout.strip() == "ok"
    with sqlite3.connect(database) as connection:
        [(rows,)] = connection.execute("SELECT count(*) FROM file_hashes").fetchall()
    assert rows == PROCESSES * FILES_PER_PROCESS
    with FileHashCache(database) as cache:
        path = folder / "p3-49.txt"
        assert cache.lookup(str(path), path.stat()) == "p30049".ljust(64, "0")


def test_corrupt_database_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "cache.db"
    database.write_bytes(b"this is not a SQLite database" * 100)
    path = tmp_path / "data.csv"
    status = old_file(path, "a\n1\n")
    with FileHashCache(database) as cache:
        assert cache.lookup(str(path), status) is None
        assert (
            cache.store([(str(path), status, "2" * 64)], hashed_at_ns=time.time_ns())
            == 0
        )
    assert "is not usable" in caplog.text
    assert str(database) in caplog.text


def test_unwritable_home_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = FileHashCache(blocker / "file-hashes.db")
    assert cache.lookup(str(blocker), blocker.stat()) is None
    cache.close()
    assert "files are hashed without it" in caplog.text
