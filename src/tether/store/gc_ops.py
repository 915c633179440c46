"""Store operations behind ``tether gc``: delete marked runs and versions for good.

Deleting a run or a model version only marks it. Purging removes the rows of
marked entities that nothing alive still needs: a marked run stays while a
live run, dataset version or model version refers to it. The digests that the
remaining rows mention are what keeps a blob alive. To err on the side of
keeping data, every 64-hex-digit text anywhere in a text or JSON column counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    String,
    Text,
    delete,
    or_,
    select,
    update,
)

from tether.store import schema as t
from tether.store.time import utcnow
from tether.store.transactions import write

DIGEST_PATTERN = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_NUMERIC_TABLES = {"metrics", "latest_metrics", "metric_rollups"}
# Tables whose rows belong to one run and go with it.
_RUN_TABLES = (
    t.params,
    t.tags,
    t.metrics,
    t.latest_metrics,
    t.metric_rollups,
    t.artifacts,
    t.step_calls,
)


@dataclass
class PurgeResult:
    """The rows a purge removed (or would remove, on a dry run) and the runs it kept.

    Attributes:
        kept_runs: Marked runs that stay, with the reason.
        referenced: Every digest the remaining rows mention.
    """

    runs: list[str] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    model_version_uris: list[str] = field(default_factory=list)
    kept_runs: dict[str, str] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)


class _RollBack(Exception):  # noqa: N818 - control flow, not an error
    """Raised inside a dry run's transaction so that it rolls back."""

    def __init__(self, result: PurgeResult) -> None:
        super().__init__("dry run")
        self.result = result


class GcOps:
    """Marking runs deleted and purging marked rows; mixed into the SQL store."""

    engine: Engine

    def delete_run(self, run_id: str, *, actor: str = "local") -> list[str]:
        """Mark a run and every run below it deleted; return their ids."""
        ids = self._with_descendants(run_id)

        def mark(conn: Connection) -> None:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id.in_(ids), t.runs.c.deleted_at.is_(None))
                .values(deleted_at=utcnow())
            )
            conn.execute(
                t.audit_events.insert().values(
                    time=utcnow(),
                    actor=actor,
                    action="delete",
                    entity=f"runs:/{run_id}",
                    details={"runs": len(ids)},
                )
            )

        write(self.engine, mark)
        return ids

    def purge_deleted(self, *, dry_run: bool = False) -> PurgeResult:
        """Remove the rows of marked model versions and of marked runs nothing needs.

        In the same transaction, collect the digests that the remaining rows
        mention into ``PurgeResult.referenced``. A dry run rolls the
        transaction back, so it reports exactly what a real run would do.
        """

        def work(conn: Connection) -> PurgeResult:
            result = _plan(conn)
            _purge(conn, result)
            result.referenced = _referenced_digests(conn)
            if dry_run:
                raise _RollBack(result)
            return result

        try:
            return write(self.engine, work)
        except _RollBack as rolled_back:
            return rolled_back.result

    def _with_descendants(self, run_id: str) -> list[str]:
        self.get_run(run_id)  # type: ignore[attr-defined]
        ids = [run_id]
        frontier = [run_id]
        with self.engine.connect() as conn:
            while frontier:
                children = [
                    str(c)
                    for c in conn.execute(
                        select(t.runs.c.id).where(t.runs.c.parent_id.in_(frontier))
                    ).scalars()
                ]
                frontier = [c for c in children if c not in ids]
                ids.extend(frontier)
        return ids


def _plan(conn: Connection) -> PurgeResult:
    versions = t.model_versions
    marked = (
        select(versions.c.id, t.models.c.name, versions.c.version)
        .join(t.models, t.models.c.id == versions.c.model_id)
        .where(versions.c.deleted_at.is_not(None))
        .order_by(t.models.c.name, versions.c.version)
    )
    rows = conn.execute(marked).all()
    runs, kept = _purgeable_runs(conn)
    return PurgeResult(
        runs=runs,
        model_versions=[str(row.id) for row in rows],
        model_version_uris=[f"models:/{row.name}/{row.version}" for row in rows],
        kept_runs=kept,
    )


