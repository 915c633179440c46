"""Store operations on schedules, their firings and alert events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.errors import ConfigError, NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.time import aware, utcnow
from tether.store.transactions import write


@dataclass(frozen=True)
class ScheduleRecord:
    """A pipeline the agent starts on a cron schedule, a new dataset version or an alert.

    Attributes:
        trigger: ``"cron"``, ``"dataset"`` or ``"alert"``.
        spec: The cron expression, the dataset name or the alert name.
        input_param: The pipeline argument that receives what fired the
            schedule (the dataset version URI or the alert id), if any.
    """

    id: str
    name: str
    target: str
    params: dict[str, Any]
    executor: str | None
    trigger: str
    spec: str
    input_param: str | None
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class FiringRecord:
    """One time a schedule fired: what fired it, the agent that ran it, the outcome."""

    id: str
    schedule_id: str
    fire_key: str
    status: str
    agent: str
    run_id: str | None
    error: str | None
    claimed_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class AlertEvent:
    """An alert that fired, which schedules with ``trigger="alert"`` react to."""

    id: str
    name: str
    payload: dict[str, Any]
    created_at: datetime


class ScheduleOps:
    """Schedules, firings and alert events; mixed into the SQL store."""

    engine: Engine

    def add_schedule(
        self,
        name: str,
        *,
        target: str,
        params: dict[str, Any],
        executor: str | None,
        trigger: str,
        spec: str,
        input_param: str | None,
    ) -> ScheduleRecord:
        """Add a schedule; raise ConfigError when the name is taken."""
        row = {
            "id": new_id(),
            "name": name,
            "target": target,
            "params": params,
            "executor": executor,
            "trigger": trigger,
            "spec": spec,
            "input_param": input_param,
            "enabled": True,
            "created_at": utcnow(),
        }
        try:
            write(
                self.engine,
                lambda conn: conn.execute(insert(t.schedules).values(**row)),
            )
        except IntegrityError:
            raise ConfigError(
                f"a schedule named {name!r} exists; remove it first with "
                f"tether schedule remove {name}",
                setting="name",
                value=name,
            ) from None
        return self.get_schedule(name)

    def get_schedule(self, name: str) -> ScheduleRecord:
        """Return the schedule ``name``."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(t.schedules).where(t.schedules.c.name == name))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"schedule {name!r} not found; list schedules with tether schedule list",
                kind="schedule",
                name=name,
            )
        return _schedule(row)

    def list_schedules(self) -> list[ScheduleRecord]:
        """Return every schedule, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.schedules).order_by(t.schedules.c.name)
            ).mappings()
            return [_schedule(row) for row in rows]

    def remove_schedule(self, name: str) -> None:
        """Delete a schedule and the record of its firings."""
        schedule = self.get_schedule(name)

        def remove(conn: Any) -> None:
            firings = t.schedule_firings
            conn.execute(delete(firings).where(firings.c.schedule_id == schedule.id))
            conn.execute(delete(t.schedules).where(t.schedules.c.id == schedule.id))

        write(self.engine, remove)

    def claim_firing(self, schedule_id: str, fire_key: str, agent: str) -> str | None:
        """Record that ``agent`` runs the firing ``fire_key``; None if it was claimed before."""
        firing_id = new_id()
        row = {
            "id": firing_id,
            "schedule_id": schedule_id,
            "fire_key": fire_key,
            "status": "running",
            "agent": agent,
            "claimed_at": utcnow(),
        }
        try:
            write(
                self.engine,
                lambda conn: conn.execute(insert(t.schedule_firings).values(**row)),
            )
        except IntegrityError:
            return None
        return firing_id

    def update_firing(
        self,
        firing_id: str,
        *,
        status: str | None = None,
        run_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Set a firing's run, and its final status and error."""
        values: dict[str, Any] = {}
        if run_id is not None:
            values["run_id"] = run_id
        if status is not None:
            values["status"] = status
            values["error"] = error
            if status != "running":
                values["finished_at"] = utcnow()
        if not values:
            return  # nothing to change
        firings = t.schedule_firings
        statement = update(firings).where(firings.c.id == firing_id).values(**values)
        write(self.engine, lambda conn: conn.execute(statement))

    def list_firings(
        self, schedule_id: str | None = None, *, status: str | None = None
    ) -> list[FiringRecord]:
        """Return firings, oldest first, of one schedule or all, optionally by status."""
        firings = t.schedule_firings
        query = select(firings).order_by(firings.c.claimed_at, firings.c.id)
        if schedule_id is not None:
            query = query.where(firings.c.schedule_id == schedule_id)
        if status is not None:
            query = query.where(firings.c.status == status)
        with self.engine.connect() as conn:
            return [_firing(row) for row in conn.execute(query).mappings()]

    def fired_keys(self, schedule_id: str) -> set[str]:
        """Return the fire keys a schedule has claimed."""
        firings = t.schedule_firings
        query = select(firings.c.fire_key).where(firings.c.schedule_id == schedule_id)
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    def add_alert_event(self, name: str, payload: dict[str, Any]) -> AlertEvent:
        """Record that alert ``name`` fired."""
        event = AlertEvent(new_id(), name, payload, utcnow())
        statement = insert(t.alert_events).values(
            id=event.id, name=name, payload=payload, created_at=event.created_at
        )
        write(self.engine, lambda conn: conn.execute(statement))
        return event

    def alert_events(self, name: str, since: datetime) -> list[AlertEvent]:
        """Return the events of alert ``name`` at or after ``since``, oldest first."""
        events = t.alert_events
        query = (
            select(events)
            .where(events.c.name == name, events.c.created_at >= since)
            .order_by(events.c.created_at, events.c.id)
        )
        with self.engine.connect() as conn:
            return [
                AlertEvent(r["id"], r["name"], r["payload"], aware(r["created_at"]))
                for r in conn.execute(query).mappings()
            ]


def _schedule(row: Any) -> ScheduleRecord:
    return ScheduleRecord(
        id=row["id"],
        name=row["name"],
        target=row["target"],
        params=dict(row["params"]),
        executor=row["executor"],
        trigger=row["trigger"],
        spec=row["spec"],
        input_param=row["input_param"],
        enabled=bool(row["enabled"]),
        created_at=aware(row["created_at"]),
    )


def _firing(row: Any) -> FiringRecord:
    return FiringRecord(
        id=row["id"],
        schedule_id=row["schedule_id"],
        fire_key=row["fire_key"],
        status=row["status"],
        agent=row["agent"],
        run_id=row["run_id"],
        error=row["error"],
        claimed_at=aware(row["claimed_at"]),
        finished_at=aware(row["finished_at"]) if row["finished_at"] else None,
    )
