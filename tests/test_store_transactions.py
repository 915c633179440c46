"""Write transactions: the SQLite write lock, retries with jitter, and giving up."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from tether.errors import StoreError
from tether.store import transactions
from tether.store.sql import SqlStore


def _short_timeout_engine(path: Path) -> Engine:
    """An engine on ``path`` whose busy timeout is 20 ms, so conflicts surface."""
    return create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.02})


def _hold_write_lock(path: Path, seconds: float, ready: threading.Event) -> None:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    ready.set()
    time.sleep(seconds)
    holder.execute("COMMIT")
    holder.close()


def test_pause_grows_and_stays_within_bounds() -> None:
    ceilings = [
        max(transactions.pause(attempt) for _ in range(200)) for attempt in range(10)
    ]
    assert all(0 <= c <= transactions.MAX_PAUSE_SECONDS for c in ceilings)
    assert ceilings[0] <= transactions.FIRST_PAUSE_SECONDS
    assert ceilings[-1] > transactions.FIRST_PAUSE_SECONDS * 16


def test_locked_sqlite_write_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.db"
    engine = _short_timeout_engine(path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    pauses: list[int] = []
    real_pause = transactions.pause

    def counted_pause(attempt: int) -> float:
        pauses.append(attempt)
        return real_pause(attempt)

    monkeypatch.setattr(transactions, "pause", counted_pause)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.3, ready))
    holder.start()
    ready.wait(5)

    def insert(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        return 7

    result = transactions.write(engine, insert)
    holder.join()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM t")).scalar()
    engine.dispose()
    assert result == 7
    assert rows == 1
    assert len(pauses) >= 2
    assert pauses == list(range(len(pauses)))


def test_write_gives_up_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stuck.db"
    engine = _short_timeout_engine(path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    monkeypatch.setattr(transactions, "RETRY_SECONDS", 0.2)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.0, ready))
    holder.start()
    ready.wait(5)
    with pytest.raises(StoreError) as caught:
        transactions.write(
            engine, lambda conn: conn.execute(text("INSERT INTO t VALUES (1)"))
        )
    holder.join()
    engine.dispose()
    message = str(caught.value)
    assert "the store stayed busy for 0.2 s: database is locked" in message
    assert "use PostgreSQL there" in message


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    engine = _short_timeout_engine(tmp_path / "plain.db")
    calls: list[int] = []

    def broken(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text("INSERT INTO missing VALUES (1)"))

    with pytest.raises(Exception, match="no such table: missing"):
        transactions.write(engine, broken)
    engine.dispose()
    assert calls == [1]


def test_postgres_serialization_failure_is_retried(postgres_url: str) -> None:
    store = SqlStore(postgres_url)
    attempts: list[int] = []

    def conflict_once(conn: Connection) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            # The server raises a real serialization_failure (SQLSTATE 40001).
            conn.execute(
                text(
                    "DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' "
                    "USING ERRCODE = '40001'; END $$"
                )
            )
        return str(conn.execute(text("SELECT 'written'")).scalar())

    result = transactions.write(store.engine, conflict_once)
    store.close()
    assert result == "written"
    assert attempts == [1, 1]


def test_postgres_other_errors_are_not_retried(postgres_url: str) -> None:
    store = SqlStore(postgres_url)
    attempts: list[int] = []

    def unique_violation(conn: Connection) -> None:
        attempts.append(1)
        conn.execute(
            text("DO $$ BEGIN RAISE EXCEPTION 'dup' USING ERRCODE = '23505'; END $$")
        )

    with pytest.raises(Exception, match="dup"):
        transactions.write(store.engine, unique_violation)
    store.close()
    assert attempts == [1]
