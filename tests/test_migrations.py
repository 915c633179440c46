"""Opening a store: Alembic migrations, schema drift and errors on bad locations."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, text

from tether.errors import StoreError
from tether.store.engine import HEAD_REVISION, current_revision
from tether.store.schema import metadata
from tether.store.sql import SqlStore

TABLES = sorted(metadata.tables)


def test_fresh_store_at_head(store_url: str) -> None:
    store = SqlStore(store_url)
    with store.engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        tables = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
    store.close()
    assert versions == [(HEAD_REVISION,)]
    assert tables == TABLES


def test_schema_matches_metadata(store_url: str) -> None:
    store = SqlStore(store_url)
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    assert differences == []


def test_compare_sees_extra_table(store_url: str) -> None:
    extended = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(extended)
    Table("extra", extended, Column("id", Integer, primary_key=True))
    store = SqlStore(store_url)
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), extended)
    store.close()
    assert [(d[0], d[1].name) for d in differences] == [("add_table", "extra")]


def test_empty_database_has_no_revision(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(engine) is None
    engine.dispose()


def test_reopen_skips_alembic(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    SqlStore(store_url).close()

    def fail_upgrade(*args: object, **kwargs: object) -> None:
        raise AssertionError("Alembic ran on a store that is already at the head")

    monkeypatch.setattr(command, "upgrade", fail_upgrade)
    store = SqlStore(store_url)
    revision = current_revision(store.engine)
    run_id = store.create_run(experiment="exp", name="after-reopen")
    store.close()
    assert revision == HEAD_REVISION
    assert len(run_id) == 26


def test_concurrent_opens_migrate_once(store_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        try:
            barrier.wait(timeout=30)
            SqlStore(store_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    store = SqlStore(store_url)
    with store.engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    store.close()
    assert errors == []
    assert versions == [(HEAD_REVISION,)]


def unwritable_store_path(tmp_path: Path) -> tuple[Path, Path]:
    """Return a store file that cannot be written and the path its error names."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder / "tether.db", folder / "tether.db"
    # root ignores permission bits, but no user can create a folder inside a file.
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    return blocker / "sub" / "tether.db", blocker / "sub"


def test_unwritable_path_names_fix(tmp_path: Path) -> None:
    path, named = unwritable_store_path(tmp_path)
    with pytest.raises(StoreError) as caught:
        SqlStore(f"sqlite:///{path}")
    message = str(caught.value)
    assert str(named) in message
    assert "set TETHER_HOME or TETHER_STORE to a writable location" in message
    assert not path.exists()


def test_unsupported_url_rejected() -> None:
    with pytest.raises(StoreError, match=r"^unsupported store URL 'mysql://x'; use"):
        SqlStore("mysql://x")


def test_unsupported_url_hides_password() -> None:
    with pytest.raises(StoreError, match=r"unsupported store URL") as caught:
        SqlStore("mysql://admin:topsecret77@db.internal/app")
    assert "topsecret77" not in str(caught.value)
    assert "admin:***@db.internal" in str(caught.value)


def test_postgres_error_hides_password() -> None:
    url = "postgresql://tether:hunter2secret@127.0.0.1:1/tether"
    with pytest.raises(
        StoreError, match=re.escape("cannot open the store at")
    ) as caught:
        SqlStore(url)
    message = str(caught.value)
    assert "hunter2secret" not in message
    assert "tether:***@127.0.0.1:1/tether" in message
    assert "database server is running" in message
