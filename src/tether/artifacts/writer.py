"""Write blobs through temporary files, so a blob name only ever names whole content.

Each blob is first written to ``.tmp-<random hex>`` in its shard folder
(``ab/`` for digest ``ab…``). :meth:`BlobWriter.commit` makes every
temporary durable, renames each one to its digest, and makes the renames
durable. After a crash a blob at its final name is therefore whole, which
is why ``ObjectStore.exists`` can trust it and skip rewriting it. A leftover
``.tmp-`` file is never read as a blob and can be deleted.

A commit of many blobs flushes them all with one ``syncfs(2)`` before the
renames and one after. A commit of a few blobs, or any commit where
``syncfs`` is missing, fsyncs each temporary, then after the renames each
shard folder that received a blob.

Paths inside the writer are ``str`` and the calls are ``os`` functions,
because for a folder of small files, building ``pathlib`` objects for each
file took a large share of the CPU time on Python 3.11.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from pathlib import Path
from types import TracebackType

from tether.artifacts import durability
from tether.artifacts.digest import digest_bytes, digest_file
from tether.errors import DataError

TEMPORARY_PREFIX = ".tmp-"
READ_ONLY = 0o444
# Files up to this size are read with one read: the same bytes are hashed and
# written, so the source is read once and the blob always matches its digest.
WHOLE_READ_MAX_BYTES = 8 * 1024 * 1024
# syncfs also waits for every other pending write on the file system, so
# below this many blobs a commit fsyncs each file instead.
SYNCFS_MIN_BLOBS = 16
NAME_ATTEMPTS = 8
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def blob_path(root: Path, digest: str) -> Path:
    """Return where the blob ``digest`` lives under ``root`` (``ab/cdef…``)."""
    return root / digest[:2] / digest[2:]


def _blob_name(root: str, digest: str) -> str:
    return f"{root}{os.sep}{digest[:2]}{os.sep}{digest[2:]}"


class ShardFolders:
    """The shard folders of one store that this process has already created or found."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: set[str] = set()

    def ensure(self, name: str) -> bool:
        """Create the shard folder ``name`` if needed.

        Returns:
            True when this process had not used the folder before, so the
            caller must also make the store root's entries durable.
        """
        if name in self._known:
            return False
        (self.root / name).mkdir(parents=True, exist_ok=True)
        self._known.add(name)
        return True

    def forget(self, name: str) -> None:
        """Drop ``name`` from the cache, after its folder was found missing."""
        self._known.discard(name)


