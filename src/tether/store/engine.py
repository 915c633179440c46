"""Open a SQL engine and bring its schema to the latest migration."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError as DBAPIDatabaseError
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from tether.errors import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0010"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed number works, as long as every Tether process uses the same one.
MIGRATION_LOCK_KEY = 0x7E7_4E40


def open_engine(url: str) -> Engine:
    """Create an engine for ``url`` and migrate its schema to the head revision."""
    if url.startswith("sqlite:///"):
        _ensure_sqlite_folder(url)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _configure_sqlite)
    elif url.startswith("postgresql"):
        engine = create_engine(_with_psycopg(url), pool_pre_ping=True)
    else:
        raise StoreError(
            f"unsupported store URL {_redact(url)!r}; use a SQLite path, sqlite:///PATH "
            "or postgresql://USER@HOST/DB"
        )
    try:
        migrate(engine)
    except BaseException as exc:
        engine.dispose()
        if not isinstance(exc, DBAPIDatabaseError):
            raise
        reason = " ".join(str(exc.orig).split())
        hint = _open_hint(url, exc)
        raise StoreError(
            f"cannot open the store at {_redact(url)}: {reason}; {hint}"
        ) from exc
    return engine


def _open_hint(url: str, exc: DBAPIDatabaseError) -> str:
    if not url.startswith("sqlite"):
        return "check that the database server is running and the URL is right"
    if isinstance(exc, OperationalError):
        return "check that the path is writable"
    return "the file is not a Tether store: point TETHER_STORE at a store or a new path"


def migrate(engine: Engine) -> None:
    """Apply Alembic migrations up to the head; skip Alembic when already there.

    Processes that open a new store at the same time take a database lock
    first, so one of them creates the tables and the others find the head.
    """
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        _lock_for_migration(connection)
        revision = _revision_of(connection)
        if revision == HEAD_REVISION:
            return
        _check_known(config, revision, engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.info(
        "migrated store %s to revision %s", _redact(str(engine.url)), HEAD_REVISION
    )


def alembic_config() -> Any:
    """Return an Alembic configuration that finds Tether's migration scripts."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _check_known(config: Any, revision: str | None, engine: Engine) -> None:
    """Refuse a schema written by a newer Tether instead of failing inside Alembic."""
    from alembic.script import ScriptDirectory

    known = {
        script.revision
        for script in ScriptDirectory.from_config(config).walk_revisions()
    }
    if revision is not None and revision not in known:
        raise StoreError(
            f"the store at {_redact(str(engine.url))} has schema revision {revision!r}, "
            f"which this version of Tether does not know (its newest is {HEAD_REVISION!r}); "
            "upgrade Tether to open it"
        )


def current_revision(engine: Engine) -> str | None:
    """Return the Alembic revision of the schema, or None for an empty database."""
    try:
        with engine.connect() as connection:
            return _revision_of(connection)
    except SQLAlchemyError as exc:
        if isinstance(exc, DBAPIDatabaseError):
            raise
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise StoreError(f"cannot read the store schema: {reason}") from exc


def _revision_of(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _lock_for_migration(connection: Connection) -> None:
    """Hold a lock until the migration transaction ends."""
    if connection.dialect.name == "sqlite":
        # pysqlite runs DDL outside a transaction unless one is begun explicitly.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch a new database to WAL, retrying while another connection has it locked.

    Changing the journal mode needs an exclusive lock and SQLite reports
    "database is locked" at once instead of waiting on the busy timeout.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _ensure_sqlite_folder(url: str) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    if path.is_dir():
        raise StoreError(
            f"the store path {path} is a folder, not a database file; set TETHER_STORE "
            "to a file path such as .tether/tether.db"
        )
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise StoreError(
            f"cannot create the store folder {path.parent}: {blocker} is a file, not a "
            "folder; set TETHER_HOME or TETHER_STORE to a writable location"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the store folder {path.parent}: {exc.strerror}; set TETHER_HOME "
            "or TETHER_STORE to a writable location"
        ) from exc
    if not _writable(path):
        raise StoreError(
            f"the store file {path} is not writable; fix its permissions or set "
            "TETHER_HOME or TETHER_STORE to a writable location"
        )


def _writable(path: Path) -> bool:
    """Return whether SQLite can write ``path`` and its journal files beside it."""
    import os

    if path.exists() and not os.access(path, os.W_OK):
        return False
    return os.access(path.parent, os.W_OK)


def _with_psycopg(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _redact(url: str) -> str:
    """Hide a password in a database URL before it reaches a message or a log."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
