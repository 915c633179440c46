"""Store operations on the model registry: models, versions, aliases and audit events.

Every change to a model (a registration, an alias move or removal, a status,
description, tag or trust change, a deletion) writes an audit event in the
same transaction as the change, so the trail never misses one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from tether.errors import NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.audit import audit as _audit
from tether.store.locking import locked_parent
from tether.store.names import id_for_name
from tether.store.records import AuditRecord, ModelVersionRecord
from tether.store.rows import upsert_rows
from tether.store.time import aware, utcnow
from tether.store.transactions import write


class ModelOps:
    """Registry operations; mixed into the SQL store."""

    engine: Engine

    def add_model_version(
        self,
        name: str,
        *,
        run_id: str | None,
        flavor: str,
        artifact_digest: str,
        signature: dict[str, Any] | None,
        metrics: dict[str, Any],
        details: dict[str, Any],
        description: str = "",
        tags: Mapping[str, str] | None = None,
        trusted: bool = False,
        actor: str = "local",
    ) -> ModelVersionRecord:
        """Register a new version of model ``name`` (created on first use)."""
        model_id = self._model_id(name)
        versions = t.model_versions
        version_id = new_id()
        with locked_parent(self.engine, t.models, model_id) as conn:
            top = conn.execute(
                select(func.max(versions.c.version)).where(
                    versions.c.model_id == model_id
                )
            ).scalar()
            number = int(top or 0) + 1
            conn.execute(
                insert(versions).values(
                    id=version_id,
                    model_id=model_id,
                    version=number,
                    run_id=run_id,
                    flavor=flavor,
                    artifact_digest=artifact_digest,
                    signature=signature,
                    metrics=metrics,
                    details=details,
                    created_at=utcnow(),
                    status="candidate",
                    description=description,
                    trusted=trusted,
                )
            )
            _write_tags(conn, version_id, dict(tags or {}))
            _audit(
                conn,
                actor,
                "register",
                f"models:/{name}/{number}",
                {"flavor": flavor, "run_id": run_id, "trusted": trusted},
            )
        return self.get_model_version(name, number)

    def get_model_version(
        self, name: str, version: int, *, include_deleted: bool = False
    ) -> ModelVersionRecord:
        """Return version ``version`` of model ``name``.

        Raises:
            NotFoundError: no such version, or it was deleted.
        """
        query = _version_query().where(
            t.models.c.name == name, t.model_versions.c.version == version
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            self._require_model(name)
            raise NotFoundError(
                f"model {name!r} has no version {version}; list versions with "
                f"`tether models show {name}`",
                kind="model_version",
                name=f"{name}/{version}",
            )
        if row["deleted_at"] is not None and not include_deleted:
            raise NotFoundError(
                f"version {version} of model {name!r} was deleted; list the remaining "
                f"versions with `tether models show {name}`",
                kind="model_version",
                name=f"{name}/{version}",
            )
        return self._record(row)

    def model_version_by_id(self, version_id: str) -> ModelVersionRecord | None:
        """Return the model version with id ``version_id``, deleted or not, or None."""
        query = _version_query().where(t.model_versions.c.id == version_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self._record(row)

    def list_model_versions(
        self, name: str | None = None, *, include_deleted: bool = False
    ) -> list[ModelVersionRecord]:
        """Return versions of one model (newest first), or of every model."""
        query = _version_query()
        if name is not None:
            self._require_model(name)
            query = query.where(t.models.c.name == name)
        if not include_deleted:
            query = query.where(t.model_versions.c.deleted_at.is_(None))
        query = query.order_by(t.models.c.name, t.model_versions.c.version.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._record(row) for row in rows]

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str = "local",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Point ``alias`` at a version and record the move in the audit trail."""
        record = self.get_model_version(name, version)
        model_id = self._model_id(name)
        a = t.aliases

        def move(conn: Connection) -> None:
            previous = conn.execute(
                select(a.c.version).where(a.c.model_id == model_id, a.c.alias == alias)
            ).scalar()
            row = {
                "model_id": model_id,
                "alias": alias,
                "version": record.version,
                "updated_at": utcnow(),
            }
            upsert_rows(conn, a, [row], ("model_id", "alias"))
            _audit(
                conn,
                actor,
                "set_alias",
                f"models:/{name}@{alias}",
                {
                    "from_version": previous,
                    "to_version": record.version,
                    **dict(details or {}),
                },
            )

        write(self.engine, move)

    def remove_alias(self, name: str, alias: str, *, actor: str = "local") -> int:
        """Remove ``alias`` from model ``name``; return the version it pointed at."""
        version = self.resolve_alias(name, alias)
        model_id = self._model_id(name)
        a = t.aliases

        def remove(conn: Connection) -> None:
            conn.execute(delete(a).where(a.c.model_id == model_id, a.c.alias == alias))
            _audit(
                conn,
                actor,
                "remove_alias",
                f"models:/{name}@{alias}",
                {"from_version": version, "to_version": None},
            )

        write(self.engine, remove)
        return version

    def resolve_alias(self, name: str, alias: str) -> int:
        """Return the version number that ``alias`` points at."""
        version = self._alias_version(self._require_model(name), alias)
        if version is None:
            known = ", ".join(self._aliases_of(name)) or "none"
            raise NotFoundError(
                f"model {name!r} has no alias {alias!r} (aliases: {known}); set one with "
                f"`tether models alias {name} {alias} VERSION`",
                kind="alias",
                name=f"{name}@{alias}",
            )
        return version

    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        actor: str = "local",
        status: str | None = None,
        description: str | None = None,
        trusted: bool | None = None,
        tags: Mapping[str, str] | None = None,
        removed_tags: Sequence[str] = (),
    ) -> ModelVersionRecord:
        """Change a version's status, description, trust or tags, with an audit event.

        Only the arguments that are given change; each change is one event.
        """
        record = self.get_model_version(name, version)
        entity = record.uri
        changes: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        if status is not None and status != record.status:
            changes.append(
                (
                    "set_status",
                    {"status": status},
                    {"from": record.status, "to": status},
                )
            )
        if description is not None and description != record.description:
            changes.append(("set_description", {"description": description}, {}))
        if trusted is not None and trusted != record.trusted:
            action = "trust" if trusted else "distrust"
            changes.append((action, {"trusted": trusted}, {}))
        tags = dict(tags or {})
        removed = [key for key in removed_tags if key in record.tags]

        def apply(conn: Connection) -> None:
            v = t.model_versions
            for action, values, details in changes:
                conn.execute(update(v).where(v.c.id == record.id).values(**values))
                _audit(conn, actor, action, entity, details)
            if tags:
                _write_tags(conn, record.id, tags)
                _audit(conn, actor, "set_tags", entity, {"tags": tags})
            if removed:
                mvt = t.model_version_tags
                conn.execute(
                    delete(mvt).where(
                        mvt.c.version_id == record.id, mvt.c.key.in_(removed)
                    )
                )
                _audit(conn, actor, "remove_tags", entity, {"keys": removed})

        write(self.engine, apply)
        return self.get_model_version(name, version)

    def delete_model_version(
        self, name: str, version: int, *, actor: str = "local"
    ) -> list[str]:
        """Mark a version deleted and remove its aliases; return the aliases removed.

        The rows and files stay until ``tether gc`` removes what nothing
        references any more.
        """
        record = self.get_model_version(name, version)
        model_id = self._model_id(name)
        a = t.aliases

        def mark(conn: Connection) -> None:
            v = t.model_versions
            conn.execute(
                update(v).where(v.c.id == record.id).values(deleted_at=utcnow())
            )
            conn.execute(
                delete(a).where(a.c.model_id == model_id, a.c.version == version)
            )
            for alias in record.aliases:
                _audit(
                    conn,
                    actor,
                    "remove_alias",
                    f"models:/{name}@{alias}",
                    {"from_version": version, "to_version": None},
                )
            _audit(conn, actor, "delete", record.uri, {"aliases": list(record.aliases)})

        write(self.engine, mark)
        return list(record.aliases)

    def audit_trail(self, entity_prefix: str = "") -> list[AuditRecord]:
        """Return audit events, oldest first, for entities starting with a prefix."""
        e = t.audit_events
        query = select(
            e.c.time, e.c.actor, e.c.action, e.c.entity, e.c.details
        ).order_by(e.c.id)
        if entity_prefix:
            query = query.where(e.c.entity.startswith(entity_prefix, autoescape=True))
        with self.engine.connect() as conn:
            return [
                AuditRecord(aware(r.time), r.actor, r.action, r.entity, r.details)
                for r in conn.execute(query)
            ]

    def record_audit_event(
        self, actor: str, action: str, entity: str, details: Mapping[str, Any]
    ) -> None:
        """Append one event to the audit trail."""
        write(
            self.engine, lambda conn: _audit(conn, actor, action, entity, dict(details))
        )

    def _record(self, row: Any) -> ModelVersionRecord:
        return ModelVersionRecord(
            id=row["id"],
            name=row["name"],
            version=row["version"],
            run_id=row["run_id"],
            flavor=row["flavor"],
            artifact_digest=row["artifact_digest"],
            signature=row["signature"],
            metrics=row["metrics"],
            details=row["details"],
            created_at=aware(row["created_at"]),
            aliases=tuple(self._aliases_of(row["name"], row["version"])),
            status=row["status"],
            description=row["description"],
            trusted=bool(row["trusted"]),
            tags=self._tags_of(row["id"]),
            deleted_at=aware(row["deleted_at"]) if row["deleted_at"] else None,
        )

    def _tags_of(self, version_id: str) -> dict[str, str]:
        mvt = t.model_version_tags
        query = select(mvt.c.key, mvt.c.value).where(mvt.c.version_id == version_id)
        with self.engine.connect() as conn:
            return {row.key: row.value for row in conn.execute(query)}

    def _aliases_of(self, name: str, version: int | None = None) -> list[str]:
        a = t.aliases
        query = (
            select(a.c.alias)
            .join(t.models, t.models.c.id == a.c.model_id)
            .where(t.models.c.name == name)
        )
        if version is not None:
            query = query.where(a.c.version == version)
        with self.engine.connect() as conn:
            return sorted(str(x) for x in conn.execute(query).scalars())

    def _alias_version(self, model_id: str, alias: str) -> int | None:
        a = t.aliases
        with self.engine.connect() as conn:
            found = conn.execute(
                select(a.c.version).where(a.c.model_id == model_id, a.c.alias == alias)
            ).scalar()
        return int(found) if found is not None else None

    def _require_model(self, name: str) -> str:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.models.c.id).where(t.models.c.name == name)
            ).scalar()
        if not found:
            raise NotFoundError(
                f"model {name!r} not found; list models with `tether models list`",
                kind="model",
                name=name,
            )
        return str(found)

    def _model_id(self, name: str) -> str:
        return id_for_name(self.engine, t.models, name, description="")


def _version_query() -> Any:
    v = t.model_versions
    return select(v, t.models.c.name).join(t.models, t.models.c.id == v.c.model_id)


def _write_tags(conn: Connection, version_id: str, tags: dict[str, str]) -> None:
    rows = [
        {"version_id": version_id, "key": key, "value": str(value)}
        for key, value in tags.items()
    ]
    upsert_rows(conn, t.model_version_tags, rows, ("version_id", "key"))
