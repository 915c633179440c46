"""The ``deployments`` section: where each version is served, tested and promoted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.deploy.spec import check_header_name, check_name
from tether.project.reader import Reader
from tether.project.spec import STAGES, AppTests, DeploymentEntry, PromotionRule
from tether.yaml_lines import KeyPath

DEPLOYMENT_KEYS = (
    "model",
    "stage",
    "host",
    "port",
    "canary",
    "sticky_header",
    "tests",
    "ready_timeout",
    "promote",
)
TEST_KEYS = ("load_requests", "load_concurrency", "p99_ms")
PROMOTE_KEYS = ("model_tests", "metric", "monitor", "mode", "min_rows")
DEPLOYMENT_EXAMPLE = "'penguins-staging: {model: penguins, port: 8100}'"


def read_deployments(
    reader: Reader, data: Mapping[str, Any]
) -> dict[str, DeploymentEntry]:
    """Return the deployments the file declares."""
    found: dict[str, DeploymentEntry] = {}
    for name, raw in reader.entries(data, "deployments", DEPLOYMENT_EXAMPLE).items():
        entry = _deployment(reader, name, raw)
        if entry is not None:
            found[name] = entry
    return found


def _deployment(reader: Reader, name: str, raw: Any) -> DeploymentEntry | None:
    path: KeyPath = ("deployments", name)
    reader.build(path, lambda: check_name(name))
    entry = reader.mapping(
        raw, path, DEPLOYMENT_KEYS, required=("model",), example=DEPLOYMENT_EXAMPLE
    )
    if entry is None:
        return None
    model = reader.text(
        entry, path, "model", hint="name a declared model or give a models:/ URI"
    )
    sticky = reader.text(entry, path, "sticky_header", hint="give a header name")
    if sticky is not None:
        reader.build(
            path, lambda: check_header_name(sticky), {"sticky_header": "sticky_header"}
        )
    if model is None:
        return None
    return DeploymentEntry(
        name=name,
        model=model,
        stage=reader.text(entry, path, "stage", default="staging", choices=STAGES),
        host=reader.text(entry, path, "host", default="127.0.0.1"),
        port=reader.integer(entry, path, "port", default=8000, low=1, high=65535),
        canary=reader.integer(
            entry, path, "canary", default=10, low=1, high=100, unit="percent"
        ),
        sticky_header=sticky,
        tests=_tests(reader, entry.get("tests"), (*path, "tests")),
        ready_timeout=reader.number(
            entry, path, "ready_timeout", default=120.0, low=0, unit="seconds"
        ),
        promote=_promotion(reader, entry.get("promote"), (*path, "promote")),
    )


def _tests(reader: Reader, raw: Any, path: KeyPath) -> AppTests:
    if raw is None:
        return AppTests()
    entry = reader.mapping(raw, path, TEST_KEYS, example="{load_requests: 100}")
    if entry is None:
        return AppTests()
    return AppTests(
        load_requests=reader.integer(entry, path, "load_requests", default=100, low=1),
        load_concurrency=reader.integer(
            entry, path, "load_concurrency", default=4, low=1
        ),
        p99_ms=reader.number(
            entry, path, "p99_ms", default=1000.0, low=0, unit="milliseconds"
        ),
    )


def _promotion(reader: Reader, raw: Any, path: KeyPath) -> PromotionRule:
    if raw is None:
        return PromotionRule()
    entry = reader.mapping(
        raw, path, PROMOTE_KEYS, example="{metric: performance.accuracy, monitor: M}"
    )
    if entry is None:
        return PromotionRule()
    metric = reader.text(entry, path, "metric", hint="name a monitored value")
    monitor = reader.text(entry, path, "monitor", hint="name a declared monitor")
    if (metric is None) != (monitor is None):
        reader.report(
            path,
            "'metric' and 'monitor' go together: the monitor's settings compute "
            "the metric for the canary and the primary; give both or neither",
        )
    return PromotionRule(
        model_tests=reader.boolean(entry, path, "model_tests", default=True),
        metric=metric,
        monitor=monitor,
        mode=reader.text(entry, path, "mode", default="max", choices=("max", "min")),
        min_rows=reader.integer(entry, path, "min_rows", default=100, low=1),
    )
