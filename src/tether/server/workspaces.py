"""Workspaces: each one a store and an object folder of its own.

A workspace is isolated by construction. Its runs, data sets, models and
deployments live in their own database (a SQLite file, or a PostgreSQL
schema), and its blobs in their own folder. So no query of one workspace can
return a row of another. The ``default`` workspace is the server's store and
artifact folder themselves, so a server started on an existing local store
shows what is already there.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from tether.artifacts import ObjectStore
from tether.config import resolve
from tether.store import SqlStore
from tether.store.account_ops import DEFAULT_WORKSPACE, check_workspace_name

MAX_IDENTIFIER_BYTES = 63

__all__ = [
    "DEFAULT_WORKSPACE",
    "WorkspaceStores",
    "check_workspace_name",
    "open_workspace_objects",
    "workspace_cache_root",
    "workspace_objects_root",
    "workspace_store_url",
]

S3_SCHEME = "s3://"


def workspace_store_url(base_url: str, name: str) -> str:
    """Return the store URL of workspace ``name`` next to the server's store."""
    check_workspace_name(name)
    if name == DEFAULT_WORKSPACE:
        return base_url
    if base_url.startswith("sqlite:"):
        path = Path(base_url.split(":///", 1)[1])
        return f"sqlite:///{path.parent / 'workspaces' / name / path.name}"
    return _with_search_path(base_url, postgres_schema(base_url, name))


def postgres_schema(base_url: str, name: str) -> str:
    """Return the PostgreSQL schema of workspace ``name``.

    When the server's own store sits in a schema of its own (set by
    ``options=-csearch_path=…``), workspace schemas take its name as their
    prefix, so two servers on one database never share a workspace.
    PostgreSQL cuts identifiers at 63 bytes, so a longer name is shortened
    and ends with a digest of the whole name, which keeps every workspace's
    schema distinct.
    """
    base = _search_path(base_url) or "tether"
    schema = f"{base}_ws_" + name.replace("-", "_")
    if len(schema.encode()) <= MAX_IDENTIFIER_BYTES:
        return schema
    digest = hashlib.sha256(schema.encode()).hexdigest()[:16]
    return f"{schema.encode()[: MAX_IDENTIFIER_BYTES - 17].decode(errors='ignore')}_{digest}"


def _search_path(url: str) -> str | None:
    """Return the first schema of the ``search_path`` that ``url``'s options set."""
    for setting in _option_settings(url):
        if setting.startswith("search_path="):
            return setting.removeprefix("search_path=").split(",")[0].strip('"')
    return None


def _option_settings(url: str) -> list[str]:
    """Return the ``-c NAME=VALUE`` settings of ``url``'s libpq ``options``."""
    settings = []
    for key, value in parse_qsl(urlsplit(url).query):
        if key != "options":
            continue
        tokens = iter(value.split())
        for token in tokens:
            if token == "-c":
                token = next(tokens, "")
            settings.append(token.removeprefix("-c"))
    return settings


def _with_search_path(url: str, schema: str) -> str:
    """Return ``url`` with its options setting ``search_path`` to ``schema``.

    Every other setting of the URL's options (a statement timeout, say) is kept.
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    settings = [s for s in _option_settings(url) if not s.startswith("search_path=")]
    settings.append(f"search_path={schema}")
    query.append(("options", " ".join(f"-c{setting}" for setting in settings)))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def workspace_objects_root(artifacts_root: str, name: str) -> str:
    """Return the object folder, or ``s3://`` URL, of workspace ``name``."""
    check_workspace_name(name)
    if name == DEFAULT_WORKSPACE:
        return artifacts_root
    if artifacts_root.startswith(S3_SCHEME):
        return f"{artifacts_root.rstrip('/')}/workspaces/{name}"
    return str(Path(artifacts_root).parent / "workspaces" / name / "objects")


def workspace_cache_root(store_url: str, name: str) -> Path:
    """Return the local cache folder of workspace ``name`` when blobs are in S3.

    It is ``server-cache/<name>`` beside a SQLite store, and otherwise under
    ``TETHER_HOME`` (``.tether`` in the current folder by default).
    """
    check_workspace_name(name)
    if store_url.startswith("sqlite:"):
        database = Path(store_url.split(":///", 1)[1])
        return database.absolute().parent / "server-cache" / name
    return resolve().home / "server-cache" / name


def open_workspace_objects(
    store_url: str, artifacts_root: str, name: str
) -> ObjectStore:
    """Return a new object store of workspace ``name``: a folder, or an S3 prefix."""
    root = workspace_objects_root(artifacts_root, name)
    if not root.startswith(S3_SCHEME):
        return ObjectStore(root)
    from tether.artifacts.s3_objects import S3ObjectStore

    return S3ObjectStore(root, workspace_cache_root(store_url, name))


class WorkspaceStores:
    """Opens each workspace's store and object folder once, on first use."""

    def __init__(self, store_url: str, artifacts_root: str) -> None:
        self.store_url = store_url
        self.artifacts_root = artifacts_root
        self._lock = threading.Lock()
        self._stores: dict[str, SqlStore] = {}
        self._objects: dict[str, ObjectStore] = {}

    def store(self, name: str) -> SqlStore:
        """Return the store of workspace ``name``, creating its database if needed."""
        with self._lock:
            found = self._stores.get(name)
            if found is None:
                url = workspace_store_url(self.store_url, name)
                if name != DEFAULT_WORKSPACE and not url.startswith("sqlite:"):
                    _create_schema(
                        self.store_url, postgres_schema(self.store_url, name)
                    )
                found = SqlStore(url)
                self._stores[name] = found
            return found

    def objects(self, name: str) -> ObjectStore:
        """Return the object store of workspace ``name``, opening it on first use."""
        with self._lock:
            found = self._objects.get(name)
            if found is None:
                found = open_workspace_objects(
                    self.store_url, self.artifacts_root, name
                )
                self._objects[name] = found
            return found

    def close(self) -> None:
        """Release every open store."""
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            self._objects.clear()


def _create_schema(base_url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    url = base_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()
