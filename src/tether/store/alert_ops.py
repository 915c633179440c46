"""Store operations on monitors, their results per window, alert rules and alerts.

An alert is one episode of a rule breaching for one subject: it starts at
a window (``first_window``) and is firing until a later window resolves
it. The pair (rule, subject, first window) is unique, so evaluating the
same windows twice records one alert, and :meth:`AlertOps.open_alert`
whether it was new, which is when actions run. Firing,
resolving and each action's outcome are audit events on ``alerts:/RULE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.errors import ConfigError, NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.audit import audit
from tether.store.rows import upsert_rows
from tether.store.time import aware, utcnow
from tether.store.transactions import write

ALERT_STATES = ("firing", "resolved")


@dataclass(frozen=True)
class MonitorRecord:
    """A stored monitor: its name, model and specification."""

    name: str
    model: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MonitorWindow:
    """The values a monitor computed for one window.

    Attributes:
        values: Flat metric name to value (None when not computable).
    """

    monitor: str
    window: str
    start: datetime | None
    end: datetime | None
    rows: int
    values: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RuleRecord:
    """An alert rule as the store keeps it."""

    id: str
    name: str
    monitor: str
    metric: str
    operator: str
    threshold: float
    windows: int
    severity: str
    actions: list[dict[str, Any]]
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class AlertRecord:
    """One episode of a rule breaching for one subject."""

    id: str
    rule: str
    subject: str
    first_window: str
    last_window: str
    state: str
    value: float | None
    severity: str
    actions: list[dict[str, Any]]
    fired_at: datetime
    resolved_at: datetime | None


def alert_entity(rule: str) -> str:
    """Return the audit-trail entity of alert rule ``rule``."""
    return f"alerts:/{rule}"


class AlertOps:
    """Monitors, window results, rules and alerts; mixed into the SQL store."""

    engine: Engine

    # -- monitors -------------------------------------------------------------

    def save_monitor(self, name: str, model: str, spec: dict[str, Any]) -> None:
        """Create monitor ``name`` or replace its model and specification."""
        now = utcnow()

        def save(conn: Connection) -> None:
            m = t.monitors
            known = conn.execute(select(m.c.name).where(m.c.name == name)).first()
            if known is None:
                conn.execute(
                    insert(m).values(
                        name=name,
                        model=model,
                        spec=spec,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                conn.execute(
                    update(m)
                    .where(m.c.name == name)
                    .values(model=model, spec=spec, updated_at=now)
                )

        write(self.engine, save)

    def get_monitor(self, name: str) -> MonitorRecord:
        """Return monitor ``name``.

        Raises:
            NotFoundError: No monitor has that name.
        """
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(t.monitors).where(t.monitors.c.name == name))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"monitor {name!r} not found; list monitors with `tether monitor list`",
                kind="monitor",
                name=name,
            )
        return _monitor(row)

    def list_monitors(self) -> list[MonitorRecord]:
        """Return every monitor, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.monitors).order_by(t.monitors.c.name))
            return [_monitor(row) for row in rows.mappings()]

    def replace_window_results(
        self, monitor: str, results: list[MonitorWindow]
    ) -> None:
        """Make ``results`` the monitor's only windows, in one transaction.

        A run computes every window from the whole log, so windows it did
        not compute (after a change of window size, say) are gone.
        """

        def replace(conn: Connection) -> None:
            r = t.monitor_results
            conn.execute(delete(r).where(r.c.monitor == monitor))
            rows = [_window_row(result) for result in results]
            if rows:
                conn.execute(insert(r), rows)

        write(self.engine, replace)

    def save_window_results(self, results: list[MonitorWindow]) -> None:
        """Insert or replace the results of windows, in one transaction."""
        rows = [_window_row(result) for result in results]
        if rows:
            write(
                self.engine,
                lambda conn: upsert_rows(
                    conn, t.monitor_results, rows, ("monitor", "window")
                ),
            )

    def window_results(self, monitor: str) -> list[MonitorWindow]:
        """Return the results of a monitor, ordered by window start, then name."""
        r = t.monitor_results
        query = (
            select(r)
            .where(r.c.monitor == monitor)
            .order_by(r.c.start.is_(None), r.c.start, r.c.window)
        )
        with self.engine.connect() as conn:
            return [_window(row) for row in conn.execute(query).mappings()]

    # -- rules ----------------------------------------------------------------

    def add_alert_rule(
        self,
        name: str,
        *,
        monitor: str,
        metric: str,
        operator: str,
        threshold: float,
        windows: int,
        severity: str,
        actions: list[dict[str, Any]],
        actor: str,
    ) -> RuleRecord:
        """Add a rule; raise ConfigError when the name is taken."""
        row = {
            "id": new_id(),
            "name": name,
            "monitor": monitor,
            "metric": metric,
            "operator": operator,
            "threshold": threshold,
            "windows": windows,
            "severity": severity,
            "actions": actions,
            "enabled": True,
            "created_at": utcnow(),
        }

        def add(conn: Connection) -> None:
            conn.execute(insert(t.alert_rules).values(**row))
            details = {key: row[key] for key in ("monitor", "metric", "threshold")}
            audit(conn, actor, "add-rule", alert_entity(name), details)

        try:
            write(self.engine, add)
        except IntegrityError:
            raise ConfigError(
                f"an alert rule named {name!r} exists; pick another name or remove "
                f"it first with `tether monitor rules remove {name}`",
                setting="name",
                value=name,
            ) from None
        return self.get_alert_rule(name)

    def get_alert_rule(self, name: str) -> RuleRecord:
        """Return rule ``name``.

        Raises:
            NotFoundError: No rule has that name.
        """
        rules = t.alert_rules
        with self.engine.connect() as conn:
            row = conn.execute(select(rules).where(rules.c.name == name)).mappings()
            found = row.first()
        if found is None:
            raise NotFoundError(
                f"alert rule {name!r} not found; list rules with `tether monitor rules list`",
                kind="alert rule",
                name=name,
            )
        return _rule(found)

    def list_alert_rules(self, monitor: str | None = None) -> list[RuleRecord]:
        """Return the rules, of one monitor or all, by name."""
        rules = t.alert_rules
        query = select(rules).order_by(rules.c.name)
        if monitor is not None:
            query = query.where(rules.c.monitor == monitor)
        with self.engine.connect() as conn:
            return [_rule(row) for row in conn.execute(query).mappings()]

    def remove_alert_rule(self, name: str, *, actor: str) -> None:
        """Delete a rule and its alerts; the audit trail keeps their history."""
        rule = self.get_alert_rule(name)

        def remove(conn: Connection) -> None:
            conn.execute(delete(t.alerts).where(t.alerts.c.rule_id == rule.id))
            conn.execute(delete(t.alert_rules).where(t.alert_rules.c.id == rule.id))
            audit(conn, actor, "remove-rule", alert_entity(name), {})

        write(self.engine, remove)

    # -- alerts ---------------------------------------------------------------

    def open_alert(
        self,
        rule: RuleRecord,
        *,
        subject: str,
        window: str,
        value: float | None,
        actor: str,
    ) -> tuple[AlertRecord, bool]:
        """Record that ``rule`` fires for ``subject`` from ``window``.

        Returns:
            The alert and whether this call created it. An alert of the same
            rule, subject and first window is returned unchanged.
        """
        row: dict[str, Any] = {
            "id": new_id(),
            "rule_id": rule.id,
            "subject": subject,
            "first_window": window,
            "last_window": window,
            "state": "firing",
            "value": value,
            "severity": rule.severity,
            "actions": [],
            "fired_at": utcnow(),
            "resolved_at": None,
        }

        def fire(conn: Connection) -> None:
            conn.execute(insert(t.alerts).values(**row))
            details = {"subject": subject, "window": window, "value": value}
            audit(conn, actor, "fire", alert_entity(rule.name), details)

        try:
            write(self.engine, fire)
        except IntegrityError:
            return self._episode(rule, subject, window), False
        return self._episode(rule, subject, window), True

    def extend_alert(self, alert_id: str, *, window: str, value: float | None) -> None:
        """Move a firing alert's last window and value forward."""
        statement = (
            update(t.alerts)
            .where(t.alerts.c.id == alert_id)
            .values(last_window=window, value=value)
        )
        write(self.engine, lambda conn: conn.execute(statement))

    def resolve_alert(
        self, alert: AlertRecord, *, window: str, value: float | None, actor: str
    ) -> bool:
        """Mark a firing alert resolved at ``window``; False when it already was."""
        a = t.alerts

        def resolve(conn: Connection) -> bool:
            changed = conn.execute(
                update(a)
                .where(a.c.id == alert.id, a.c.state == "firing")
                .values(
                    state="resolved",
                    resolved_at=utcnow(),
                    last_window=window,
                    value=value,
                )
            ).rowcount
            if changed:
                details = {"subject": alert.subject, "window": window, "value": value}
                audit(conn, actor, "resolve", alert_entity(alert.rule), details)
            return bool(changed)

        return write(self.engine, resolve)

    def record_alert_action(
        self, alert: AlertRecord, outcome: dict[str, Any], *, actor: str
    ) -> None:
        """Append an action's outcome to the alert, with its audit event."""
        a = t.alerts

        def record(conn: Connection) -> None:
            current = conn.execute(select(a.c.actions).where(a.c.id == alert.id))
            stored = current.scalar_one_or_none()
            if stored is None:
                raise NotFoundError(
                    f"alert {alert.id!r} not found; list alerts with "
                    "`tether monitor alerts`",
                    kind="alert",
                    name=alert.id,
                )
            actions = list(stored)
            actions.append(outcome)
            conn.execute(update(a).where(a.c.id == alert.id).values(actions=actions))
            details = {"subject": alert.subject, **outcome}
            action = f"action:{outcome.get('type', 'unknown')}"
            audit(conn, actor, action, alert_entity(alert.rule), details)

        write(self.engine, record)

    def list_alerts(
        self, *, rule: str | None = None, state: str | None = None
    ) -> list[AlertRecord]:
        """Return alerts, newest first, of one rule or all, in one state or any."""
        a, r = t.alerts, t.alert_rules
        query = (
            select(a, r.c.name.label("rule_name"))
            .join(r, r.c.id == a.c.rule_id)
            .order_by(a.c.fired_at.desc(), a.c.id)
        )
        if rule is not None:
            query = query.where(r.c.name == rule)
        if state is not None:
            query = query.where(a.c.state == state)
        with self.engine.connect() as conn:
            return [_alert(row) for row in conn.execute(query).mappings()]

    def _episode(self, rule: RuleRecord, subject: str, window: str) -> AlertRecord:
        for alert in self.list_alerts(rule=rule.name):
            if alert.subject == subject and alert.first_window == window:
                return alert
        raise NotFoundError(
            f"alert of rule {rule.name!r} for {subject!r} from {window!r} not found",
            kind="alert",
            name=f"{rule.name}/{subject}/{window}",
        )