class BlobWriter:
    """Blobs staged as temporary files, renamed to their digests by :meth:`commit`.

    Use it as a context manager: on leaving, every temporary not yet renamed
    is removed, so a failed write leaves no ``.tmp-`` file behind.
    """

    def __init__(self, root: Path, shards: ShardFolders) -> None:
        self.root = root
        self._root = os.fspath(root)
        self._shards = shards
        self._staged: dict[str, str] = {}
        self._new_shard = False
        self._root_descriptor: int | None = None

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()
        if self._root_descriptor is not None:
            os.close(self._root_descriptor)
            self._root_descriptor = None

    def needs(self, digest: str) -> bool:
        """Return whether ``digest`` is neither stored nor staged yet.

        A stored blob that is written again gets a new modification time, so
        that ``tether gc``, which spares blobs modified within its grace
        period, cannot remove content that a new record is about to name.
        """
        if digest in self._staged:
            return False
        name = _blob_name(self._root, digest)
        try:
            status = os.stat(name)  # noqa: PTH116
        except (FileNotFoundError, NotADirectoryError):
            return True
        if not stat.S_ISREG(status.st_mode):
            return True
        with contextlib.suppress(OSError):
            os.utime(name)
        return False

    def add_bytes(self, data: bytes) -> str:
        """Stage ``data`` unless it is already stored; return its digest."""
        digest = digest_bytes(data)
        if self.needs(digest):
            self._write_bytes(digest, data)
        return digest

    def add_file(self, source: str | Path) -> tuple[str, int]:
        """Stage the content of ``source`` unless it is already stored.

        Returns:
            The digest and the size in bytes of the content.
        """
        try:
            data, status = _read_small_file(source)
        except OSError as exc:
            raise _unreadable(source, exc) from exc
        if data is not None:
            return self.add_bytes(data), len(data)
        try:
            digest = digest_file(source)
        except OSError as exc:
            raise _unreadable(source, exc) from exc
        if self.needs(digest):
            self._copy_file(digest, source, status)
        return digest, status.st_size

    def commit(self) -> None:
        """Make every staged blob durable under its final name."""
        if not self._staged:
            return
        syncfs = None
        if len(self._staged) >= SYNCFS_MIN_BLOBS:
            syncfs = durability.find_syncfs()
        if syncfs is None or self._root_descriptor is None:
            self._commit_with_fsync()
        else:
            self._commit_with_syncfs(syncfs, self._root_descriptor)

    def discard(self) -> None:
        """Remove every temporary that is not renamed yet."""
        for temporary in self._staged.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)  # noqa: PTH108
        self._staged.clear()

    def _commit_with_fsync(self) -> None:
        for temporary in self._staged.values():
            _fsync_file(temporary)
        for folder in sorted(self._rename_all()):
            durability.fsync_directory(self.root / folder)
        if self._new_shard:
            durability.fsync_directory(self.root)

    def _commit_with_syncfs(
        self, syncfs: durability.SyncFileSystem, descriptor: int
    ) -> None:
        self._flush(syncfs, descriptor)
        self._rename_all()
        self._flush(syncfs, descriptor)

    def _flush(self, syncfs: durability.SyncFileSystem, descriptor: int) -> None:
        try:
            syncfs(descriptor)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot flush the blobs written to {self.root}: {exc.strerror}",
            ) from exc

    def _rename_all(self) -> set[str]:
        """Rename every temporary to its digest and return the shard folders touched."""
        folders: set[str] = set()
        for digest, temporary in list(self._staged.items()):
            os.replace(temporary, _blob_name(self._root, digest))  # noqa: PTH105
            del self._staged[digest]
            folders.add(digest[:2])
        return folders

    def _write_bytes(self, digest: str, data: bytes) -> None:
        temporary, descriptor = self._create_temporary(digest)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
        finally:
            os.close(descriptor)
        os.chmod(temporary, READ_ONLY)  # noqa: PTH101

    def _copy_file(
        self, digest: str, source: str | Path, before: os.stat_result
    ) -> None:
        """Copy a large file in the kernel (sendfile on Linux) and check that it did not change.

        The digest was computed before the copy, so a source that changed in
        between would be stored under the wrong name. Its size and
        modification time are compared to catch that.
        """
        temporary, descriptor = self._create_temporary(digest)
        os.close(descriptor)
        shutil.copyfile(source, temporary)
        after = os.stat(source)  # noqa: PTH116
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise DataError(
                f"{source} changed while it was being stored; store it again "
                "once no program writes to it",
                source=str(source),
            )
        os.chmod(temporary, READ_ONLY)  # noqa: PTH101

    def _create_temporary(self, digest: str) -> tuple[str, int]:
        """Create a new empty temporary in the shard folder of ``digest``."""
        if self._root_descriptor is None and durability.find_syncfs() is not None:
            # syncfs reports write-back errors that happened since its descriptor
            # was opened, so it is opened before the first write, not at commit.
            self._root_descriptor = os.open(self._root, os.O_RDONLY)
        shard = digest[:2]
        folder = f"{self._root}{os.sep}{shard}"
        for _ in range(NAME_ATTEMPTS):
            self._new_shard |= self._shards.ensure(shard)
            temporary = f"{folder}{os.sep}{TEMPORARY_PREFIX}{secrets.token_hex(8)}"
            try:
                descriptor = os.open(temporary, _CREATE_FLAGS, 0o600)
            except FileExistsError:
                continue
            except FileNotFoundError:
                # The shard folder was removed after this process created it.
                self._shards.forget(shard)
                continue
            self._staged[digest] = temporary
            return temporary, descriptor
        raise FileExistsError(
            f"cannot create a temporary file in {folder}: {NAME_ATTEMPTS} random "
            "names were taken or the folder kept disappearing"
        )


def _read_small_file(source: str | Path) -> tuple[bytes | None, os.stat_result]:
    """Return the whole content of a small file, or None for a large one, and its status."""
    descriptor = os.open(source, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        status = os.fstat(descriptor)
        if status.st_size > WHOLE_READ_MAX_BYTES:
            return None, status
        chunks = []
        # Ask for one byte more than the size, so a file of the size it
        # had at fstat ends after the first read and the second returns b"".
        while chunk := os.read(descriptor, status.st_size + 1):
            chunks.append(chunk)
        return b"".join(chunks), status
    finally:
        os.close(descriptor)


def _fsync_file(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _unreadable(source: str | Path, exc: OSError) -> DataError:
    return DataError(f"cannot read {source}: {exc.strerror}", source=str(source))
