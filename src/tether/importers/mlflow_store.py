"""Read an MLflow tracking store's database with SQLAlchemy, without MLflow.

The tables and columns are those of MLflow's SQL store (``mlflow.store``
in MLflow 3.18): ``experiments``, ``experiment_tags``, ``runs``, ``params``,
``tags``, ``metrics``, ``registered_models``, ``registered_model_tags``,
``registered_model_aliases``, ``model_versions``, ``model_version_tags``
and ``logged_models``. Older MLflow versions lack some tables, such as the
aliases and the logged models, or some columns, such as ``metrics.step``,
``metrics.is_nan`` and ``model_versions.storage_location``. So every table
and column is looked up in the database first, and a missing one reads as
empty.

The database is opened read-only (see ``mlflow_database``). Times are kept as
MLflow stores them, in milliseconds since the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Column, Table, select

from tether.errors import NotFoundError
from tether.importers.mlflow_database import open_engine, reflect_tables
from tether.importers.mlflow_records import (
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowMetric,
    MlflowModelVersion,
    MlflowRegisteredModel,
    MlflowRun,
)

DEFAULT_WORKSPACE = "default"
ACTIVE = "active"


class MlflowStore:
    """The tables of one MLflow tracking database, read-only.

    Args:
        url: ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.
        workspace: The MLflow workspace to read, in databases that have
            workspaces (MLflow 3.x); other databases have only one.
    """

    def __init__(self, url: str, *, workspace: str = DEFAULT_WORKSPACE) -> None:
        self.url = url
        self.workspace = workspace
        self.engine = open_engine(url)
        try:
            self.tables = reflect_tables(self.engine, url)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> MlflowStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- experiments and runs ---------------------------------------------

    def experiments(self) -> list[MlflowExperiment]:
        """Return every experiment of the workspace, ordered by id."""
        table = self.tables["experiments"]
        query = self._in_workspace(select(table), table).order_by(table.c.experiment_id)
        tags = self._experiment_tags()
        found = []
        for row in self._rows(query):
            key = str(row["experiment_id"])
            found.append(
                MlflowExperiment(
                    id=key,
                    name=str(row["name"]),
                    artifact_location=row.get("artifact_location"),
                    deleted=row.get("lifecycle_stage", ACTIVE) != ACTIVE,
                    tags=tags.get(key, {}),
                )
            )
        return found

    def runs(self, experiment_ids: Sequence[str]) -> list[MlflowRun]:
        """Return the runs of the given experiments, ordered by start time."""
        table = self.tables["runs"]
        ids = [int(key) for key in experiment_ids]
        query = (
            select(table)
            .where(table.c.experiment_id.in_(ids))
            .order_by(table.c.start_time, table.c.run_uuid)
        )
        return [_run(row) for row in self._rows(query)]

    def params(self, run_id: str) -> dict[str, str]:
        """Return the params of a run."""
        return self._pairs("params", run_id)

    def tags(self, run_id: str) -> dict[str, str]:
        """Return the tags of a run; a tag without a value reads as ``""``."""
        return self._pairs("tags", run_id)

    def metrics(self, run_id: str) -> list[MlflowMetric]:
        """Return every logged point of every metric of a run.

        MLflow stores NaN as 0 with ``is_nan`` set, which reads back as NaN.
        The points are ordered by key, step, timestamp and value.
        """
        table = self.tables.get("metrics")
        if table is None:
            return []
        step = _column(table, "step")
        is_nan = _column(table, "is_nan")
        query = select(table).where(table.c.run_uuid == run_id)
        order = [table.c.key, *([step] if step is not None else [])]
        query = query.order_by(*order, table.c.timestamp, table.c.value)
        points = []
        for row in self._rows(query):
            value = math.nan if is_nan is not None and row["is_nan"] else row["value"]
            points.append(
                MlflowMetric(
                    key=str(row["key"]),
                    value=float(value),
                    step=int(row.get("step") or 0),
                    timestamp=int(row["timestamp"]),
                )
            )
        return points

    def logged_models(self, run_id: str) -> list[MlflowLoggedModel]:
        """Return the models a run logged, which MLflow 3 keeps outside its folder."""
        table = self.tables.get("logged_models")
        if table is None:
            return []
        query = (
            select(table)
            .where(table.c.source_run_id == run_id)
            .order_by(table.c.model_id)
        )
        return [
            MlflowLoggedModel(
                str(row["model_id"]), str(row["name"]), str(row["artifact_location"])
            )
            for row in self._rows(query)
            if row.get("lifecycle_stage", ACTIVE) == ACTIVE
        ]

    def logged_model_location(self, model_id: str) -> str | None:
        """Return the folder of logged model ``model_id``, or None if unknown."""
        table = self.tables.get("logged_models")
        if table is None:
            return None
        query = select(table.c.artifact_location).where(table.c.model_id == model_id)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else str(found)

    def run_artifact_uri(self, run_id: str) -> str | None:
        """Return the artifact location of any run, also of a run not being copied."""
        table = self.tables["runs"]
        query = select(table.c.artifact_uri).where(table.c.run_uuid == run_id)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else str(found)

    # -- the model registry -------------------------------------------------

    def registered_models(self) -> list[MlflowRegisteredModel]:
        """Return every registered model of the workspace, ordered by name."""
        table = self.tables.get("registered_models")
        if table is None:
            return []
        query = self._in_workspace(select(table), table).order_by(table.c.name)
        models = []
        for row in self._rows(query):
            name = str(row["name"])
            models.append(
                MlflowRegisteredModel(
                    name=name,
                    description=row.get("description") or "",
                    tags=self._named_pairs("registered_model_tags", name),
                    aliases=self._aliases(name),
                    versions=self._versions(name),
                )
            )
        return models

    def _versions(self, name: str) -> list[MlflowModelVersion]:
        table = self.tables.get("model_versions")
        if table is None:
            return []
        query = self._in_workspace(
            select(table).where(table.c.name == name), table
        ).order_by(table.c.version)
        tags = self._version_tags(name)
        return [
            MlflowModelVersion(
                name=name,
                version=int(row["version"]),
                run_id=row.get("run_id") or None,
                source=row.get("source") or None,
                storage_location=row.get("storage_location") or None,
                status=str(row.get("status") or "READY"),
                current_stage=row.get("current_stage"),
                description=row.get("description") or "",
                tags=tags.get(int(row["version"]), {}),
            )
            for row in self._rows(query)
        ]

    def _aliases(self, name: str) -> dict[str, int]:
        table = self.tables.get("registered_model_aliases")
        if table is None:
            return {}
        query = self._in_workspace(select(table).where(table.c.name == name), table)
        return {str(row["alias"]): int(row["version"]) for row in self._rows(query)}

    def _version_tags(self, name: str) -> dict[int, dict[str, str]]:
        table = self.tables.get("model_version_tags")
        if table is None:
            return {}
        query = self._in_workspace(select(table).where(table.c.name == name), table)
        found: dict[int, dict[str, str]] = {}
        for row in self._rows(query):
            found.setdefault(int(row["version"]), {})[str(row["key"])] = _text(
                row["value"]
            )
        return found

    # -- helpers --------------------------------------------------------------

    def _experiment_tags(self) -> dict[str, dict[str, str]]:
        table = self.tables.get("experiment_tags")
        if table is None:
            return {}
        found: dict[str, dict[str, str]] = {}
        for row in self._rows(select(table)):
            found.setdefault(str(row["experiment_id"]), {})[str(row["key"])] = _text(
                row["value"]
            )
        return found

    def _pairs(self, name: str, run_id: str) -> dict[str, str]:
        table = self.tables.get(name)
        if table is None:
            return {}
        query = select(table.c.key, table.c.value).where(table.c.run_uuid == run_id)
        return {str(row["key"]): _text(row["value"]) for row in self._rows(query)}

    def _named_pairs(self, name: str, model: str) -> dict[str, str]:
        table = self.tables.get(name)
        if table is None:
            return {}
        query = self._in_workspace(select(table).where(table.c.name == model), table)
        return {str(row["key"]): _text(row["value"]) for row in self._rows(query)}

    def _in_workspace(self, query: Any, table: Table) -> Any:
        column = _column(table, "workspace")
        return query if column is None else query.where(column == self.workspace)

    def _rows(self, query: Any) -> Iterator[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        for row in rows:
            yield dict(row)


def open_mlflow_store(url: str, *, workspace: str = DEFAULT_WORKSPACE) -> MlflowStore:
    """Open an MLflow tracking database read-only, checking that it is one.

    Raises:
        ConfigError: the URL is not a SQLite or PostgreSQL URL, or the SQLite
            file does not exist.
        StoreError: the database cannot be read or has no MLflow tables.
    """
    return MlflowStore(url, workspace=workspace)


def _run(row: dict[str, Any]) -> MlflowRun:
    return MlflowRun(
        id=str(row["run_uuid"]),
        experiment_id=str(row["experiment_id"]),
        name=row.get("name") or None,
        status=str(row.get("status") or "FINISHED"),
        start_time=_optional_int(row.get("start_time")),
        end_time=_optional_int(row.get("end_time")),
        artifact_uri=row.get("artifact_uri") or None,
        deleted=row.get("lifecycle_stage", ACTIVE) != ACTIVE,
    )


def select_experiments(
    experiments: Iterable[MlflowExperiment], names: Sequence[str]
) -> list[MlflowExperiment]:
    """Return the experiments called ``names``, or every one when none is named.

    Raises:
        NotFoundError: a name matches no experiment.
    """
    found = list(experiments)
    if not names:
        return found
    by_name = {experiment.name: experiment for experiment in found}
    for name in names:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise NotFoundError(
                f"MLflow experiment {name!r} not found; the database has: {known}",
                kind="experiment",
                name=name,
            )
    return [by_name[name] for name in dict.fromkeys(names)]


def _column(table: Table, name: str) -> Column[Any] | None:
    return table.c.get(name)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
