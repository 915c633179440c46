"""Store operations on the model registry: models, versions and aliases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from tether.errors import NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.locking import locked_parent
from tether.store.names import id_for_name
from tether.store.records import AuditRecord, ModelVersionRecord
from tether.store.time import aware, utcnow


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
    ) -> ModelVersionRecord:
        """Register a new version of model ``name`` (created on first use)."""
        model_id = self._model_id(name)
        versions = t.model_versions
        with locked_parent(self.engine, t.models, model_id) as conn:
            top = conn.execute(
                select(func.max(versions.c.version)).where(
                    versions.c.model_id == model_id
                )
            ).scalar()
            number = int(top or 0) + 1
            conn.execute(
                insert(versions).values(
                    id=new_id(),
                    model_id=model_id,
                    version=number,
                    run_id=run_id,
                    flavor=flavor,
                    artifact_digest=artifact_digest,
                    signature=signature,
                    metrics=metrics,
                    details=details,
                    created_at=utcnow(),
                )
            )
        return self.get_model_version(name, number)

    def get_model_version(self, name: str, version: int) -> ModelVersionRecord:
        """Return version ``version`` of model ``name``."""
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
        return self._record(row)

    def list_model_versions(self, name: str | None = None) -> list[ModelVersionRecord]:
        """Return versions of one model (newest first), or of every model."""
        query = _version_query()
        if name is not None:
            self._require_model(name)
            query = query.where(t.models.c.name == name)
        query = query.order_by(t.models.c.name, t.model_versions.c.version.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._record(row) for row in rows]

    def set_alias(
        self, name: str, alias: str, version: int, *, actor: str = "local"
    ) -> None:
        """Point ``alias`` at a version and record the move in the audit trail."""
        record = self.get_model_version(name, version)
        model_id = self._model_id(name)
        previous = self._alias_version(model_id, alias)
        a = t.aliases
        with self.engine.begin() as conn:
            if previous is None:
                conn.execute(
                    insert(a).values(
                        model_id=model_id,
                        alias=alias,
                        version=version,
                        updated_at=utcnow(),
                    )
                )
            else:
                conn.execute(
                    update(a)
                    .where(a.c.model_id == model_id, a.c.alias == alias)
                    .values(version=version, updated_at=utcnow())
                )
            conn.execute(
                insert(t.audit_events).values(
                    time=utcnow(),
                    actor=actor,
                    action="set_alias",
                    entity=f"models:/{name}@{alias}",
                    details={"from_version": previous, "to_version": record.version},
                )
            )

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
        )

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
