"""Store operations on deployments, their routing revisions and application tests.

A deployment's routing changes through revisions: the CLI adds a pending
revision, and the deployment's supervisor process applies it and marks it
applied or failed. Marking a revision applied writes its audit event, with
the actor who asked for it, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.errors import ConfigError, NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.audit import audit as _audit
from tether.store.locking import locked_parent
from tether.store.time import aware, utcnow
from tether.store.transactions import write

DEPLOYMENT_STATUSES = ("starting", "running", "failed", "stopping", "stopped")
ACTIVE_STATUSES = ("starting", "running", "stopping")
"""The statuses of a deployment whose supervisor should be running."""
REVISION_STATUSES = ("pending", "applied", "failed")

_UNSET: Any = object()


@dataclass(frozen=True)
class DeploymentRecord:
    """A deployment as the store keeps it.

    Attributes:
        status: One of :data:`DEPLOYMENT_STATUSES`.
        settings: The application test settings and process timeouts.
        supervisor_pid: The process id of the supervisor, once started.
        processes: The model servers as the supervisor last reported them.
        revision: The number of the routing revision in effect, if any.
        error: Why the deployment failed, when it did.
    """

    id: str
    name: str
    host: str
    port: int
    status: str
    settings: dict[str, Any]
    supervisor_pid: int | None
    processes: list[dict[str, Any]]
    revision: int | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def uri(self) -> str:
        """The entity name of the deployment in the audit trail."""
        return deployment_entity(self.name)


@dataclass(frozen=True)
class RevisionRecord:
    """One routing a deployment was asked to serve.

    Attributes:
        action: ``create``, ``promote`` or ``rollback``.
        routing: The routing as :meth:`tether.deploy.spec.Routing.to_dict` writes it.
        base_revision: The revision in effect when this one was requested.
        run_tests: Whether the application tests must pass before the switch.
        status: One of :data:`REVISION_STATUSES`.
    """

    deployment_id: str
    revision: int
    action: str
    routing: dict[str, Any]
    base_revision: int | None
    run_tests: bool
    status: str
    error: str | None
    actor: str
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class DeploymentTestRecord:
    """One run of the application tests on one model version of a deployment."""

    id: str
    deployment_id: str
    revision: int | None
    model_uri: str
    passed: bool
    results: list[dict[str, Any]]
    created_at: datetime


def deployment_entity(name: str) -> str:
    """Return the audit trail entity of deployment ``name``."""
    return f"deployments:/{name}"


class DeploymentOps:
    """Deployments, revisions and application test results; mixed into the SQL store."""

    engine: Engine

    def add_deployment(
        self,
        name: str,
        *,
        host: str,
        port: int,
        settings: dict[str, Any],
        routing: dict[str, Any],
        actor: str,
    ) -> DeploymentRecord:
        """Insert a deployment with status ``starting`` and its pending revision 1.

        Raises:
            ConfigError: A deployment called ``name`` exists.
        """
        deployment_id = new_id()
        now = utcnow()

        def insert_rows(conn: Connection) -> None:
            conn.execute(
                insert(t.deployments).values(
                    id=deployment_id,
                    name=name,
                    host=host,
                    port=port,
                    status="starting",
                    settings=settings,
                    supervisor_pid=None,
                    processes=[],
                    revision=None,
                    error=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            _insert_revision(
                conn, deployment_id, 1, "create", routing, None, True, actor
            )

        try:
            write(self.engine, insert_rows)
        except IntegrityError:
            raise ConfigError(
                f"deployment {name!r} exists; pick another name, or stop and remove "
                f"it with `tether deploy stop {name}` and `tether deploy remove {name}`",
                setting="name",
                value=name,
            ) from None
        return self.get_deployment(name)

    def get_deployment(self, name: str) -> DeploymentRecord:
        """Return deployment ``name``.

        Raises:
            NotFoundError: No deployment has that name.
        """
        query = select(t.deployments).where(t.deployments.c.name == name)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(
                f"deployment {name!r} not found; list deployments with "
                "`tether deploy list`",
                kind="deployment",
                name=name,
            )
        return _deployment(row)

    def get_deployment_by_id(self, deployment_id: str) -> DeploymentRecord:
        """Return the deployment with id ``deployment_id``."""
        query = select(t.deployments).where(t.deployments.c.id == deployment_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(
                f"deployment id {deployment_id!r} not found; list deployments with "
                "`tether deploy list`",
                kind="deployment",
                name=deployment_id,
            )
        return _deployment(row)

    def list_deployments(self) -> list[DeploymentRecord]:
        """Return every deployment, by name."""
        query = select(t.deployments).order_by(t.deployments.c.name)
        with self.engine.connect() as conn:
            return [_deployment(row) for row in conn.execute(query).mappings()]

    def update_deployment(
        self,
        deployment_id: str,
        *,
        status: str = _UNSET,
        supervisor_pid: int | None = _UNSET,
        processes: list[dict[str, Any]] = _UNSET,
        error: str | None = _UNSET,
    ) -> None:
        """Set the given fields of a deployment; the others keep their values."""
        values: dict[str, Any] = {"updated_at": utcnow()}
        if status is not _UNSET:
            _check_status(status, DEPLOYMENT_STATUSES, "deployment status")
            values["status"] = status
        if supervisor_pid is not _UNSET:
            values["supervisor_pid"] = supervisor_pid
        if processes is not _UNSET:
            values["processes"] = processes
        if error is not _UNSET:
            values["error"] = error
        d = t.deployments
        statement = update(d).where(d.c.id == deployment_id).values(**values)
        write(self.engine, lambda conn: conn.execute(statement))

    def add_revision(
        self,
        deployment_id: str,
        *,
        action: str,
        routing: dict[str, Any],
        base_revision: int | None,
        run_tests: bool,
        actor: str,
    ) -> int:
        """Add a pending revision after the last one and return its number.

        Raises:
            ConfigError: The deployment has a pending revision, so another
                change is still being applied.
        """
        r = t.deployment_revisions
        with locked_parent(self.engine, t.deployments, deployment_id) as conn:
            pending = conn.execute(
                select(r.c.revision).where(
                    r.c.deployment_id == deployment_id, r.c.status == "pending"
                )
            ).scalar()
            if pending is not None:
                raise ConfigError(
                    f"revision {pending} of the deployment is still being applied; "
                    "wait for it to finish, see `tether deploy status`",
                    setting="revision",
                    value=pending,
                )
            top = conn.execute(
                select(func.max(r.c.revision)).where(r.c.deployment_id == deployment_id)
            ).scalar()
            number = int(top or 0) + 1
            _insert_revision(
                conn,
                deployment_id,
                number,
                action,
                routing,
                base_revision,
                run_tests,
                actor,
            )
        return number

    def get_revision(self, deployment_id: str, revision: int) -> RevisionRecord:
        """Return revision ``revision`` of a deployment."""
        r = t.deployment_revisions
        query = select(r).where(
            r.c.deployment_id == deployment_id, r.c.revision == revision
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(
                f"the deployment has no revision {revision}; list its revisions with "
                "`tether deploy status NAME`",
                kind="deployment_revision",
                name=str(revision),
            )
        return _revision(row)

    def list_revisions(self, deployment_id: str) -> list[RevisionRecord]:
        """Return the revisions of a deployment, oldest first."""
        r = t.deployment_revisions
        query = (
            select(r).where(r.c.deployment_id == deployment_id).order_by(r.c.revision)
        )
        with self.engine.connect() as conn:
            return [_revision(row) for row in conn.execute(query).mappings()]

    def next_pending_revision(self, deployment_id: str) -> RevisionRecord | None:
        """Return the oldest pending revision of a deployment, if any."""
        r = t.deployment_revisions
        query = (
            select(r)
            .where(r.c.deployment_id == deployment_id, r.c.status == "pending")
            .order_by(r.c.revision)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _revision(row) if row is not None else None

    def finish_revision(
        self,
        deployment_id: str,
        revision: int,
        *,
        status: str,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Mark a revision applied or failed.

        An applied revision becomes the deployment's routing, and its audit
        event (the revision's action, by its actor, with ``details``) is
        written in the same transaction.
        """
        _check_status(status, ("applied", "failed"), "revision status")
        record = self.get_revision(deployment_id, revision)
        deployment = self.get_deployment_by_id(deployment_id)
        r = t.deployment_revisions
        d = t.deployments

        def finish(conn: Connection) -> None:
            conn.execute(
                update(r)
                .where(r.c.deployment_id == deployment_id, r.c.revision == revision)
                .values(status=status, error=error, finished_at=utcnow())
            )
            if status != "applied":
                return
            conn.execute(
                update(d)
                .where(d.c.id == deployment_id)
                .values(revision=revision, updated_at=utcnow())
            )
            _audit(
                conn,
                record.actor,
                record.action,
                deployment.uri,
                {"revision": revision, "routing": record.routing, **(details or {})},
            )

        write(self.engine, finish)

    def add_deployment_test(
        self,
        deployment_id: str,
        *,
        revision: int | None,
        model_uri: str,
        passed: bool,
        results: list[dict[str, Any]],
    ) -> DeploymentTestRecord:
        """Store the result of the application tests on one model version."""
        record = DeploymentTestRecord(
            new_id(), deployment_id, revision, model_uri, passed, results, utcnow()
        )
        statement = insert(t.deployment_tests).values(
            id=record.id,
            deployment_id=deployment_id,
            revision=revision,
            model_uri=model_uri,
            passed=passed,
            results=results,
            created_at=record.created_at,
        )
        write(self.engine, lambda conn: conn.execute(statement))
        return record

    def deployment_tests(self, deployment_id: str) -> list[DeploymentTestRecord]:
        """Return the application test results of a deployment, newest first."""
        dt = t.deployment_tests
        query = (
            select(dt)
            .where(dt.c.deployment_id == deployment_id)
            .order_by(dt.c.created_at.desc(), dt.c.id.desc())
        )
        with self.engine.connect() as conn:
            return [
                DeploymentTestRecord(
                    row["id"],
                    row["deployment_id"],
                    row["revision"],
                    row["model_uri"],
                    bool(row["passed"]),
                    list(row["results"]),
                    aware(row["created_at"]),
                )
                for row in conn.execute(query).mappings()
            ]

    def record_deployment_event(
        self, name: str, action: str, actor: str, details: dict[str, Any]
    ) -> None:
        """Append an audit event about deployment ``name``, such as a stop."""
        entity = deployment_entity(name)
        write(self.engine, lambda conn: _audit(conn, actor, action, entity, details))

    def remove_deployment(self, name: str, *, actor: str) -> None:
        """Delete a deployment with its revisions and test results; audit the removal."""
        record = self.get_deployment(name)

        def remove(conn: Connection) -> None:
            for table in (t.deployment_tests, t.deployment_revisions):
                conn.execute(delete(table).where(table.c.deployment_id == record.id))
            conn.execute(delete(t.deployments).where(t.deployments.c.id == record.id))
            _audit(conn, actor, "remove", record.uri, {"status": record.status})

        write(self.engine, remove)


