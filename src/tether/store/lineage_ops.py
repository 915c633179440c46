"""Store operations on lineage edges and prediction-log files."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from tether.store import schema as t
from tether.store.records import Edge
from tether.store.time import utcnow


class LineageOps:
    """Lineage edges and the prediction-log index; mixed into the SQL store."""

    engine: Engine

    def add_edge(self, edge: Edge) -> None:
        """Record that ``edge.src`` flowed into ``edge.dst``; duplicates are ignored."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(t.lineage_edges).values(
                        src_kind=edge.src_kind,
                        src_id=edge.src_id,
                        dst_kind=edge.dst_kind,
                        dst_id=edge.dst_id,
                        relation=edge.relation,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass

    def edges_into(self, kind: str, entity_id: str) -> list[Edge]:
        """Return the edges whose destination is the given entity."""
        e = t.lineage_edges
        query = (
            select(e.c.src_kind, e.c.src_id, e.c.dst_kind, e.c.dst_id, e.c.relation)
            .where(e.c.dst_kind == kind, e.c.dst_id == entity_id)
            .order_by(e.c.id)
        )
        with self.engine.connect() as conn:
            return [Edge(*row) for row in conn.execute(query)]

    def edges_from(self, kind: str, entity_id: str) -> list[Edge]:
        """Return the edges whose source is the given entity."""
        e = t.lineage_edges
        query = (
            select(e.c.src_kind, e.c.src_id, e.c.dst_kind, e.c.dst_id, e.c.relation)
            .where(e.c.src_kind == kind, e.c.src_id == entity_id)
            .order_by(e.c.id)
        )
        with self.engine.connect() as conn:
            return [Edge(*row) for row in conn.execute(query)]

    def add_prediction_log(
        self, model_name: str, model_version: int | None, path: str, rows: int
    ) -> None:
        """Index one prediction-log file written by a served model.

        Indexing a path that is already indexed does nothing, so a writer
        that retries after an error cannot list a file twice.
        """
        p = t.prediction_logs
        with self.engine.begin() as conn:
            known = conn.execute(select(p.c.id).where(p.c.path == path)).first()
            if known is not None:
                return
            conn.execute(
                insert(p).values(
                    model_name=model_name,
                    model_version=model_version,
                    path=path,
                    rows=rows,
                    created_at=utcnow(),
                )
            )

    def prediction_log_paths(
        self, model_name: str, model_version: int | None = None
    ) -> list[str]:
        """Return the prediction-log files of a model (one version or all), oldest first."""
        p = t.prediction_logs
        query = select(p.c.path).where(p.c.model_name == model_name).order_by(p.c.id)
        if model_version is not None:
            query = query.where(p.c.model_version == model_version)
        with self.engine.connect() as conn:
            return [str(x) for x in conn.execute(query).scalars()]
