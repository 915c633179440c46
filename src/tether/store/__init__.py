"""The metadata store: runs, datasets, models and lineage in one database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import cast

from tether.config import SERVER_SCHEMES, Settings, resolve
from tether.store.sql import SqlStore

__all__ = [
    "SqlStore",
    "Store",
    "bound_store",
    "get_store",
    "open_store",
    "reset_store",
]

Store = SqlStore
_lock = threading.Lock()
_stores: dict[str, SqlStore] = {}
_bound: ContextVar[SqlStore | None] = ContextVar("tether_bound_store", default=None)


@contextmanager
def bound_store(store: SqlStore) -> Iterator[None]:
    """Make ``get_store()`` return ``store`` in this context (a server request).

    The server binds the store of the request's workspace, so SDK functions
    called by its routes act on that workspace and not on the process's
    settings.
    """
    token = _bound.set(store)
    try:
        yield
    finally:
        _bound.reset(token)


def get_store(settings: Settings | None = None) -> SqlStore:
    """Return the store for the current settings, opening it once per process."""
    if settings is None and (bound := _bound.get()) is not None:
        return bound
    settings = settings or resolve()
    with _lock:
        key = f"{settings.store_url}#{settings.workspace}"
        store = _stores.get(key)
        if store is None:
            store = open_store(settings.store_url, settings)
            _stores[key] = store
        return store


def open_store(url: str, settings: Settings | None = None) -> SqlStore:
    """Open the store at ``url``: a database, or a Tether server over HTTP.

    A server's store has the same methods as ``SqlStore`` (it is built from
    the same catalogue of operations), so callers see one type.
    """
    if not url.startswith(SERVER_SCHEMES):
        return SqlStore(url)
    from tether.store.http import HttpStore

    settings = settings or resolve()
    remote = HttpStore(url, workspace=settings.workspace, token=settings.token)
    return cast(SqlStore, remote)


def reset_store() -> None:
    """Close every open store, so the next call reads the settings again."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
