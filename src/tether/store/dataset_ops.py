"""Store operations on datasets and their versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, insert, select

from tether.errors import NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.locking import locked_parent
from tether.store.names import id_for_name
from tether.store.records import DatasetVersionRecord
from tether.store.time import aware, utcnow


class DatasetOps:
    """Datasets and versions; mixed into the SQL store."""

    engine: Engine

    def add_dataset_version(
        self,
        name: str,
        *,
        digest: str,
        object_digest: str,
        media_type: str,
        rows: int | None,
        size: int,
        schema: list[dict[str, Any]],
        profile: dict[str, Any],
        source: dict[str, Any],
        run_id: str | None,
    ) -> tuple[DatasetVersionRecord, bool]:
        """Add a version unless the latest one has the same digest.

        Returns the version and whether it was created (False when the
        content was unchanged and the latest version was reused).
        """
        latest = self.latest_dataset_version(name)
        if latest is not None and latest.digest == digest:
            return latest, False
        dataset_id = self._dataset_id(name)
        v = t.dataset_versions
        with locked_parent(self.engine, t.datasets, dataset_id) as conn:
            top = conn.execute(
                select(v.c.version, v.c.digest)
                .where(v.c.dataset_id == dataset_id)
                .order_by(v.c.version.desc())
                .limit(1)
            ).first()
            if top is not None and top.digest == digest:
                unchanged = top.version  # another writer registered this content
            else:
                unchanged = None
                number = (top.version if top is not None else 0) + 1
                conn.execute(
                    insert(v).values(
                        id=new_id(),
                        dataset_id=dataset_id,
                        version=number,
                        digest=digest,
                        object_digest=object_digest,
                        media_type=media_type,
                        rows=rows,
                        size=size,
                        schema=schema,
                        profile=profile,
                        source=source,
                        run_id=run_id,
                        created_at=utcnow(),
                    )
                )
        if unchanged is not None:
            return self.get_dataset_version(name, unchanged), False
        return self.get_dataset_version(name, number), True

    def get_dataset_version(
        self, name: str, version: int | None = None
    ) -> DatasetVersionRecord:
        """Return version ``version`` of dataset ``name``, or its latest version."""
        record = (
            self.latest_dataset_version(name)
            if version is None
            else self._select_one(name, t.dataset_versions.c.version == version)
        )
        if record is None and (version is None or self._dataset_missing(name)):
            raise NotFoundError(
                f"dataset {name!r} not found; list datasets with `tether data list`",
                kind="dataset",
                name=name,
            )
        if record is None:
            raise NotFoundError(
                f"version {version} of dataset {name!r} not found; list its versions "
                f"with `tether data versions {name}`",
                kind="dataset",
                name=name,
            )
        return record

    def latest_dataset_version(self, name: str) -> DatasetVersionRecord | None:
        """Return the newest version of dataset ``name``, or None."""
        return self._select_one(name, None)

    def dataset_version_by_id(self, version_id: str) -> DatasetVersionRecord:
        """Return a dataset version by its id."""
        query = _version_query().where(t.dataset_versions.c.id == version_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(
                f"dataset version {version_id!r} not found",
                kind="dataset",
                name=version_id,
            )
        return _record(row)

    def dataset_versions_with_digest(self, digest: str) -> list[DatasetVersionRecord]:
        """Return every dataset version whose content has ``digest``."""
        query = _version_query().where(t.dataset_versions.c.digest == digest)
        with self.engine.connect() as conn:
            return [
                _record(row)
                for row in conn.execute(
                    query.order_by(t.dataset_versions.c.created_at)
                ).mappings()
            ]

    def list_dataset_versions(
        self, name: str | None = None
    ) -> list[DatasetVersionRecord]:
        """Return versions of one dataset, or the latest version of every dataset."""
        query = _version_query()
        if name is not None:
            query = query.where(t.datasets.c.name == name).order_by(
                t.dataset_versions.c.version.desc()
            )
        else:
            newest = (
                select(
                    t.dataset_versions.c.dataset_id,
                    func.max(t.dataset_versions.c.version).label("v"),
                )
                .group_by(t.dataset_versions.c.dataset_id)
                .subquery()
            )
            query = query.join(
                newest,
                (newest.c.dataset_id == t.dataset_versions.c.dataset_id)
                & (newest.c.v == t.dataset_versions.c.version),
            ).order_by(t.datasets.c.name)
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def _select_one(self, name: str, condition: Any) -> DatasetVersionRecord | None:
        query = _version_query().where(t.datasets.c.name == name)
        if condition is not None:
            query = query.where(condition)
        query = query.order_by(t.dataset_versions.c.version.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _record(row) if row else None

    def _dataset_missing(self, name: str) -> bool:
        return self.latest_dataset_version(name) is None

    def _dataset_id(self, name: str) -> str:
        return id_for_name(self.engine, t.datasets, name)


def _version_query() -> Any:
    v = t.dataset_versions
    return select(v, t.datasets.c.name).join(
        t.datasets, t.datasets.c.id == v.c.dataset_id
    )


def _record(row: Any) -> DatasetVersionRecord:
    return DatasetVersionRecord(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        digest=row["digest"],
        object_digest=row["object_digest"],
        media_type=row["media_type"],
        rows=row["rows"],
        size=row["size"],
        schema=row["schema"],
        profile=row["profile"],
        source=row["source"],
        run_id=row["run_id"],
        created_at=aware(row["created_at"]),
    )
