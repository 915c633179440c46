"""Store operations on pipeline step calls: their cache keys and stored outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from tether.store import schema as t
from tether.store.records import ArtifactRecord, Edge
from tether.store.rows import upsert_rows, write_artifacts_and_edges
from tether.store.transactions import write


@dataclass(frozen=True)
class StepCallRecord:
    """The record a step run keeps of its call.

    Attributes:
        run_id: The step run.
        label: The call's label in the pipeline graph.
        key: The cache key record that ``tether pipeline explain`` compares:
            digest, components, problem, and whether the cache was on or
            forced off.
        outputs: ``{"tuple": bool, "items": [{"digest", "kind", ...}]}`` once
            the step stored its outputs, else None.
    """

    run_id: str
    label: str
    key: dict[str, Any]
    outputs: dict[str, Any] | None = None


class StepCallOps:
    """Step-call records; mixed into the SQL store."""

    engine: Engine

    def record_step_call(
        self,
        call: StepCallRecord,
        records: Sequence[ArtifactRecord] = (),
        edges: Sequence[Edge] = (),
        *,
        cache_key: str | None = None,
    ) -> None:
        """Record a step call with its artifacts and edges in one transaction.

        A call is recorded twice: with its key and inputs before the step
        runs, and with its outputs after. ``cache_key`` marks the run as
        reusable for calls with that key; it only counts once the run is
        FINISHED.
        """
        row = {
            "run_id": call.run_id,
            "label": call.label,
            "key": call.key,
            "outputs": call.outputs,
        }

        def apply(conn: Connection) -> None:
            upsert_rows(conn, t.step_calls, [row], ("run_id",))
            write_artifacts_and_edges(conn, records, edges)
            if cache_key is not None:
                conn.execute(
                    update(t.runs)
                    .where(t.runs.c.id == call.run_id)
                    .values(cache_key=cache_key)
                )

        write(self.engine, apply)

    def step_call(self, run_id: str) -> StepCallRecord | None:
        """Return the step-call record of a run, or None when it has none."""
        query = select(t.step_calls).where(t.step_calls.c.run_id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return StepCallRecord(**row) if row else None

    def find_cached_call(self, cache_key: str) -> StepCallRecord | None:
        """Return the call of the newest FINISHED run with ``cache_key`` and outputs."""
        runs, calls = t.runs, t.step_calls
        query = (
            select(calls)
            .join(runs, runs.c.id == calls.c.run_id)
            .where(
                runs.c.cache_key == cache_key,
                runs.c.status == "FINISHED",
                calls.c.outputs.is_not(None),
            )
            .order_by(runs.c.start_time.desc(), runs.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return StepCallRecord(**row) if row else None
