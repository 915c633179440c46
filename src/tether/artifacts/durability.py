"""Flush written files to the disk: fsync of one file or folder, syncfs of a file system.

``fsync`` makes one file (or one folder's entries) durable. ``syncfs(2)``
flushes every dirty file and folder of a whole file system in one call, so
a batch of thousands of new files costs one flush instead of one per file.
It is Linux-only (kernel 2.6.39, glibc 2.14), and only since Linux 5.8 does
it report write-back errors. Python's ``os`` module has no binding for it,
so it is called through ``ctypes``.

NOTE: on macOS ``os.fsync`` leaves the drive's write cache unflushed (only
``fcntl(F_FULLFSYNC)`` flushes it), so there a power loss can still lose a
blob written just before it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

SyncFileSystem = Callable[[int], None]


@functools.cache
def find_syncfs() -> SyncFileSystem | None:
    """Return a function that runs ``syncfs(2)`` on a descriptor's file system, or None.

    The function raises OSError when the kernel reports a write-back error
    since the descriptor was opened. None means the C library has no
    ``syncfs`` (macOS, Windows, or a Linux C library older than glibc 2.14),
    and callers fsync each file instead.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return None
    syncfs.argtypes = [ctypes.c_int]
    syncfs.restype = ctypes.c_int

    def sync_file_system(descriptor: int) -> None:
        if syncfs(descriptor) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs failed: {os.strerror(error)}")

    return sync_file_system


def fsync_directory(path: Path) -> None:
    """Make the entries of a folder durable: files created in it, renamed or removed.

    Windows cannot open a folder for fsync, so there this does nothing.
    """
    if os.name == "nt":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