def _referenced_digests(conn: Connection) -> set[str]:
    """Return every digest that a row mentions, in a digest column or in text.

    The metric tables hold numbers under run ids and keys, and are skipped.
    """
    found: set[str] = set()
    for table in t.metadata.sorted_tables:
        if table.name in _NUMERIC_TABLES:
            continue
        columns = [c for c in table.columns if _may_hold_digest(c.type)]
        for row in conn.execute(select(*columns)):
            for value in row:
                found.update(_digests_in(value))
    return found


def _may_hold_digest(column_type: Any) -> bool:
    return isinstance(column_type, String | Text | JSON)


def _digests_in(value: Any) -> Iterable[str]:
    if value is None or isinstance(value, int | float | bool):
        return ()
    text = value if isinstance(value, str) else repr(value)
    return DIGEST_PATTERN.findall(text)


def _purgeable_runs(conn: Connection) -> tuple[list[str], dict[str, str]]:
    """Return marked runs that can go, and those kept with the reason."""
    runs = t.runs
    marked = {
        str(row.id): row
        for row in conn.execute(
            select(runs.c.id, runs.c.parent_id).where(runs.c.deleted_at.is_not(None))
        )
    }
    needed = _needed_runs(conn)
    kept = {run_id: needed[run_id] for run_id in marked if run_id in needed}
    # A kept run keeps its marked ancestors, whose rows it points at.
    pending = list(kept)
    while pending:
        parent = marked[pending.pop()].parent_id
        if parent in marked and parent not in kept:
            kept[str(parent)] = "a run below it is still needed"
            pending.append(str(parent))
    return [run_id for run_id in marked if run_id not in kept], kept


def _needed_runs(conn: Connection) -> dict[str, str]:
    """Return the runs that live rows refer to, with the reason."""
    runs, versions = t.runs, t.model_versions
    needed: dict[str, str] = {}
    live_runs = select(runs.c.parent_id, runs.c.cached_from).where(
        runs.c.deleted_at.is_(None)
    )
    for parent, cached_from in conn.execute(live_runs):
        if parent:
            needed.setdefault(str(parent), "a live run below it")
        if cached_from:
            needed.setdefault(str(cached_from), "a live run reuses its outputs")
    live_versions = select(versions.c.run_id, versions.c.details).where(
        versions.c.deleted_at.is_(None)
    )
    for run_id, details in conn.execute(live_versions):
        for ref in (run_id, (details or {}).get("training_run_id")):
            if ref:
                needed.setdefault(str(ref), "a live model version came from it")
    for (run_id,) in conn.execute(select(t.dataset_versions.c.run_id)):
        if run_id:
            needed.setdefault(str(run_id), "a dataset version came from it")
    return needed


def _purge(conn: Connection, result: PurgeResult) -> None:
    """Delete the rows of ``result``'s versions and runs in one transaction."""
    edges = t.lineage_edges
    for version_id in result.model_versions:
        conn.execute(
            delete(t.model_version_tags).where(
                t.model_version_tags.c.version_id == version_id
            )
        )
        conn.execute(
            delete(t.model_test_results).where(
                t.model_test_results.c.version_id == version_id
            )
        )
        conn.execute(delete(edges).where(_touches(edges, "model_version", version_id)))
        conn.execute(
            delete(t.model_versions).where(t.model_versions.c.id == version_id)
        )
    for run_id in _children_first(conn, result.runs):
        for table in _RUN_TABLES:
            conn.execute(delete(table).where(table.c.run_id == run_id))
        conn.execute(delete(edges).where(_touches(edges, "run", run_id)))
        conn.execute(delete(t.runs).where(t.runs.c.id == run_id))


def _touches(edges: Any, kind: str, entity_id: str) -> Any:
    return or_(
        (edges.c.src_kind == kind) & (edges.c.src_id == entity_id),
        (edges.c.dst_kind == kind) & (edges.c.dst_id == entity_id),
    )


def _children_first(conn: Connection, run_ids: list[str]) -> list[str]:
    """Order runs so that every run comes before its parent."""
    wanted = set(run_ids)
    parents = {
        str(row.id): str(row.parent_id) if row.parent_id else None
        for row in conn.execute(
            select(t.runs.c.id, t.runs.c.parent_id).where(t.runs.c.id.in_(wanted))
        )
    }

    def depth(run_id: str) -> int:
        level, parent = 0, parents.get(run_id)
        while parent in wanted:
            level, parent = level + 1, parents.get(parent)
        return level

    return sorted(run_ids, key=depth, reverse=True)
