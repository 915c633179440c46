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
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    inspect,
    text,
)

from tether.errors import StoreError
from tether.store.engine import HEAD_REVISION, alembic_config, current_revision
from tether.store.schema import metadata
from tether.store.sql import SqlStore

# These tests open the database itself, so a Tether server cannot stand in.
pytestmark = pytest.mark.sql_store

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


def _engine_at(url: str, revision: str) -> Engine:
    """Return an engine on ``url`` with the schema migrated to ``revision`` only."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


FIRST_RELEASE_ROWS = {
    "experiments": [
        {"id": "e1", "name": "flights", "created_at": "2026-12-01 10:00:00"}
    ],
    "runs": [
        {
            "id": "r1",
            "experiment_id": "e1",
            "name": "train",
            "kind": "run",
            "status": "FINISHED",
            "start_time": "2026-12-01 10:00:00",
            "source": "{}",
        },
        {
            "id": "r2",
            "experiment_id": "e1",
            "name": "still going",
            "kind": "run",
            "status": "RUNNING",
            "start_time": "2026-12-01 11:00:00",
            "source": "{}",
        },
    ],
    "params": [{"run_id": "r1", "key": "max depth", "value": "6"}],
    "metrics": [
        {"run_id": "r1", "key": "val/auc", "step": 0, "timestamp": 1.0, "value": 0.7},
        {"run_id": "r1", "key": "val/auc", "step": 1, "timestamp": 2.0, "value": 0.8},
    ],
    "latest_metrics": [
        {"run_id": "r1", "key": "val/auc", "step": 1, "timestamp": 2.0, "value": 0.8}
    ],
}


def _insert_first_release_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        for table, rows in FIRST_RELEASE_ROWS.items():
            for row in rows:
                columns = ", ".join(f'"{c}"' for c in row)
                marks = ", ".join(f":{c}" for c in row)
                conn.execute(
                    text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), row
                )


def test_upgrade_from_first_schema_keeps_data(store_url: str) -> None:
    old = _engine_at(store_url, "0001")
    _insert_first_release_rows(old)
    old.dispose()
    store = SqlStore(store_url)
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
        indexes = {i["name"] for i in inspect(conn).get_indexes("runs")}
    run = store.get_run("r1")
    history = store.metric_history("r1", "val/auc")
    running = [run_id for run_id, _ in store.running_processes()]
    page, _ = store.search_runs(filter="metrics.`val/auc` > 0.75")
    revision = current_revision(store.engine)
    store.close()
    assert revision == HEAD_REVISION == "0010"
    assert differences == []
    assert "ix_runs_status" in indexes
    assert (run.experiment, run.name, run.status) == ("flights", "train", "FINISHED")
    assert run.params == {"max depth": "6"}
    assert run.metrics == {"val/auc": 0.8}
    assert [(p.step, p.value) for p in history] == [(0, 0.7), (1, 0.8)]
    assert running == ["r2"]
    assert [r.id for r in page] == ["r1"]


def test_downgrade_to_first_schema(store_url: str) -> None:
    store = SqlStore(store_url)
    store.create_run(experiment="flights", name="kept")
    config = alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    with store.engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("runs")}
        names = conn.execute(text("SELECT name FROM runs")).scalars().all()
    revision = current_revision(store.engine)
    store.close()
    assert revision == "0001"
    assert "ix_runs_status" not in indexes
    assert names == ["kept"]


def test_newer_schema_is_refused(store_url: str) -> None:
    SqlStore(store_url).close()
    engine = create_engine(
        store_url.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(StoreError) as caught:
        SqlStore(store_url)
    message = str(caught.value)
    assert "schema revision '0999'" in message
    assert "upgrade Tether to open it" in message
