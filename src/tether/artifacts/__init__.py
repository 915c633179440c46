"""Content-addressed artifact storage and the materializers of Python values."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from tether.artifacts.digest import digest_bytes, digest_file
from tether.artifacts.objects import Blob, ObjectStore

if TYPE_CHECKING:
    from tether.config import Settings

__all__ = [
    "Blob",
    "ObjectStore",
    "bound_objects",
    "digest_bytes",
    "digest_file",
    "get_objects",
]

_objects: dict[str, ObjectStore] = {}
_bound: ContextVar[ObjectStore | None] = ContextVar(
    "tether_bound_objects", default=None
)


@contextmanager
def bound_objects(objects: ObjectStore) -> Iterator[None]:
    """Make ``get_objects()`` return ``objects`` in this context (a server request)."""
    token = _bound.set(objects)
    try:
        yield
    finally:
        _bound.reset(token)


def get_objects(root: str | None = None) -> ObjectStore:
    """Return the object store of the current settings, one per root.

    When the store is a Tether server and ``TETHER_ARTIFACTS`` is not set,
    blobs go to that server too, through a cache folder under the home.
    """
    from tether.config import resolve

    if root is None and (bound := _bound.get()) is not None:
        return bound
    settings = resolve()
    if root is None and settings.remote and not settings.artifacts_set:
        return _server_objects(settings)
    url = root or settings.artifacts_url
    if url not in _objects:
        _objects[url] = ObjectStore(url)
    return _objects[url]


def _server_objects(settings: Settings) -> ObjectStore:
    from tether.artifacts.http_objects import HttpObjectStore

    key = f"{settings.store_url}#{settings.workspace}"
    if key not in _objects:
        _objects[key] = HttpObjectStore(
            settings.store_url,
            settings.workspace,
            settings.token,
            settings.home / "cache" / settings.workspace / "objects",
        )
    return _objects[key]
