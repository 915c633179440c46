"""The metadata store: runs, datasets, models and lineage in one database."""

from __future__ import annotations

import threading

from tether.config import Settings, resolve
from tether.store.sql import SqlStore

__all__ = ["SqlStore", "Store", "get_store", "reset_store"]

Store = SqlStore
_lock = threading.Lock()
_stores: dict[str, SqlStore] = {}


def get_store(settings: Settings | None = None) -> SqlStore:
    """Return the store for the current settings, opening it once per process."""
    settings = settings or resolve()
    with _lock:
        store = _stores.get(settings.store_url)
        if store is None:
            store = SqlStore(settings.store_url)
            _stores[settings.store_url] = store
        return store


def reset_store() -> None:
    """Close every open store, so the next call reads the settings again."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
