"""The SQL implementation of the store, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)

from tether.errors import NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.account_ops import AccountOps
from tether.store.alert_ops import AlertOps
from tether.store.dataset_ops import DatasetOps
from tether.store.deployment_ops import DeploymentOps
from tether.store.engine import open_engine
from tether.store.gc_ops import GcOps
from tether.store.lineage_ops import LineageOps
from tether.store.model_test_ops import ModelTestOps
from tether.store.names import id_for_name
from tether.store.records import (
    ArtifactRecord,
    Edge,
    MetricPoint,
    PendingWrites,
    RunRecord,
)
from tether.store.rollups import write_rollups
from tether.store.rows import artifact_row, upsert_rows, write_artifacts_and_edges
from tether.store.schedule_ops import ScheduleOps
from tether.store.search_ops import SearchOps
from tether.store.step_call_ops import StepCallOps
from tether.store.time import aware, utcnow
from tether.store.transactions import write
from tether.store.upserts import latest_metric_upsert
from tether.store.values import MAX_PARAM_LENGTH, param_text, tag_text

__all__ = ["MAX_PARAM_LENGTH", "SqlStore"]


class SqlStore(
    AccountOps,
    DatasetOps,
    ModelTestOps,
    LineageOps,
    SearchOps,
    ScheduleOps,
    StepCallOps,
    DeploymentOps,
    AlertOps,
    GcOps,
):
    """Runs, datasets, models and lineage in one SQL database.

    ``ModelTestOps`` extends ``ModelOps``, so the registry's operations come
    with it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = open_engine(url)
        self._experiment_ids: dict[str, str] = {}

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # -- experiments and runs -------------------------------------------

    def experiment_exists(self, name: str) -> bool:
        """Return whether an experiment called ``name`` exists."""
        query = select(t.experiments.c.id).where(t.experiments.c.name == name)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def experiment_id(self, name: str) -> str:
        """Return the id of experiment ``name``, creating it on first use.

        Experiments are never renamed or deleted, so ids are kept per store.
        """
        found = self._experiment_ids.get(name)
        if found is None:
            found = id_for_name(self.engine, t.experiments, name)
            self._experiment_ids[name] = found
        return found

    def create_run(
        self,
        *,
        experiment: str,
        name: str,
        kind: str = "run",
        parent_id: str | None = None,
        source: Mapping[str, Any] | None = None,
        cache_key: str | None = None,
        run_id: str | None = None,
        artifacts: Sequence[ArtifactRecord] = (),
        start_time: datetime | None = None,
    ) -> str:
        """Insert a run with status RUNNING, and its first artifacts; return its id.

        ``start_time`` defaults to now; an importer passes the time the run
        started in the system it comes from.
        """
        run_id = run_id or new_id()
        row = {
            "id": run_id,
            "experiment_id": self.experiment_id(experiment),
            "parent_id": parent_id,
            "name": name,
            "kind": kind,
            "status": "RUNNING",
            "start_time": start_time or utcnow(),
            "source": dict(source or {}),
            "cache_key": cache_key,
        }
        artifact_rows = [artifact_row(record) for record in artifacts]

        def insert_run(conn: Connection) -> None:
            conn.execute(_INSERT_RUN, row)
            upsert_rows(conn, t.artifacts, artifact_rows, ("run_id", "path"))

        write(self.engine, insert_run)
        return run_id

    def end_run(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        cached_from: str | None = None,
        pending: PendingWrites | None = None,
        end_time: datetime | None = None,
    ) -> None:
        """Write a run's buffered values, then set its final status and end time.

        Both happen in one transaction, so a run never shows as ended without
        the values it logged. ``end_time`` defaults to now.
        """
        values: dict[str, Any] = {
            "ended_run_id": run_id,
            "status": status,
            "end_time": end_time or utcnow(),
            "error": error,
        }
        if cached_from:
            values["cached_from"] = cached_from

        def finish(conn: Connection) -> None:
            if pending:
                self._write_pending(conn, {run_id: pending})
            conn.execute(_END_RUN, values)

        write(self.engine, finish)

    def running_processes(self) -> list[tuple[str, dict[str, Any]]]:
        """Return (run id, recorded process) for every RUNNING run."""
        query = select(t.runs.c.id, t.runs.c.source).where(t.runs.c.status == "RUNNING")
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(row.id, (row.source or {}).get("process", {})) for row in rows]

    def fail_if_running(self, run_id: str, error: str) -> bool:
        """Mark a run FAILED unless it ended meanwhile; return whether it changed."""
        statement = (
            update(t.runs)
            .where(t.runs.c.id == run_id, t.runs.c.status == "RUNNING")
            .values(status="FAILED", end_time=utcnow(), error=error)
        )
        return write(self.engine, lambda conn: bool(conn.execute(statement).rowcount))

    def update_run_source(self, run_id: str, source: Mapping[str, Any]) -> None:
        """Replace the recorded code and environment of a run."""
        statement = (
            update(t.runs).where(t.runs.c.id == run_id).values(source=dict(source))
        )
        write(self.engine, lambda conn: conn.execute(statement))

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Record params; a key logged twice keeps its last value."""
        rows = [
            {"run_id": run_id, "key": k, "value": param_text(k, v)}
            for k, v in params.items()
        ]
        self._upsert(t.params, rows, ("run_id", "key"))

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Record tags; a key set twice keeps its last value."""
        rows = [
            {"run_id": run_id, "key": k, "value": tag_text(k, v)}
            for k, v in tags.items()
        ]
        self._upsert(t.tags, rows, ("run_id", "key"))

    def log_metrics(self, run_id: str, points: Iterable[MetricPoint]) -> None:
        """Append metric points and refresh the latest value of each key."""
        self.write_pending({run_id: PendingWrites(points=list(points))})

    def write_pending(self, batches: Mapping[str, PendingWrites]) -> None:
        """Write the buffered params, tags and points of several runs in one transaction."""
        if any(batches.values()):
            write(self.engine, lambda conn: self._write_pending(conn, batches))

    def _write_pending(
        self, conn: Connection, batches: Mapping[str, PendingWrites]
    ) -> None:
        params = [
            {"run_id": run_id, "key": key, "value": value}
            for run_id, pending in batches.items()
            for key, value in pending.params.items()
        ]
        tags = [
            {"run_id": run_id, "key": key, "value": value}
            for run_id, pending in batches.items()
            for key, value in pending.tags.items()
        ]
        upsert_rows(conn, t.params, params, ("run_id", "key"))
        upsert_rows(conn, t.tags, tags, ("run_id", "key"))
        self._insert_points(
            conn, {run_id: pending.points for run_id, pending in batches.items()}
        )

    def _insert_points(
        self, conn: Connection, batches: Mapping[str, Sequence[MetricPoint]]
    ) -> None:
        rows: list[dict[str, Any]] = [
            {
                "run_id": run_id,
                "key": p.key,
                "step": p.step,
                "timestamp": p.timestamp,
                "value": p.value,
            }
            for run_id, points in batches.items()
            for p in points
        ]
        if not rows:
            return
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            key = (row["run_id"], row["key"])
            previous = latest.get(key)
            if previous is None or (row["step"], row["timestamp"]) >= (
                previous["step"],
                previous["timestamp"],
            ):
                latest[key] = row
        # The driver's executemany without SQLAlchemy's per-row parameter
        # processing: the columns are plain numbers and strings.
        values = [
            (r["run_id"], r["key"], r["step"], r["timestamp"], r["value"]) for r in rows
        ]
        conn.exec_driver_sql(_INSERT_METRIC_SQL[conn.dialect.name], values)
        conn.execute(latest_metric_upsert(conn.dialect.name), list(latest.values()))
        write_rollups(conn, values)

    def log_artifact(self, record: ArtifactRecord) -> None:
        """Record that a run logged a file or folder with the given digest."""
        self._upsert(t.artifacts, [artifact_row(record)], ("run_id", "path"))

    def log_artifacts_and_edges(
        self, records: Sequence[ArtifactRecord], edges: Sequence[Edge]
    ) -> None:
        """Record artifacts and lineage edges in one transaction.

        A pipeline step records its inputs, outputs and their edges together:
        one commit instead of one per record. Duplicate edges are ignored.
        """
        if records or edges:
            write(
                self.engine,
                lambda conn: write_artifacts_and_edges(conn, records, edges),
            )

    def get_run(self, run_id: str) -> RunRecord:
        """Return one run with its params, tags and latest metrics."""
        query = (
            select(t.runs, t.experiments.c.name.label("experiment"))
            .join(t.experiments, t.experiments.c.id == t.runs.c.experiment_id)
            .where(t.runs.c.id == run_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
            if row is None:
                raise NotFoundError(
                    f"run {run_id!r} not found; list runs with `tether runs list`",
                    kind="run",
                    name=run_id,
                )
            params = _pairs(conn, t.params, run_id)
            tags = _pairs(conn, t.tags, run_id)
            metrics = _pairs(conn, t.latest_metrics, run_id)
        metrics = {key: _nan_if_null(value) for key, value in metrics.items()}
        return _run_record(row, params=params, tags=tags, metrics=metrics)

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Return runs, newest first, optionally of one experiment or one parent."""
        query = select(t.runs, t.experiments.c.name.label("experiment")).join(
            t.experiments, t.experiments.c.id == t.runs.c.experiment_id
        )
        if experiment is not None:
            query = query.where(t.experiments.c.name == experiment)
        if parent_id is not None:
            query = query.where(t.runs.c.parent_id == parent_id)
        query = query.where(t.runs.c.deleted_at.is_(None))
        query = query.order_by(t.runs.c.start_time.desc(), t.runs.c.id.desc()).limit(
            limit
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_run_record(row) for row in rows]

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Return every point of one metric of a run, ordered by step and time."""
        m = t.metrics
        query = (
            select(m.c.key, m.c.value, m.c.step, m.c.timestamp)
            .where(m.c.run_id == run_id, m.c.key == key)
            .order_by(m.c.step, m.c.timestamp, m.c.id)
        )
        with self.engine.connect() as conn:
            return [
                MetricPoint(key, _nan_if_null(value), step, timestamp)
                for key, value, step, timestamp in conn.execute(query)
            ]

    def list_artifacts(
        self, run_id: str, *, role: str | None = None
    ) -> list[ArtifactRecord]:
        """Return the files and folders a run logged."""
        query = select(t.artifacts).where(t.artifacts.c.run_id == run_id)
        if role is not None:
            query = query.where(t.artifacts.c.role == role)
        with self.engine.connect() as conn:
            return [
                ArtifactRecord(**row)
                for row in conn.execute(query.order_by(t.artifacts.c.path)).mappings()
            ]

    def artifact_with_digest(self, digest: str) -> ArtifactRecord | None:
        """Return one artifact record with content ``digest``, if any run logged it."""
        query = select(t.artifacts).where(t.artifacts.c.digest == digest).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return ArtifactRecord(**row) if row else None

    def runs_with_artifact(self, digest: str, *, role: str) -> list[str]:
        """Return the ids of runs that logged content ``digest`` in ``role``."""
        query = select(t.artifacts.c.run_id).where(
            and_(t.artifacts.c.digest == digest, t.artifacts.c.role == role)
        )
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query).scalars()]

    def count_runs(self) -> int:
        """Return the number of runs in the store."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(t.runs)).scalar() or 0
            )

    # -- helpers ---------------------------------------------------------

    def _upsert(
        self, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...]
    ) -> None:
        """Insert rows, replacing the other columns of rows whose keys exist."""
        if rows:
            write(self.engine, lambda conn: upsert_rows(conn, table, rows, keys))


_INSERT_RUN = insert(t.runs)
_METRIC_COLUMNS = "run_id, key, step, timestamp, value"
_INSERT_METRIC_SQL = {
    "sqlite": f"INSERT INTO metrics ({_METRIC_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
    "postgresql": f"INSERT INTO metrics ({_METRIC_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
}
# The SET clause comes from the parameters: status, end_time, error and
# sometimes cached_from.
_END_RUN = update(t.runs).where(t.runs.c.id == bindparam("ended_run_id"))


def _run_record(row: Any, **extra: Any) -> RunRecord:
    return RunRecord(
        id=row["id"],
        experiment=row["experiment"],
        name=row["name"],
        kind=row["kind"],
        status=row["status"],
        parent_id=row["parent_id"],
        start_time=aware(row["start_time"]),
        end_time=aware(row["end_time"]) if row["end_time"] else None,
        source=row["source"] or {},
        cache_key=row["cache_key"],
        cached_from=row["cached_from"],
        error=row["error"],
        deleted_at=aware(row["deleted_at"]) if row.get("deleted_at") else None,
        **extra,
    )


def _nan_if_null(value: float | None) -> float:
    """SQLite stores NaN as NULL; metric values are never null otherwise."""
    return float("nan") if value is None else float(value)


def _pairs(conn: Any, table: Any, run_id: str) -> dict[str, Any]:
    query = select(table.c.key, table.c.value).where(table.c.run_id == run_id)
    return {row.key: row.value for row in conn.execute(query)}
