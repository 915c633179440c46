"""Transactions that serialize writers of one parent row, on SQLite and PostgreSQL.

Version numbers are allocated as "the highest so far plus one". Two writers
must not read the same highest number, so the allocation runs while holding
a lock: the database write lock on SQLite (``BEGIN IMMEDIATE``), a row lock
on the parent dataset or model on PostgreSQL (``SELECT … FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Table, select

from tether.store.transactions import take_sqlite_write_lock


@contextmanager
def locked_parent(engine: Engine, table: Table, row_id: str) -> Iterator[Connection]:
    """Yield a connection in a transaction that holds the lock on one parent row."""
    with engine.begin() as conn:
        take_sqlite_write_lock(conn)
        if conn.dialect.name != "sqlite":
            conn.execute(
                select(table.c.id).where(table.c.id == row_id).with_for_update()
            )
        yield conn
