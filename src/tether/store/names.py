"""Look up the id of a named row (experiment, dataset, model), creating it on first use."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from tether.ids import new_id
from tether.store.time import utcnow


def id_for_name(engine: Engine, table: Table, name: str, **columns: Any) -> str:
    """Return the id of the row called ``name`` in ``table``, inserting it if missing.

    ``columns`` are extra values for a new row. When another writer inserts
    the same name first, the unique constraint rejects this insert and the
    lookup runs again, so every writer gets the same id.
    """
    with engine.connect() as conn:
        found = conn.execute(select(table.c.id).where(table.c.name == name)).scalar()
    if found:
        return str(found)
    try:
        with engine.begin() as conn:
            new = new_id()
            conn.execute(
                insert(table).values(id=new, name=name, created_at=utcnow(), **columns)
            )
            return new
    except IntegrityError:
        return id_for_name(engine, table, name, **columns)
