"""Turn the files read from a source into a dataset version.

Every connector ends here. Table files are parsed and stored like
:func:`tether.data.register` stores them: one file as its own bytes, several
files as one Parquet table. Other files become a file set: each file is a
blob and the version's object is a manifest of their paths, digests and sizes,
the same manifest :meth:`ObjectStore.put_dir` writes. The version row is added
only after every blob it names is stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import blake3

from tether.artifacts import get_objects
from tether.artifacts.digest import PARALLEL_THRESHOLD_BYTES
from tether.artifacts.materializers import PARQUET, to_bytes
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.data.acquisition.formats import media_type_of, read_frame
from tether.data.versions import VersionContent, add_version, link_version
from tether.errors import DataError
from tether.store import get_store
from tether.store.records import DatasetVersionRecord

T = TypeVar("T")

if TYPE_CHECKING:
    import pandas as pd

    from tether.active import RunLike as Run

logger = logging.getLogger(__name__)

MAX_INLINE_FILE_RECORDS = 1000
"""Maximum number of file records a version's source contains inline; more go to a blob."""

Verify = Callable[[], None]
"""Raise DataError when the source changed while it was read; called before storing."""


@dataclass
class SourceFile:
    """One file of a source, as a connector found it.

    Attributes:
        name: POSIX path relative to the source, used in manifests.
        location: where the file came from (absolute path or URL), for messages.
        path: local file with the content: the source itself or a download.
        size: size in bytes when the file was listed.
        record: what the version's source records about this file.
        digest: BLAKE3 digest of the content, when known before reading
            (from the hash cache); filled in once the file is read.
    """

    name: str
    location: str
    path: Path
    size: int
    record: dict[str, Any]
    digest: str | None = None


class Acquired(NamedTuple):
    """The result of an acquisition: the version, and whether it was created."""

    version: DatasetVersionRecord
    new: bool


def fingerprint(fmt: str, keys: Iterable[Sequence[Any]]) -> str:
    """Return a digest of what identifies a source's content before it is read.

    ``keys`` contains one sequence per file, e.g. its name and digest, or its
    name, ETag and size.
    """
    payload = json.dumps([fmt, [list(key) for key in keys]], default=str)
    return digest_of(payload.encode())


def digest_of(data: bytes) -> str:
    """Return the BLAKE3 digest of ``data``, on all cores when it is large."""
    if len(data) >= PARALLEL_THRESHOLD_BYTES:
        return blake3.blake3(data, max_threads=blake3.blake3.AUTO).hexdigest()
    return blake3.blake3(data).hexdigest()


def find_unchanged(
    name: str, source_fingerprint: str, *, run: Run | None, role: str
) -> Acquired | None:
    """Return the latest version of ``name`` if it was read from the same content.

    The latest version counts only if its source recorded the same
    fingerprint and all its blobs are still stored. It is then linked to
    ``run`` like a newly read version.
    """
    latest = get_store().latest_dataset_version(name)
    if latest is None or latest.source.get("fingerprint") != source_fingerprint:
        return None
    if not blobs_stored(latest):
        return None
    link_version(latest, run, role)
    logger.info("unchanged %s (source not read again)", latest.uri)
    return Acquired(latest, False)


def register_tables(
    name: str,
    files: Sequence[SourceFile],
    fmt: str,
    source: dict[str, Any],
    *,
    run: Run | None,
    role: str,
    verify: Verify,
) -> Acquired:
    """Parse table files, check the source, store the table and add the version.

    One file is stored as its own bytes, so its digest is the file's digest.
    Several files must have the same columns and are stored as one Parquet table.
    """
    frames = []
    single: tuple[bytes, str] | None = None
    for file in files:
        data = read_bytes(file)
        media_type = media_type_of(fmt, file.name)
        frames.append(read_frame(data, media_type, file.location))
        if len(files) == 1:
            single = (data, media_type)
        elif file.digest is None:
            file.digest = digest_of(data)
    frame = frames[0] if single is not None else _concat(frames, files)
    del frames
    verify()
    objects = get_objects()
    if single is not None:
        blob = objects.put_bytes(*single)
        _check_digest(files[0], blob.digest)
        files[0].digest = blob.digest
    else:
        payload, _, _ = to_bytes(frame)
        blob = objects.put_bytes(payload, PARQUET)
    content = _table_content(frame, blob.digest, blob.media_type, blob.size)
    return _add(name, content, files, source, run=run, role=role)