def _window_row(result: MonitorWindow) -> dict[str, Any]:
    return {
        "monitor": result.monitor,
        "window": result.window,
        "start": result.start,
        "end": result.end,
        "rows": result.rows,
        "values": result.values,
        "created_at": result.created_at,
    }


def _monitor(row: Any) -> MonitorRecord:
    return MonitorRecord(
        row["name"],
        row["model"],
        dict(row["spec"]),
        aware(row["created_at"]),
        aware(row["updated_at"]),
    )


def _window(row: Any) -> MonitorWindow:
    return MonitorWindow(
        monitor=row["monitor"],
        window=row["window"],
        start=aware(row["start"]) if row["start"] is not None else None,
        end=aware(row["end"]) if row["end"] is not None else None,
        rows=int(row["rows"]),
        values=dict(row["values"]),
        created_at=aware(row["created_at"]),
    )


def _rule(row: Any) -> RuleRecord:
    return RuleRecord(
        id=row["id"],
        name=row["name"],
        monitor=row["monitor"],
        metric=row["metric"],
        operator=row["operator"],
        threshold=float(row["threshold"]),
        windows=int(row["windows"]),
        severity=row["severity"],
        actions=list(row["actions"]),
        enabled=bool(row["enabled"]),
        created_at=aware(row["created_at"]),
    )


def _alert(row: Any) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        rule=row["rule_name"],
        subject=row["subject"],
        first_window=row["first_window"],
        last_window=row["last_window"],
        state=row["state"],
        value=row["value"],
        severity=row["severity"],
        actions=list(row["actions"]),
        fired_at=aware(row["fired_at"]),
        resolved_at=aware(row["resolved_at"]) if row["resolved_at"] else None,
    )
