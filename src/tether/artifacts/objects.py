"""Content-addressed blobs: ``objects/ab/cdef…`` named by their BLAKE3 digest.

Blobs are immutable and read-only. Each one is written to a temporary name
in its shard folder, made durable, then renamed (see ``writer.py``), so a
reader never sees half a blob and a crash leaves no corrupt object. A folder
is stored as a manifest: a JSON blob listing each file's relative path,
digest and size.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.artifacts.writer import BlobWriter, ShardFolders, blob_path
from tether.errors import ConfigError, DataError, NotFoundError

MANIFEST_MEDIA_TYPE = "application/vnd.tether.manifest+json"


@dataclass(frozen=True)
class Blob:
    """A stored object: its digest, size in bytes and media type."""

    digest: str
    size: int
    media_type: str = "application/octet-stream"


class ObjectStore:
    """Immutable blobs on a local folder, addressed by digest.

    Only local folders are accepted here. The team server keeps blobs in
    S3 through ``tether.artifacts.s3_objects.S3ObjectStore``, which uses a
    local folder of this kind as its cache. NOTE: the SDK's own
    ``TETHER_ARTIFACTS`` still rejects ``s3://`` URLs.
    """

    def __init__(self, root: str | Path) -> None:
        root_text = str(root)
        if "://" in root_text and not root_text.startswith("file://"):
            raise ConfigError(
                f"artifact store {root_text!r} is not supported yet; set TETHER_ARTIFACTS "
                "to a local folder",
                setting="TETHER_ARTIFACTS",
                value=root_text,
            )
        self.root = Path(root_text.removeprefix("file://")).absolute()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the artifact folder {self.root}: {exc.strerror}; "
                "set TETHER_ARTIFACTS or TETHER_HOME to a writable location",
                setting="TETHER_ARTIFACTS",
                value=str(self.root),
            ) from exc
        self._shards = ShardFolders(self.root)
        self._root_text = str(self.root)

    def path(self, digest: str) -> Path:
        """Return the local path of a blob (it may not exist)."""
        _check_digest(digest)
        return blob_path(self.root, digest)

    def exists(self, digest: str) -> bool:
        """Return whether a blob is stored."""
        _check_digest(digest)
        # os.path on a joined string: the status of a 100,000-file folder calls
        # this once per file, and building Path objects was a third of its time.
        name = f"{self._root_text}{os.sep}{digest[:2]}{os.sep}{digest[2:]}"
        return os.path.isfile(name)  # noqa: PTH113 - see above

    def put_bytes(
        self, data: bytes, media_type: str = "application/octet-stream"
    ) -> Blob:
        """Store ``data`` once and return its blob, durable when this returns."""
        with self._writer() as writer:
            digest = writer.add_bytes(data)
            writer.commit()
        return Blob(digest, len(data), media_type)

    def put_file(
        self, source: str | Path, media_type: str = "application/octet-stream"
    ) -> Blob:
        """Copy a file into the store once and return its blob, durable when this returns."""
        with self._writer() as writer:
            digest, size = writer.add_file(Path(source))
            writer.commit()
        return Blob(digest, size, media_type)

    def put_files(self, sources: Sequence[str | Path]) -> list[Blob]:
        """Copy several files into the store with one commit; return their blobs in order.

        Like :meth:`put_dir`, the blobs become durable together, with two
        ``syncfs`` calls on Linux instead of one fsync per file.
        """
        blobs = []
        with self._writer() as writer:
            for source in sources:
                digest, size = writer.add_file(Path(source))
                blobs.append(Blob(digest, size))
            writer.commit()
        return blobs

    def put_dir(self, source: str | Path) -> Blob:
        """Store every file under a folder and a manifest of them; return the manifest.

        The files' blobs are committed together: on Linux a folder of many
        new files costs two ``syncfs`` calls instead of one fsync per file.
        The manifest is written only once the files' blobs are durable.
        """
        entries: list[dict[str, Any]] = []
        with self._writer() as writer:
            for relative, file in list_folder_files(Path(source)):
                digest, size = writer.add_file(file)
                entries.append({"path": relative, "digest": digest, "size": size})
            writer.commit()
        manifest = json.dumps({"files": entries}, sort_keys=True).encode()
        blob = self.put_bytes(manifest, MANIFEST_MEDIA_TYPE)
        return Blob(blob.digest, sum(e["size"] for e in entries), MANIFEST_MEDIA_TYPE)

    def read_bytes(self, digest: str) -> bytes:
        """Return the content of a blob."""
        path = self.path(digest)
        if not path.is_file():
            raise NotFoundError(
                f"object {digest} is missing from {self.root}",
                kind="object",
                name=digest,
            )
        return path.read_bytes()

    def manifest(self, digest: str) -> list[dict[str, Any]]:
        """Return the file list of a folder manifest."""
        files: list[dict[str, Any]] = json.loads(self.read_bytes(digest))["files"]
        return files

    def get_dir(self, digest: str, target: str | Path) -> Path:
        """Write the folder described by a manifest under ``target``.

        Every entry is checked before any file is written, so an unsafe or
        missing entry leaves ``target`` untouched.
        """
        target = Path(target)
        entries = self.manifest(digest)
        for entry in entries:
            relative = Path(entry["path"])
            if relative.is_absolute() or ".." in relative.parts:
                raise DataError(
                    f"manifest {digest} names an unsafe path {entry['path']!r}"
                )
            if not self.exists(entry["digest"]):
                raise NotFoundError(
                    f"object {entry['digest']} of {entry['path']!r} is missing from {self.root}",
                    kind="object",
                    name=entry["digest"],
                )
        for entry in entries:
            destination = target / entry["path"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path(entry["digest"]), destination)
        return target

    def _writer(self) -> BlobWriter:
        return BlobWriter(self.root, self._shards)


def list_folder_files(source: Path) -> list[tuple[str, str]]:
    """Return ``(relative POSIX path, path)`` of every file under ``source``, in order.

    A symbolic link to a file is listed, and a link to a folder is not followed,
    as ``Path.rglob`` does on Python 3.11. The order is that of sorting the
    paths as ``PurePosixPath`` objects (part by part), which fixes the manifest's digest.
    """
    found: list[tuple[tuple[str, ...], str]] = []
    pending: list[tuple[str, tuple[str, ...]]] = [(str(source), ())]
    while pending:
        folder, parts = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir() and not entry.is_symlink():
                        pending.append((entry.path, (*parts, entry.name)))
                    elif entry.is_file():
                        found.append(((*parts, entry.name), entry.path))
        except OSError as exc:
            raise DataError(
                f"cannot read the folder {folder}: {exc.strerror}", source=folder
            ) from exc
    found.sort()
    return [("/".join(parts), path) for parts, path in found]


_DIGEST = re.compile(r"[0-9a-f]{64}")


def _check_digest(digest: str) -> None:
    if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
        raise ValueError(
            f"invalid object digest {digest!r}; expected 64 hex characters"
        )
