"""Plain records that the store returns. They hold no connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    """One run as stored, with its params, tags and latest metric values."""

    id: str
    experiment: str
    name: str
    kind: str
    status: str
    parent_id: str | None
    start_time: datetime
    end_time: datetime | None
    source: dict[str, Any]
    cache_key: str | None = None
    cached_from: str | None = None
    error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class MetricPoint:
    """One logged value of a metric."""

    key: str
    value: float  # NaN, not None, for a NaN metric
    step: int
    timestamp: float


@dataclass
class PendingWrites:
    """Params, tags and metric points of one run, waiting to be written together."""

    points: list[MetricPoint] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.points) + len(self.params) + len(self.tags)

    def put_before(self, older: PendingWrites) -> None:
        """Put writes taken earlier back in front of these; newer values win."""
        self.points[:0] = older.points
        self.params = {**older.params, **self.params}
        self.tags = {**older.tags, **self.tags}


@dataclass(frozen=True)
class ArtifactRecord:
    """A file or folder a run logged, known by its content digest."""

    run_id: str
    path: str
    digest: str
    size: int
    media_type: str
    is_dir: bool
    role: str


@dataclass(frozen=True)
class DatasetVersionRecord:
    """One immutable version of a named dataset."""

    id: str
    name: str
    version: int
    digest: str
    object_digest: str
    media_type: str
    rows: int | None
    size: int
    schema: list[dict[str, Any]]
    profile: dict[str, Any]
    source: dict[str, Any]
    run_id: str | None
    created_at: datetime
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """The URI that addresses this version, e.g. ``datasets:/flights@3``."""
        return f"datasets:/{self.name}@{self.version}"

    def _repr_html_(self) -> str:
        """Return the version as HTML tables, for notebooks."""
        from tether.notebook_html import dataset_version_html

        return dataset_version_html(vars(self))


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered version of a model.

    Attributes:
        status: ``candidate`` when registered; then for example ``approved``,
            ``rejected`` or ``archived``.
        trusted: Whether someone marked the version's files safe to load
            although loading them can run code.
        deleted_at: When the version was deleted, or None.
    """

    id: str
    name: str
    version: int
    run_id: str | None
    flavor: str
    artifact_digest: str
    signature: dict[str, Any] | None
    metrics: dict[str, Any]
    details: dict[str, Any]
    created_at: datetime
    aliases: tuple[str, ...] = ()
    status: str = "candidate"
    description: str = ""
    trusted: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    deleted_at: datetime | None = None

    @property
    def uri(self) -> str:
        """The URI that addresses this version, e.g. ``models:/flight-delay/3``."""
        return f"models:/{self.name}/{self.version}"

    def _repr_html_(self) -> str:
        """Return the version as HTML tables, for notebooks."""
        from tether.notebook_html import model_version_html

        return model_version_html(vars(self))


@dataclass(frozen=True)
class Edge:
    """A lineage edge: ``src`` flowed into ``dst``."""

    src_kind: str
    src_id: str
    dst_kind: str
    dst_id: str
    relation: str


@dataclass(frozen=True)
class AuditRecord:
    """An entry of the append-only audit trail."""

    time: datetime
    actor: str
    action: str
    entity: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ModelTestRecord:
    """One run of a model's test suite on a version.

    Attributes:
        passed: Whether every test passed.
        required_passed: Whether every required test passed; moving the
            ``champion`` alias checks this.
        results: The result of each test, as the suite reported it.
    """

    id: str
    name: str
    version: int
    suite: str
    passed: bool
    required_passed: bool
    results: list[dict[str, Any]]
    created_at: datetime
