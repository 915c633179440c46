"""Remove what nothing references any more: purged rows, then unreferenced blobs.

``tether gc`` first purges the rows of deleted model versions and of deleted
runs that nothing alive needs (see :mod:`tether.store.gc_ops`), then removes
every blob that no remaining row mentions, following folder manifests. A
blob modified within the grace period is kept whatever its references: a
process may have written it and not yet recorded it. Temporary files of
interrupted writes older than the grace period go too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tether.artifacts import ObjectStore
from tether.artifacts.writer import TEMPORARY_PREFIX
from tether.store import SqlStore
from tether.store.gc_ops import PurgeResult

DEFAULT_GRACE = timedelta(hours=1)
_MANIFEST_START = b'{"files": ['
_MANIFEST_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class GcReport:
    """The rows and files a collection removed (or would remove, on a dry run)."""

    purge: PurgeResult
    blobs: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    temporaries: int = 0
    kept_recent: int = 0
    dry_run: bool = False


def collect_garbage(
    store: SqlStore,
    objects: ObjectStore,
    *,
    dry_run: bool = False,
    grace: timedelta = DEFAULT_GRACE,
) -> GcReport:
    """Purge deleted rows, then remove unreferenced blobs older than ``grace``."""
    purge = store.purge_deleted(dry_run=dry_run)
    alive = _with_manifest_entries(objects, purge.referenced)
    report = GcReport(purge, dry_run=dry_run)
    cutoff = time.time() - grace.total_seconds()
    for path, digest in _stored_files(objects.root):
        status = path.stat()
        if digest is not None and digest in alive:
            continue
        if status.st_mtime > cutoff:
            report.kept_recent += 1
            continue
        if digest is None:
            report.temporaries += 1
        else:
            report.blobs.append(digest)
        report.bytes_freed += status.st_size
        if not dry_run:
            _remove(path)
    return report


def _with_manifest_entries(objects: ObjectStore, digests: set[str]) -> set[str]:
    """Return ``digests`` plus every blob that a manifest among them lists."""
    alive = set(digests)
    pending = list(digests)
    while pending:
        for entry in _manifest_entries(objects, pending.pop()):
            if entry not in alive:
                alive.add(entry)
                pending.append(entry)
    return alive


def _manifest_entries(objects: ObjectStore, digest: str) -> list[str]:
    """Return the digests a manifest blob lists, or none for any other blob."""
    path = objects.path(digest)
    try:
        if path.stat().st_size > _MANIFEST_MAX_BYTES:
            return []
        with path.open("rb") as handle:
            if handle.read(len(_MANIFEST_START)) != _MANIFEST_START:
                return []
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return []
    return [str(entry["digest"]) for entry in data.get("files", [])]


def _stored_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Yield each file of the object folder with its digest (None for temporaries)."""
    for shard in sorted(root.iterdir()):
        if not (shard.is_dir() and len(shard.name) == 2):
            continue
        for path in shard.iterdir():
            if path.name.startswith(TEMPORARY_PREFIX):
                yield path, None
            elif path.is_file() and len(path.name) == 62:
                yield path, shard.name + path.name


def _remove(path: Path) -> None:
    """Delete a blob (read-only files go with their folder's permission)."""
    path.unlink(missing_ok=True)
