"""Batched row writes shared by the store's operations, inside a caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

from tether.store import schema as t
from tether.store.records import ArtifactRecord, Edge
from tether.store.time import utcnow
from tether.store.upserts import insert_ignoring_duplicates, upsert


def upsert_rows(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    """Run one ``INSERT … ON CONFLICT DO UPDATE`` for the whole batch."""
    if not rows:
        return
    # A batch may name a key twice; the last value wins, as one by one.
    unique = {tuple(row[k] for k in keys): row for row in rows}
    statement = upsert(conn.dialect.name, table, tuple(rows[0]), keys)
    conn.execute(statement, list(unique.values()))


def artifact_row(record: ArtifactRecord) -> dict[str, Any]:
    """Return the ``artifacts`` row of a record."""
    return {
        "run_id": record.run_id,
        "path": record.path,
        "digest": record.digest,
        "size": record.size,
        "media_type": record.media_type,
        "is_dir": record.is_dir,
        "role": record.role,
    }


def write_artifacts_and_edges(
    conn: Connection, records: Sequence[ArtifactRecord], edges: Sequence[Edge]
) -> None:
    """Upsert artifact records and insert lineage edges, ignoring duplicate edges."""
    upsert_rows(
        conn, t.artifacts, [artifact_row(r) for r in records], ("run_id", "path")
    )
    now = utcnow()
    edge_rows = [
        {
            "src_kind": e.src_kind,
            "src_id": e.src_id,
            "dst_kind": e.dst_kind,
            "dst_id": e.dst_id,
            "relation": e.relation,
            "created_at": now,
        }
        for e in dict.fromkeys(edges)
    ]
    if edge_rows:
        statement = insert_ignoring_duplicates(conn.dialect.name, t.lineage_edges)
        conn.execute(statement, edge_rows)
