"""Plain records of what the importer reads from an MLflow tracking database.

Times are kept as MLflow stores them, in milliseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MlflowExperiment:
    """One MLflow experiment."""

    id: str
    name: str
    artifact_location: str | None
    deleted: bool
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowRun:
    """One MLflow run, without its params, tags and metrics.

    Attributes:
        start_time: Milliseconds since the epoch, or None when MLflow has none.
        end_time: Milliseconds since the epoch, or None.
    """

    id: str
    experiment_id: str
    name: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    deleted: bool


@dataclass(frozen=True)
class MlflowMetric:
    """One logged metric value; ``timestamp`` is in milliseconds since the epoch."""

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class MlflowLoggedModel:
    """A model that a run logged (MLflow 3): where its MLmodel folder is."""

    id: str
    name: str
    artifact_location: str


@dataclass(frozen=True)
class MlflowModelVersion:
    """One version of a registered model."""

    name: str
    version: int
    run_id: str | None
    source: str | None
    storage_location: str | None
    status: str
    current_stage: str | None
    description: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowRegisteredModel:
    """A registered model with its versions (oldest first) and aliases."""

    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: list[MlflowModelVersion]
