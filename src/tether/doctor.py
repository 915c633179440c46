"""Check that the store and the artifact folder are whole and agree.

``tether doctor`` runs these checks: the database's own integrity check and
schema revision, and for every blob that a run, dataset version or model
version refers to, that it exists and that its content still has its
digest. Temporary files in the artifact folder are reported as warnings:
a write in progress has them, and an interrupted one leaves them behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text

from tether.artifacts import ObjectStore
from tether.artifacts.digest import digest_file
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.config import Settings
from tether.store import SqlStore
from tether.store import schema as t
from tether.store.engine import HEAD_REVISION, current_revision

MAX_LISTED = 20


@dataclass
class Check:
    """The result of one check: its name, whether it passed, problems and warnings."""

    name: str
    problems: list[str] = field(default_factory=list)
    detail: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the check found no problem."""
        return not self.problems


def missing_store(settings: Settings) -> Path | None:
    """Return the path of a SQLite store that does not exist, else None.

    Opening a store creates it, so doctor checks first and does not leave an
    empty store behind for a mistyped path.
    """
    prefix = "sqlite:///"
    if not settings.store_url.startswith(prefix):
        return None
    path = Path(settings.store_url.removeprefix(prefix))
    return None if path.exists() else path


def run_checks(store: SqlStore, objects: ObjectStore) -> list[Check]:
    """Run every check and return their results in order."""
    return [
        _database_integrity(store),
        _schema_revision(store),
        _blobs(store, objects),
        _temporary_files(objects),
    ]


def _database_integrity(store: SqlStore) -> Check:
    check = Check("database integrity")
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            results = [row[0] for row in conn.execute(text("PRAGMA integrity_check"))]
            if results != ["ok"]:
                check.problems.extend(results[:MAX_LISTED])
            check.detail = "PRAGMA integrity_check"
        else:
            conn.execute(text("SELECT 1"))
            check.detail = f"{conn.dialect.name} server reachable"
    return check


def _schema_revision(store: SqlStore) -> Check:
    revision = current_revision(store.engine)
    check = Check("schema revision", detail=f"{revision} (head {HEAD_REVISION})")
    if revision != HEAD_REVISION:
        check.problems.append(f"schema is at {revision}, expected {HEAD_REVISION}")
    return check


def _blobs(store: SqlStore, objects: ObjectStore) -> Check:
    check = Check("blobs")
    digests = _referenced_digests(store)
    verified: set[str] = set()
    pending = sorted(digests)
    while pending:
        digest = pending.pop()
        if digest in verified:
            continue
        verified.add(digest)
        problem = _verify_blob(objects, digest)
        if problem:
            check.problems.append(problem)
        elif digests.get(digest) == MANIFEST_MEDIA_TYPE:
            pending.extend(entry["digest"] for entry in objects.manifest(digest))
    check.detail = f"{len(verified)} blobs re-hashed"
    return check


def _referenced_digests(store: SqlStore) -> dict[str, str]:
    """Return every referenced digest with its media type (manifests are followed)."""
    found: dict[str, str] = {}
    with store.engine.connect() as conn:
        for digest, media_type in conn.execute(
            select(t.artifacts.c.digest, t.artifacts.c.media_type)
        ):
            found[digest] = media_type
        versions = select(
            t.dataset_versions.c.object_digest, t.dataset_versions.c.media_type
        )
        for digest, media_type in conn.execute(versions):
            # A file set's object is a manifest, whose member blobs are checked too.
            if media_type == MANIFEST_MEDIA_TYPE or digest not in found:
                found[digest] = media_type
        for (digest,) in conn.execute(select(t.model_versions.c.artifact_digest)):
            found[digest] = MANIFEST_MEDIA_TYPE
    return found


def _verify_blob(objects: ObjectStore, digest: str) -> str:
    path = objects.path(digest)
    if not path.is_file():
        return f"missing blob {digest}"
    actual = digest_file(path)
    if actual != digest:
        return f"corrupt blob {digest}: its content hashes to {actual}"
    return ""


def _temporary_files(objects: ObjectStore) -> Check:
    leftovers = sorted(str(p) for p in objects.root.glob("*/.tmp-*"))
    check = Check(
        "temporary files",
        detail=f"{len(leftovers)} found, from writes in progress or interrupted",
    )
    # A folder write keeps its temporaries until its one flush, so a file here
    # is not corruption. It can be deleted once no Tether process is writing.
    check.warnings.extend(
        f"temporary file {path}; delete it when no Tether process is writing"
        for path in leftovers[:MAX_LISTED]
    )
    return check
