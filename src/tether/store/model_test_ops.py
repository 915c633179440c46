"""Store operations on model test suites and the results of running them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tether.ids import new_id
from tether.store import schema as t
from tether.store.model_ops import ModelOps
from tether.store.records import ModelTestRecord
from tether.store.time import aware, utcnow
from tether.store.transactions import write


class ModelTestOps(ModelOps):
    """Test suites attached to models and their results; mixed into the SQL store."""

    def add_test_result(
        self,
        name: str,
        version: int,
        *,
        suite: str,
        passed: bool,
        required_passed: bool,
        results: list[dict[str, Any]],
        actor: str = "local",
    ) -> ModelTestRecord:
        """Store the result of running a suite on a version, with an audit event."""
        record = self.get_model_version(name, version)
        row: dict[str, Any] = {
            "id": new_id(),
            "version_id": record.id,
            "suite": suite,
            "passed": passed,
            "required_passed": required_passed,
            "results": results,
            "created_at": utcnow(),
        }

        def apply(conn: Connection) -> None:
            conn.execute(insert(t.model_test_results).values(**row))
            conn.execute(
                insert(t.audit_events).values(
                    time=row["created_at"],
                    actor=actor,
                    action="test",
                    entity=record.uri,
                    details={
                        "suite": suite,
                        "passed": passed,
                        "required_passed": required_passed,
                    },
                )
            )

        write(self.engine, apply)
        return ModelTestRecord(
            row["id"],
            name,
            version,
            suite,
            passed,
            required_passed,
            results,
            aware(row["created_at"]),
        )

    def test_results(self, name: str, version: int) -> list[ModelTestRecord]:
        """Return the test results of a version, newest first."""
        record = self.get_model_version(name, version, include_deleted=True)
        r = t.model_test_results
        query = (
            select(r)
            .where(r.c.version_id == record.id)
            .order_by(r.c.created_at.desc(), r.c.id.desc())
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            ModelTestRecord(
                row["id"],
                name,
                version,
                row["suite"],
                bool(row["passed"]),
                bool(row["required_passed"]),
                row["results"],
                aware(row["created_at"]),
            )
            for row in rows
        ]

    def set_test_suite(
        self, name: str, suite: Mapping[str, Any] | None, *, actor: str = "local"
    ) -> None:
        """Attach a test suite to model ``name``, or detach it with None."""
        model_id = self._require_model(name)
        m = t.models
        value = dict(suite) if suite is not None else None

        def apply(conn: Connection) -> None:
            conn.execute(update(m).where(m.c.id == model_id).values(test_suite=value))
            conn.execute(
                insert(t.audit_events).values(
                    time=utcnow(),
                    actor=actor,
                    action="set_test_suite" if value else "remove_test_suite",
                    entity=f"models:/{name}",
                    details={"kind": next(iter(value), None) if value else None},
                )
            )

        write(self.engine, apply)

    def test_suite(self, name: str) -> dict[str, Any] | None:
        """Return the test suite attached to model ``name``, if any."""
        model_id = self._require_model(name)
        query = select(t.models.c.test_suite).where(t.models.c.id == model_id)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return dict(found) if found else None