def _insert_revision(
    conn: Connection,
    deployment_id: str,
    number: int,
    action: str,
    routing: dict[str, Any],
    base_revision: int | None,
    run_tests: bool,
    actor: str,
) -> None:
    conn.execute(
        insert(t.deployment_revisions).values(
            deployment_id=deployment_id,
            revision=number,
            action=action,
            routing=routing,
            base_revision=base_revision,
            run_tests=run_tests,
            status="pending",
            error=None,
            actor=actor,
            created_at=utcnow(),
            finished_at=None,
        )
    )


def _check_status(status: str, allowed: tuple[str, ...], what: str) -> None:
    if status not in allowed:
        raise ConfigError(
            f"invalid {what} {status!r}; use one of {', '.join(allowed)}",
            setting=what,
            value=status,
        )


def _deployment(row: Any) -> DeploymentRecord:
    return DeploymentRecord(
        id=row["id"],
        name=row["name"],
        host=row["host"],
        port=int(row["port"]),
        status=row["status"],
        settings=dict(row["settings"]),
        supervisor_pid=row["supervisor_pid"],
        processes=list(row["processes"]),
        revision=row["revision"],
        error=row["error"],
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
    )


def _revision(row: Any) -> RevisionRecord:
    return RevisionRecord(
        deployment_id=row["deployment_id"],
        revision=int(row["revision"]),
        action=row["action"],
        routing=dict(row["routing"]),
        base_revision=row["base_revision"],
        run_tests=bool(row["run_tests"]),
        status=row["status"],
        error=row["error"],
        actor=row["actor"],
        created_at=aware(row["created_at"]),
        finished_at=aware(row["finished_at"]) if row["finished_at"] else None,
    )
