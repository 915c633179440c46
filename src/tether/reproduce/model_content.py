"""Digest a model version's content independently of how skops names its parts.

skops names each array file and each ``__id__`` in its ``schema.json`` after
the Python ``id()`` of the object it saved, so two fits that give equal
models still write different ``.skops`` bytes. The content digest renames
both in the order they appear in the schema, replaces each file name by the
digest of the file, and leaves every other file of the version as stored.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tether.artifacts import get_objects
from tether.artifacts.digest import digest_bytes
from tether.errors import NotFoundError
from tether.store.records import ModelVersionRecord

SKOPS_SUFFIX = ".skops"
SKOPS_SCHEMA = "schema.json"


def content_digest(record: ModelVersionRecord) -> str | None:
    """Return the digest of a version's files with skops names made stable.

    Returns None when the version's files are no longer stored.
    """
    objects = get_objects()
    try:
        entries = objects.manifest(record.artifact_digest)
        parts = {
            entry["path"]: _file_digest(entry["path"], entry["digest"])
            for entry in entries
        }
    except (NotFoundError, zipfile.BadZipFile, KeyError, ValueError):
        return None
    return digest_bytes(json.dumps(parts, sort_keys=True).encode())


def _file_digest(path: str, digest: str) -> str:
    if not path.endswith(SKOPS_SUFFIX):
        return digest
    return skops_digest(get_objects().read_bytes(digest))


def skops_digest(data: bytes) -> str:
    """Return the digest of a skops file with its ids and file names made stable."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        files = {name: digest_bytes(archive.read(name)) for name in names}
        schema = json.loads(archive.read(SKOPS_SCHEMA))
    ids: dict[int, int] = {}
    stable = {
        "schema": _stable(schema, ids, files),
        "files": sorted(d for name, d in files.items() if name != SKOPS_SCHEMA),
    }
    return digest_bytes(json.dumps(stable, sort_keys=True).encode())


def _stable(value: Any, ids: dict[int, int], files: dict[str, str]) -> Any:
    """Rename ``__id__`` values by first appearance and file names by content digest."""
    if isinstance(value, list):
        return [_stable(item, ids, files) for item in value]
    if not isinstance(value, dict):
        return value
    renamed: dict[str, Any] = {}
    for key, item in value.items():
        if key == "__id__" and isinstance(item, int):
            renamed[key] = ids.setdefault(item, len(ids))
        elif key == "file" and isinstance(item, str) and item in files:
            renamed[key] = files[item]
        else:
            renamed[key] = _stable(item, ids, files)
    return renamed
