"""What a project file (``tether.yaml``) declares, as frozen dataclasses.

The loader (:mod:`tether.project.load`) builds a :class:`ProjectSpec` from
the file and checks every value; ``tether ci`` runs what it declares.
``docs/automation.md`` lists every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.monitoring.alert_rules import AlertRule
from tether.monitoring.monitors import MonitorSpec
from tether.project.marks import Marks

PROJECT_FILE = "tether.yaml"
STAGES = ("staging", "production")
RELEASE_POLICIES = ("auto", "manual", "never")


@dataclass(frozen=True)
class PipelineEntry:
    """A pipeline that ``tether ci`` runs.

    Attributes:
        target: The ``@tether.pipeline`` function as ``module:qualname``.
        params: Its arguments; JSON-compatible values.
        executor: ``inprocess``, ``processes`` or ``ray``; None for the default.
        workers: Threads or processes for independent steps; None for the default.
    """

    name: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    executor: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset that ``tether ci`` acquires, as ``tether data acquire`` does.

    Attributes:
        source: A file, folder or glob (relative to the project folder), an
            http(s):// or s3:// URL, or with ``query`` a SQLAlchemy URL.
        format: How to read the source: csv, parquet, json, jsonl or files;
            None to go by the file suffixes.
        query: A SQL query run on ``source``.
        timeout: Seconds to wait for an HTTP(S) server; None for the default.
    """

    name: str
    source: str
    format: str | None = None
    query: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Gates:
    """What a model version must pass before ``tether ci`` releases it.

    Attributes:
        alias: The alias that the release moves to the tested version.
        tests: Tests that must pass; empty means every required test of the suite.
    """

    alias: str = "champion"
    tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelEntry:
    """A registered model that ``tether ci`` tests, and the gates of its release.

    Attributes:
        pipeline: The declared pipeline whose run registers the version;
            None for any of them.
        suite: A suite file (relative to the project folder) or ``module:name``.
        tests: Inline tests, as a suite file's ``tests`` list.
        dataset: The data of tests that name none: ``datasets:/NAME[@VERSION]``.
        label: The label column of inline tests.
    """

    name: str
    pipeline: str | None = None
    suite: str | None = None
    tests: tuple[dict[str, Any], ...] = ()
    dataset: str | None = None
    label: str | None = None
    gates: Gates = field(default_factory=Gates)


@dataclass(frozen=True)
class AppTests:
    """Settings of a deployment's application tests (``tether deploy create``)."""

    load_requests: int = 100
    load_concurrency: int = 4
    p99_ms: float = 1000.0


@dataclass(frozen=True)
class PromotionRule:
    """When ``tether ci`` promotes a production deployment's canary.

    Attributes:
        model_tests: The canary's latest model tests must have passed every
            required test.
        metric: A monitored value (``performance.accuracy``) that the
            canary's predictions must beat the primary's on; None for none.
        monitor: The monitor whose settings compute ``metric`` per version.
        mode: ``max`` when a larger value is better, ``min`` when smaller is.
        min_rows: Logged predictions each version needs before they compare.
    """

    model_tests: bool = True
    metric: str | None = None
    monitor: str | None = None
    mode: str = "max"
    min_rows: int = 100


@dataclass(frozen=True)
class DeploymentEntry:
    """A deployment that ``tether ci`` creates (staging) or releases to (production).

    Attributes:
        model: A declared model's name, meaning the version this run built,
            or a ``models:/`` URI such as ``models:/penguins@champion``.
        stage: ``staging`` is created, tested and stopped by each run;
            ``production`` gets the released version as its canary.
        canary: The canary's share of requests, in percent (production).
        sticky_header: A request header that keeps a client on one version.
        ready_timeout: Seconds a new model server may take to become ready.
    """

    name: str
    model: str
    stage: str = "staging"
    host: str = "127.0.0.1"
    port: int = 8000
    canary: int = 10
    sticky_header: str | None = None
    tests: AppTests = field(default_factory=AppTests)
    ready_timeout: float = 120.0
    promote: PromotionRule = field(default_factory=PromotionRule)


@dataclass(frozen=True)
class MonitorEntry:
    """A monitor, as ``tether monitor create`` takes it, with its schedule.

    Attributes:
        cron: Run it from ``tether agent`` on this UTC cron expression.
        on_dataset: Run it from ``tether agent`` for every new version of
            this dataset.
        report_dir: Scheduled runs write their report here.
    """

    name: str
    spec: MonitorSpec
    cron: str | None = None
    on_dataset: str | None = None
    report_dir: str | None = None


@dataclass(frozen=True)
class TriggerEntry:
    """A schedule that starts a declared pipeline (``tether schedule add``).

    Exactly one of ``cron``, ``on_dataset`` and ``on_alert`` is set.

    Attributes:
        params: Arguments that replace the pipeline's own ``params``.
        input_param: The pipeline argument that receives the new dataset
            version's URI or the alert event's id.
    """

    name: str
    pipeline: str
    cron: str | None = None
    on_dataset: str | None = None
    on_alert: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    input_param: str | None = None


@dataclass(frozen=True)
class ReleasePolicy:
    """When ``tether ci`` releases.

    Attributes:
        branches: Branches whose runs release.
        policy: ``auto`` releases on those branches, ``manual`` only with
            ``tether ci --release``, ``never`` not at all.
    """

    branches: tuple[str, ...] = ("main",)
    policy: str = "auto"


@dataclass(frozen=True)
class ProjectSpec:
    """Everything a project file declares.

    Attributes:
        root: The folder of the project file; relative paths start here.
        file: The project file's path.
        marks: Where each key and value is in the file, for later checks.
    """

    root: Path
    file: Path
    pipelines: dict[str, PipelineEntry] = field(default_factory=dict)
    datasets: dict[str, DatasetEntry] = field(default_factory=dict)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    deployments: dict[str, DeploymentEntry] = field(default_factory=dict)
    monitors: dict[str, MonitorEntry] = field(default_factory=dict)
    rules: dict[str, AlertRule] = field(default_factory=dict)
    triggers: dict[str, TriggerEntry] = field(default_factory=dict)
    release: ReleasePolicy = field(default_factory=ReleasePolicy)
    marks: Marks | None = field(default=None, compare=False, repr=False)

    def deployments_of(self, stage: str) -> list[DeploymentEntry]:
        """Return the deployments of one stage, in the file's order."""
        return [entry for entry in self.deployments.values() if entry.stage == stage]
