"""Write transactions that wait for the write lock and retry transient conflicts.

On SQLite a write transaction starts with ``BEGIN IMMEDIATE``, which takes
the write lock at once and waits up to the busy timeout for it. A transaction
that started as a reader would instead fail with "database is locked" when it
tried to write while another connection held the lock. On PostgreSQL,
serialization failures and deadlocks are transient. Either way the whole transaction is
run again after a random pause that doubles with every attempt (full jitter),
so many writers that collide spread out instead of colliding again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from tether.errors import StoreError

T = TypeVar("T")

RETRY_SECONDS = 60.0
FIRST_PAUSE_SECONDS = 0.005
MAX_PAUSE_SECONDS = 1.0
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "is busy")
# serialization_failure, deadlock_detected, lock_not_available
_POSTGRES_TRANSIENT = {"40001", "40P01", "55P03"}


def write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one write transaction and return its result.

    ``work`` may run more than once, so it must only touch the database
    through the connection it is given.

    Raises:
        StoreError: the transaction still conflicted after ``RETRY_SECONDS``.
    """
    deadline = time.monotonic() + RETRY_SECONDS
    attempt = 0
    while True:
        try:
            with engine.begin() as conn:
                take_sqlite_write_lock(conn)
                return work(conn)
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"the store stayed busy for {RETRY_SECONDS:g} s: "
                    f"{' '.join(str(exc.orig).split())}; another process holds a "
                    "long write transaction, or the database is on a network file "
                    "system where SQLite locking does not work (use PostgreSQL there)"
                ) from exc
        time.sleep(pause(attempt))
        attempt += 1


def take_sqlite_write_lock(conn: Connection) -> None:
    """Start the transaction of ``conn`` with the write lock, on SQLite only."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def pause(attempt: int) -> float:
    """Return a random pause before retry number ``attempt`` (0 for the first)."""
    ceiling = min(MAX_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2**attempt)
    return random.uniform(0.0, ceiling)


def is_transient(exc: DBAPIError) -> bool:
    """Return whether a database error is a lock conflict worth retrying."""
    code = getattr(exc.orig, "sqlstate", None)
    if code is not None:
        return code in _POSTGRES_TRANSIENT
    message = str(exc.orig).lower()
    return any(fragment in message for fragment in _SQLITE_TRANSIENT)
