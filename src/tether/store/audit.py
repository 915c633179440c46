"""Append one event to the audit trail inside a caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from tether.store import schema as t
from tether.store.time import utcnow


def audit(
    conn: Connection, actor: str, action: str, entity: str, details: dict[str, Any]
) -> None:
    """Insert an audit event; it commits or rolls back with ``conn``'s transaction."""
    conn.execute(
        insert(t.audit_events).values(
            time=utcnow(), actor=actor, action=action, entity=entity, details=details
        )
    )
