"""Content-addressed artifact storage and the materializers of Python values."""

from __future__ import annotations

from tether.artifacts.digest import digest_bytes, digest_file
from tether.artifacts.objects import Blob, ObjectStore

__all__ = ["Blob", "ObjectStore", "digest_bytes", "digest_file", "get_objects"]

_objects: dict[str, ObjectStore] = {}


def get_objects(root: str | None = None) -> ObjectStore:
    """Return the object store of the current settings, one per root."""
    from tether.config import resolve

    url = root or resolve().artifacts_url
    if url not in _objects:
        _objects[url] = ObjectStore(url)
    return _objects[url]