def register_file_set(
    name: str,
    files: Sequence[SourceFile],
    source: dict[str, Any],
    *,
    run: Run | None,
    role: str,
    verify: Verify,
) -> Acquired:
    """Store each file as a blob, check the source, then store the manifest and version.

    A file whose digest is known and whose blob is stored is not read at all.
    """
    objects = get_objects()
    missing = [f for f in files if f.digest is None or not objects.exists(f.digest)]
    # One commit for every new file: two syncfs calls instead of one fsync each.
    for file, blob in zip(
        missing, objects.put_files([f.path for f in missing]), strict=True
    ):
        _check_digest(file, blob.digest)
        file.digest = blob.digest
    entries: list[dict[str, Any]] = [
        {"path": file.name, "digest": file.digest, "size": file.size} for file in files
    ]
    verify()
    entries.sort(key=lambda entry: PurePosixPath(entry["path"]).parts)
    manifest = json.dumps({"files": entries}, sort_keys=True).encode()
    blob = objects.put_bytes(manifest, MANIFEST_MEDIA_TYPE)
    content = VersionContent(
        digest=blob.digest,
        object_digest=blob.digest,
        media_type=MANIFEST_MEDIA_TYPE,
        rows=None,
        size=sum(entry["size"] for entry in entries),
        schema=[],
        profile=file_set_profile(entries),
    )
    return _add(name, content, files, source, run=run, role=role)


def download_folder() -> Path:
    """Return the folder for temporary downloads, ``$TETHER_HOME/cache/downloads``.

    Downloads go under the Tether home rather than the system's temporary
    folder, which is often a small in-memory file system.
    """
    from tether.config import resolve

    folder = resolve().home / "cache" / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_bytes(file: SourceFile) -> bytes:
    """Return the content of a source file, with an error that names it."""
    return read_source(file, lambda path: path.read_bytes())


def read_source(file: SourceFile, read: Callable[[Path], T]) -> T:
    """Return ``read(file.path)``, turning an OS error into one that names the file."""
    try:
        return read(file.path)
    except PermissionError as exc:
        raise DataError(
            f"cannot read {file.location}: permission denied; fix its permissions "
            "or run as a user who may read it",
            source=file.location,
        ) from exc
    except OSError as exc:
        raise DataError(
            f"cannot read {file.location}: {exc.strerror or exc}; check that it "
            "exists and is a readable file",
            source=file.location,
        ) from exc


def file_set_profile(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return a file set's summary: file count, total bytes and count per suffix."""
    suffixes: dict[str, int] = {}
    for entry in entries:
        suffix = PurePosixPath(entry["path"]).suffix.lower()
        suffixes[suffix] = suffixes.get(suffix, 0) + 1
    return {
        "files": len(entries),
        "bytes": sum(entry["size"] for entry in entries),
        "suffixes": dict(sorted(suffixes.items())),
    }


def changed_error(location: str, detail: str) -> DataError:
    """Return the error for a source that changed while it was read."""
    return DataError(
        f"{location} changed while it was being read ({detail}); nothing was "
        "registered. Acquire it again once no program writes to it",
        source=location,
    )


def _add(
    name: str,
    content: VersionContent,
    files: Sequence[SourceFile],
    source: dict[str, Any],
    *,
    run: Run | None,
    role: str,
) -> Acquired:
    listed = [{"name": f.name, **f.record, "digest": f.digest} for f in files]
    record, created = add_version(
        name, content, source={**source, **_file_records(listed)}, run=run, role=role
    )
    return Acquired(record, created)


def _file_records(listed: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the source fields that record each file read.

    Up to ``MAX_INLINE_FILE_RECORDS`` records sit in the source itself. A
    larger listing is stored as a JSON blob named by ``file_records``, so
    that a version row of a 100,000-file folder stays small.
    """
    if len(listed) <= MAX_INLINE_FILE_RECORDS:
        return {"files": listed}
    payload = json.dumps({"files": listed}, sort_keys=True, default=str).encode()
    blob = get_objects().put_bytes(payload, "application/json")
    return {"file_count": len(listed), "file_records": blob.digest}


def _table_content(
    frame: pd.DataFrame, digest: str, media_type: str, size: int
) -> VersionContent:
    from tether.data.profiles import profile, schema_of

    return VersionContent(
        digest=digest,
        object_digest=digest,
        media_type=media_type,
        rows=len(frame),
        size=size,
        schema=schema_of(frame),
        profile=profile(frame),
    )


def _concat(frames: list[pd.DataFrame], files: Sequence[SourceFile]) -> pd.DataFrame:
    import pandas as pd

    first = list(frames[0].columns)
    for frame, file in zip(frames[1:], files[1:], strict=True):
        columns = list(frame.columns)
        if columns != first:
            raise DataError(
                f"{file.location} has columns {columns} but {files[0].location} has "
                f"{first}; acquire files with different columns as separate datasets",
                source=file.location,
            )
    return pd.concat(frames, ignore_index=True)


def _check_digest(file: SourceFile, stored: str) -> None:
    """Raise when the content stored differs from the digest computed before reading."""
    if file.digest is not None and file.digest != stored:
        raise changed_error(
            file.location, f"its digest was {file.digest[:12]}, then {stored[:12]}"
        )


def blobs_stored(version: DatasetVersionRecord) -> bool:
    """Return whether the object of ``version`` and, for a manifest, every file are stored."""
    objects = get_objects()
    if not objects.exists(version.object_digest):
        return False
    if version.media_type != MANIFEST_MEDIA_TYPE:
        return True
    return all(
        objects.exists(e["digest"]) for e in objects.manifest(version.object_digest)
    )
