"""Tables of the metadata store (SQLAlchemy Core).

The Alembic migrations under ``migrations/versions`` create exactly these
tables; ``tests/test_migrations.py`` checks that the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

ID = String(32)
KEY = String(250)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("parent_id", ID, ForeignKey("runs.id"), nullable=True),
    Column("name", String(250), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=True),
    Column("cache_key", String(64), nullable=True),
    Column("cached_from", ID, nullable=True),
    Column("source", JSON, nullable=False),
    Column("error", Text, nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_id"),
    Index("ix_runs_cache_key", "cache_key"),
    Index("ix_runs_status", "status"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("value", Float, nullable=True),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("value", Float, nullable=True),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("is_dir", Boolean, nullable=False),
    Column("role", String(20), nullable=False),
    Index("ix_artifacts_digest", "digest"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("dataset_id", ID, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("object_digest", String(64), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("rows", BigInteger, nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("source", JSON, nullable=False),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
    Index("ix_dataset_versions_digest", "digest"),
)

dataset_version_tags = Table(
    "dataset_version_tags",
    metadata,
    Column("version_id", ID, ForeignKey("dataset_versions.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_dataset_version_tags_key", "key"),
)

models = Table(
    "models",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The model's test suite: {"yaml": text} or {"python": "module:name"}.
    Column("test_suite", JSON(none_as_null=True), nullable=True),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=True),
    Column("flavor", String(50), nullable=False),
    Column("artifact_digest", String(64), nullable=False),
    Column("signature", JSON, nullable=True),
    Column("metrics", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, server_default="candidate"),
    Column("description", Text, nullable=False, server_default=""),
    # A version whose files run code when loaded (a pickled Python model)
    # loads only once someone marked it trusted.
    Column("trusted", Boolean, nullable=False, server_default=false()),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("version_id", ID, ForeignKey("model_versions.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per run of a model's test suite on a version. ``required_passed``
# is what moving the ``champion`` alias checks.
model_test_results = Table(
    "model_test_results",
    metadata,
    Column("id", ID, primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("suite", String(250), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("required_passed", Boolean, nullable=False),
    Column("results", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_model_test_results_version", "version_id", "created_at"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", ID, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("src_kind", String(30), nullable=False),
    Column("src_id", String(250), nullable=False),
    Column("dst_kind", String(30), nullable=False),
    Column("dst_id", String(250), nullable=False),
    Column("relation", String(30), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(
        "src_kind", "src_id", "dst_kind", "dst_id", "relation", name="uq_lineage_edge"
    ),
    Index("ix_lineage_dst", "dst_kind", "dst_id"),
    Index("ix_lineage_src", "src_kind", "src_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor", String(250), nullable=False),
    Column("action", String(50), nullable=False),
    Column("entity", String(500), nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_audit_entity", "entity"),
)

prediction_logs = Table(
    "prediction_logs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("model_name", String(250), nullable=False),
    Column("model_version", Integer, nullable=True),
    Column("path", String(1000), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_prediction_logs_model", "model_name", "model_version"),
)


schedules = Table(
    "schedules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("target", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("executor", String(32), nullable=True),
    Column("trigger", String(16), nullable=False),
    Column("spec", Text, nullable=False),
    Column("input_param", String(250), nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per time a schedule fired. The unique (schedule, fire_key) pair is
# the claim: two agents, or one agent before and after a restart, cannot
# both insert it, so no trigger runs twice.
schedule_firings = Table(
    "schedule_firings",
    metadata,
    Column("id", ID, primary_key=True),
    Column("schedule_id", ID, ForeignKey("schedules.id"), nullable=False),
    Column("fire_key", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("agent", String(250), nullable=False),
    Column("run_id", ID, nullable=True),
    Column("error", Text, nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("schedule_id", "fire_key", name="uq_schedule_firings_key"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_alert_events_name", "name", "created_at"),
)

# One row per pipeline step call that got as far as building its cache key:
# the key's parts, which ``tether pipeline explain`` compares, and, once the
# step finished, the digest and kind of each output.
step_calls = Table(
    "step_calls",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("label", String(250), nullable=False),
    Column("key", JSON, nullable=False),
    Column("outputs", JSON(none_as_null=True), nullable=True),
)

# A deployment: a gateway on ``host:port`` and the model servers behind it,
# run by one supervisor process. ``processes`` is the supervisor's last
# report of its model servers, and ``revision`` the routing it applied.
deployments = Table(
    "deployments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("host", String(250), nullable=False),
    Column("port", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("supervisor_pid", Integer, nullable=True),
    Column("processes", JSON, nullable=False),
    Column("revision", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Each routing a deployment was asked to serve (create, promote, rollback),
# numbered from 1. The supervisor applies pending revisions in order and
# marks each applied or failed.
deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("deployment_id", ID, ForeignKey("deployments.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("action", String(20), nullable=False),
    Column("routing", JSON, nullable=False),
    Column("base_revision", Integer, nullable=True),
    Column("run_tests", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("actor", String(250), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

# One row per run of the application tests (smoke, contract, load) on one
# model version of a deployment.
deployment_tests = Table(
    "deployment_tests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("deployment_id", ID, ForeignKey("deployments.id"), nullable=False),
    Column("revision", Integer, nullable=True),
    Column("model_uri", String(500), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("results", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_deployment_tests_deployment", "deployment_id", "created_at"),
)

# A monitor: which model's logged predictions it watches, against which
# reference, in which windows. ``spec`` is what ``tether.monitoring.monitors``
# writes; the store does not read inside it.
monitors = Table(
    "monitors",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("model", String(250), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The values a monitor computed for one window. Computing a window again
# replaces its row, so the history has one row per window.
monitor_results = Table(
    "monitor_results",
    metadata,
    Column("monitor", String(250), ForeignKey("monitors.name"), primary_key=True),
    Column("window", String(250), primary_key=True),
    Column("start", DateTime(timezone=True), nullable=True),
    Column("end", DateTime(timezone=True), nullable=True),
    Column("rows", Integer, nullable=False),
    Column("values", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A condition on one monitored value. ``metric`` may hold one ``*``, which
# matches a column name, so one rule watches every column.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("monitor", String(250), nullable=False),
    Column("metric", String(500), nullable=False),
    Column("operator", String(4), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("windows", Integer, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("actions", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One firing of a rule for one subject (a column, or "" for the table), from
# the window where it started. The unique key makes evaluating the same
# windows again record nothing new, so an alert and its actions happen once.
alerts = Table(
    "alerts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("rule_id", ID, ForeignKey("alert_rules.id"), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("first_window", String(250), nullable=False),
    Column("last_window", String(250), nullable=False),
    Column("state", String(16), nullable=False),
    Column("value", Float, nullable=True),
    Column("severity", String(16), nullable=False),
    Column("actions", JSON, nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("rule_id", "subject", "first_window", name="uq_alerts_episode"),
    Index("ix_alerts_state", "state", "fired_at"),
)

# The team server's accounts. Every store has these tables, but only the
# server's own store (the ``default`` workspace's database) fills them. The
# ``default`` workspace's row comes from the migration that creates the table.
workspaces = Table(
    "workspaces",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("description", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A token's secret is never stored: ``token_hash`` is the SHA-256 hex digest
# of the secret, and a request's token is found by the digest of what it sent.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user", String(100), ForeignKey("users.name"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_tokens_hash", "token_hash", unique=True),
    Index("ix_api_tokens_user", "user"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user", String(100), ForeignKey("users.name"), primary_key=True),
    Column("workspace", String(40), ForeignKey("workspaces.name"), primary_key=True),
    Column("role", String(16), nullable=False),
    Index("ix_memberships_workspace", "workspace"),
)

# One row per run, metric key and range of 1024 steps (see tether.store.rollups).
metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("bucket", BigInteger, primary_key=True, autoincrement=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("min_value", Float, nullable=True),
    Column("max_value", Float, nullable=True),
    Column("points", BigInteger, nullable=False),
)
