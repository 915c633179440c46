"""Store operations on datasets and their versions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, func, insert, select

from tether.errors import NotFoundError, VersionConflictError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.locking import locked_parent
from tether.store.names import id_for_name
from tether.store.records import DatasetVersionRecord
from tether.store.time import aware, utcnow
from tether.store.transactions import write
from tether.store.upserts import upsert

# Ids per ``IN (...)`` list, far below the bound-parameter limits of SQLite
# (32766) and PostgreSQL (65535).
IDS_PER_QUERY = 500


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
        expected_latest: int | None = None,
    ) -> tuple[DatasetVersionRecord, bool]:
        """Add a version unless the latest one has the same digest.

        Returns the version and whether it was created (False when the
        content was unchanged and the latest version was reused).

        Args:
            expected_latest: For a read-modify-write, the version number the
                new content was built from (0 for none); the version is added
                only if that is still the latest.

        Raises:
            VersionConflictError: another writer added a version after
                ``expected_latest``.
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
            top_number = top.version if top is not None else 0
            if expected_latest is not None and top_number != expected_latest:
                raise VersionConflictError(
                    f"dataset {name!r} has version {top_number}, not {expected_latest}; "
                    "another writer added a version",
                    latest=top_number,
                )
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
        records = self._fetch(query)
        if not records:
            raise NotFoundError(
                f"dataset version {version_id!r} not found",
                kind="dataset",
                name=version_id,
            )
        return records[0]

    def dataset_versions_with_digest(self, digest: str) -> list[DatasetVersionRecord]:
        """Return every dataset version whose content has ``digest``."""
        query = _version_query().where(t.dataset_versions.c.digest == digest)
        return self._fetch(query.order_by(t.dataset_versions.c.created_at))

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
        return self._fetch(query)

    # -- tags -------------------------------------------------------------

    def set_dataset_version_tags(
        self, version_id: str, tags: Mapping[str, str]
    ) -> None:
        """Set tags on a version, replacing the value of a key that is already set.

        Raises:
            NotFoundError: no dataset version has id ``version_id``.
        """
        self.dataset_version_by_id(version_id)
        rows = [
            {"version_id": version_id, "key": key, "value": value}
            for key, value in tags.items()
        ]
        if not rows:
            return
        table = t.dataset_version_tags

        def put(conn: Connection) -> None:
            statement = upsert(
                conn.dialect.name, table, ("version_id", "key", "value"), _TAG_KEYS
            )
            conn.execute(statement, rows)

        write(self.engine, put)

    def remove_dataset_version_tags(
        self, version_id: str, keys: Sequence[str]
    ) -> list[str]:
        """Remove tags from a version and return the keys that were set, sorted."""
        table = t.dataset_version_tags
        chosen = (table.c.version_id == version_id) & table.c.key.in_(list(keys))

        def remove(conn: Connection) -> list[str]:
            found = conn.execute(select(table.c.key).where(chosen)).scalars().all()
            conn.execute(delete(table).where(chosen))
            return sorted(str(key) for key in found)

        return write(self.engine, remove) if keys else []

    def dataset_version_tags(self, version_id: str) -> dict[str, str]:
        """Return the tags of one version, sorted by key."""
        with self.engine.connect() as conn:
            return _tags_of(conn, [version_id]).get(version_id, {})

    def search_dataset_versions(
        self,
        *,
        name_pattern: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        digest_prefix: str | None = None,
        created_after: datetime | None = None,
    ) -> list[DatasetVersionRecord]:
        """Return the versions that pass every given filter, by name then newest first.

        Args:
            name_pattern: A glob pattern (``*`` and ``?``) that the dataset's
                name must match, ignoring case.
            tags: Tags the version must have; a ``None`` value accepts any value.
            digest_prefix: The start of the version's digest, in lowercase hex.
            created_after: The earliest creation time, inclusive.
        """
        v = t.dataset_versions
        query = _version_query()
        if name_pattern is not None:
            like = _like_pattern(name_pattern.lower())
            query = query.where(func.lower(t.datasets.c.name).like(like, escape="\\"))
        for key, value in (tags or {}).items():
            query = query.where(_has_tag(v.c.id, key, value))
        if digest_prefix is not None:
            query = query.where(
                v.c.digest.like(_like_pattern(digest_prefix) + "%", escape="\\")
            )
        if created_after is not None:
            # SQLite stores times without a zone, as UTC.
            query = query.where(v.c.created_at >= aware(created_after))
        return self._fetch(query.order_by(t.datasets.c.name, v.c.version.desc()))

    def _fetch(self, query: Any) -> list[DatasetVersionRecord]:
        """Run a version query and attach each version's tags."""
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
            tags = _tags_of(conn, [row["id"] for row in rows])
        return [_record(row, tags.get(row["id"], {})) for row in rows]

    def _select_one(self, name: str, condition: Any) -> DatasetVersionRecord | None:
        query = _version_query().where(t.datasets.c.name == name)
        if condition is not None:
            query = query.where(condition)
        query = query.order_by(t.dataset_versions.c.version.desc()).limit(1)
        records = self._fetch(query)
        return records[0] if records else None

    def _dataset_missing(self, name: str) -> bool:
        return self.latest_dataset_version(name) is None

    def _dataset_id(self, name: str) -> str:
        return id_for_name(self.engine, t.datasets, name)


def _version_query() -> Any:
    v = t.dataset_versions
    return select(v, t.datasets.c.name).join(
        t.datasets, t.datasets.c.id == v.c.dataset_id
    )


def _record(row: Any, tags: dict[str, str]) -> DatasetVersionRecord:
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
        tags=tags,
    )


_TAG_KEYS = ("version_id", "key")


def _tags_of(conn: Connection, version_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Return the tags of each version id that has any, keys sorted."""
    table = t.dataset_version_tags
    found: dict[str, dict[str, str]] = {}
    for chunk in _chunks(version_ids, IDS_PER_QUERY):
        query = (
            select(table.c.version_id, table.c.key, table.c.value)
            .where(table.c.version_id.in_(chunk))
            .order_by(table.c.version_id, table.c.key)
        )
        for version_id, key, value in conn.execute(query):
            found.setdefault(version_id, {})[key] = value
    return found


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _has_tag(version_id: Any, key: str, value: str | None) -> Any:
    table = t.dataset_version_tags
    condition = exists().where(table.c.version_id == version_id, table.c.key == key)
    return condition.where(table.c.value == value) if value is not None else condition


def _like_pattern(glob: str) -> str:
    """Translate a glob pattern (``*``, ``?``) to a LIKE pattern escaped with ``\\``."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")
