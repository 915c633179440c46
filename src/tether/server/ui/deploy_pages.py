"""Web UI pages of deployments and monitors.

A deployment page shows what the store recorded: the status the supervisor
last wrote, the routing of each revision and the application tests, with
the traffic and latency over time read from the prediction logs of the
versions it served. No process or endpoint of the deployment is contacted.

A monitor page shows its stored windows (``store.window_results``): drift
share, the drift of each feature, real and estimated performance, and the
alerts of its rules with what their actions did. The charts per feature,
performance and integrity come from
:func:`tether.monitoring.monitor_report.monitor_report_sections`, as in the
report that ``tether monitor report`` writes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tether.deploy.spec import Routing
from tether.errors import NotFoundError
from tether.monitoring.governance import alert_dict
from tether.monitoring.monitor_report import MAX_POINTS, monitor_report_sections
from tether.monitoring.svg import line_chart_svg
from tether.server.context import WorkspaceContext, workspace_access
from tether.server.ui.data_pages import (
    format_count,
    format_share,
    format_time,
    format_value,
)
from tether.server.ui.page_route import PageRoute
from tether.server.ui.templating import render
from tether.store import SqlStore
from tether.store.alert_ops import MonitorWindow
from tether.store.deployment_ops import DeploymentRecord
from tether.tracking.downsample import lttb_indices

logger = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

VIEWER = Depends(workspace_access("viewer"))
LOG_COLUMNS = ["logged_at", "request_id", "latency_ms", "model_uri"]
MAX_LOG_FILES = 500
"""Prediction-log files a deployment page reads per model version, the newest."""
BUCKET_SECONDS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)
MAX_BUCKETS = 60
"""Time buckets of the traffic and latency charts, at most."""
SHOWN_LABELS = 6
"""X-axis labels a long time chart keeps; the others are left blank."""
MAX_WINDOW_ROWS = 200
"""Windows the monitor page lists in its table, the newest."""
_DRIFT = "drift.columns."
_DRIFT_FIELDS = (".effect", ".statistic", ".p_value", ".drifted")


# -- deployments ----------------------------------------------------------------


@router.get("/ui/{workspace}/deployments", response_class=HTMLResponse)
def deployments_page(request: Request, ctx: WorkspaceContext = VIEWER) -> HTMLResponse:
    """List each deployment with its status, routing and latest application tests."""
    return _deployments(request, ctx)


@router.get("/ui/{workspace}/deployments/{name}", response_class=HTMLResponse)
def deployment_page(
    request: Request, name: str, ctx: WorkspaceContext = VIEWER
) -> HTMLResponse:
    """Show a deployment's revisions, tests, processes, and traffic over time."""
    try:
        record = ctx.store.get_deployment(name)
    except NotFoundError:
        return _deployments(request, ctx, missing=f"deployment {name!r} not found")
    revisions = ctx.store.list_revisions(record.id)
    routings = [Routing.from_dict(r.routing) for r in revisions]
    served = sorted(
        {t.uri: t for r in routings for t in r.targets().values()}.values(),
        key=lambda target: target.uri,
    )
    log = read_prediction_log(ctx.store, [(t.name, t.version) for t in served])
    return render(
        request,
        "deployment.html",
        ctx,
        title=f"Deployment {name}",
        section="deployments",
        deployment=_deployment_row(ctx.store, record),
        error=record.error or "",
        processes=record.processes,
        revisions=[
            {
                "revision": r.revision,
                "action": r.action,
                "status": r.status,
                "actor": r.actor,
                "requested": format_time(r.created_at),
                "finished": format_time(r.finished_at),
                "routing": routing.describe(),
                "error": r.error or "",
            }
            for r, routing in reversed(list(zip(revisions, routings, strict=True)))
        ],
        tests=[_test_row(t) for t in ctx.store.deployment_tests(record.id)],
        traffic=_traffic_charts(log),
        log_rows=format_count(len(log)),
        events=[
            {
                "time": format_time(event.time),
                "actor": event.actor,
                "action": event.action,
                "details": ", ".join(
                    f"{k}={v}" for k, v in sorted(event.details.items())
                ),
            }
            for event in reversed(ctx.store.audit_trail(record.uri))
            if event.entity == record.uri
        ],
    )


def _deployments(
    request: Request, ctx: WorkspaceContext, *, missing: str = ""
) -> HTMLResponse:
    return render(
        request,
        "deployments.html",
        ctx,
        title="Deployments",
        section="deployments",
        status_code=404 if missing else 200,
        missing=missing,
        deployments=[
            _deployment_row(ctx.store, d) for d in ctx.store.list_deployments()
        ],
    )


def _deployment_row(store: SqlStore, record: DeploymentRecord) -> dict[str, Any]:
    routing = None
    if record.revision is not None:
        routing = Routing.from_dict(
            store.get_revision(record.id, record.revision).routing
        )
    latest: dict[str, Any] = {}
    for test in store.deployment_tests(record.id):
        latest.setdefault(test.model_uri, test)
    host = f"[{record.host}]" if ":" in record.host else record.host
    return {
        "name": record.name,
        "status": record.status,
        "gateway": f"http://{host}:{record.port}",
        "revision": record.revision,
        "primary": routing.primary.uri if routing else "",
        "primary_share": 100 - routing.traffic if routing else None,
        "canary": routing.canary.uri if routing and routing.canary else "",
        "canary_share": routing.traffic if routing and routing.canary else None,
        "sticky": routing.sticky_header if routing else None,
        "shadow": routing.shadow.uri if routing and routing.shadow else "",
        "tests": [
            {"uri": uri, "passed": test.passed, "time": format_time(test.created_at)}
            for uri, test in latest.items()
        ],
        "supervisor_pid": record.supervisor_pid,
        "updated": format_time(record.updated_at),
    }


def _test_row(test: Any) -> dict[str, Any]:
    passed = sum(1 for result in test.results if result.get("passed"))
    return {
        "model_uri": test.model_uri,
        "revision": test.revision,
        "passed": test.passed,
        "time": format_time(test.created_at),
        "summary": f"{passed} of {len(test.results)} passed",
        "results": [
            {
                "name": str(r.get("name", "")),
                "passed": bool(r.get("passed")),
                "message": str(r.get("message") or r.get("detail") or ""),
            }
            for r in test.results
        ],
    }


def read_prediction_log(
    store: SqlStore, versions: Sequence[tuple[str, int]]
) -> pd.DataFrame:
    """Return the time, request, latency and model of every logged row of ``versions``.

    Only the newest :data:`MAX_LOG_FILES` files of each version are read, and
    a file that is missing or unreadable here is skipped: the logs are files
    on the machine that served the model.
    """
    frames = []
    for model, version in versions:
        paths = store.prediction_log_paths(model, version)[-MAX_LOG_FILES:]
        for path in paths:
            frame = _read_log_file(Path(path))
            if frame is not None:
                frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=LOG_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _read_log_file(path: Path) -> pd.DataFrame | None:
    # Paths come from the store, so only Parquet files are opened, and only
    # the four columns every prediction log has are read.
    if path.suffix != ".parquet" or not path.is_file():
        return None
    try:
        return pd.read_parquet(path, columns=LOG_COLUMNS)
    except (OSError, ValueError, TypeError, KeyError) as error:
        logger.warning("skipped prediction log %s: %s", path, error)
        return None


def _traffic_charts(log: pd.DataFrame) -> list[Markup]:
    """Draw requests per time bucket per version, and latency percentiles per bucket."""
    if log.empty:
        return []
    requests = log.drop_duplicates("request_id")
    times = pd.to_datetime(requests["logged_at"], utc=True)
    seconds = _bucket_seconds((times.max() - times.min()).total_seconds())
    buckets = times.dt.floor(f"{seconds}s")
    # Every bucket of the span, so a quiet bucket shows 0 requests, not a skipped one.
    every = pd.date_range(buckets.min(), buckets.max(), freq=f"{seconds}s")
    counts = (
        requests.groupby([buckets, requests["model_uri"]])
        .size()
        .unstack(fill_value=0)
        .reindex(every, fill_value=0)
    )
    latency = requests.groupby(buckets)["latency_ms"]
    middle, slow = (
        latency.quantile(0.5).reindex(every),
        latency.quantile(0.99).reindex(every),
    )
    axis_labels = _sparse_labels([f"{moment:%Y-%m-%d %H:%M}" for moment in every])
    traffic = line_chart_svg(
        axis_labels,
        {str(uri): [float(v) for v in counts[uri]] for uri in counts.columns},
        title=f"requests per {_duration(seconds)}",
    )
    timing = line_chart_svg(
        axis_labels,
        {
            "p50 ms": [_finite(v) for v in middle],
            "p99 ms": [_finite(v) for v in slow],
        },
        title="latency per request (ms)",
    )
    return [Markup(traffic), Markup(timing)]


def _bucket_seconds(span: float) -> int:
    for seconds in BUCKET_SECONDS:
        if span / seconds < MAX_BUCKETS:
            return seconds
    return BUCKET_SECONDS[-1]


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return "day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds // 60} minutes" if seconds > 60 else "minute"


def _sparse_labels(labels: list[str]) -> list[str]:
    """Keep about :data:`SHOWN_LABELS` evenly spaced labels, so they do not overlap."""
    step = max(1, math.ceil(len(labels) / SHOWN_LABELS))
    return [label if index % step == 0 else "" for index, label in enumerate(labels)]


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


# -- monitors -------------------------------------------------------------------


@router.get("/ui/{workspace}/monitors", response_class=HTMLResponse)
def monitors_page(request: Request, ctx: WorkspaceContext = VIEWER) -> HTMLResponse:
    """List the monitors with their newest window and their firing alerts."""
    return _monitors(request, ctx)


@router.get("/ui/{workspace}/monitors/{name}", response_class=HTMLResponse)
def monitor_page(
    request: Request, name: str, ctx: WorkspaceContext = VIEWER
) -> HTMLResponse:
    """Show a monitor's drift, performance and integrity over time, and its alerts."""
    try:
        monitor = ctx.store.get_monitor(name)
    except NotFoundError:
        return _monitors(request, ctx, missing=f"monitor {name!r} not found")
    windows = ctx.store.window_results(name)
    rules = ctx.store.list_alert_rules(name)
    alerts = [
        alert_dict(a) for rule in rules for a in ctx.store.list_alerts(rule=rule.name)
    ]
    values = {window.window: window.values for window in windows}
    sections = [
        (title, Markup(body))
        for title, body in monitor_report_sections(values, alerts)
        if title != "Alerts"  # the page's own alert table shows the actions in full
    ]
    latest = windows[-1] if windows else None
    return render(
        request,
        "monitor.html",
        ctx,
        title=f"Monitor {name}",
        section="monitors",
        monitor=monitor,
        spec=monitor.spec,
        windows=[_window_row(w) for w in reversed(windows[-MAX_WINDOW_ROWS:])],
        hidden_windows=max(0, len(windows) - MAX_WINDOW_ROWS),
        latest=_window_row(latest) if latest else None,
        features=feature_drift(latest.values) if latest else [],
        drift_chart=_drift_share_chart(windows, rules),
        sections=sections,
        rules=rules,
        alerts=alerts,
    )


def _monitors(
    request: Request, ctx: WorkspaceContext, *, missing: str = ""
) -> HTMLResponse:
    rows = []
    for monitor in ctx.store.list_monitors():
        windows = ctx.store.window_results(monitor.name)
        rules = ctx.store.list_alert_rules(monitor.name)
        firing = sum(
            len(ctx.store.list_alerts(rule=rule.name, state="firing")) for rule in rules
        )
        rows.append(
            {
                "name": monitor.name,
                "model": monitor.model,
                "reference": monitor.spec.get("reference", ""),
                "every": monitor.spec.get("every", ""),
                "windows": len(windows),
                "latest": _window_row(windows[-1]) if windows else None,
                "rules": len(rules),
                "firing": firing,
            }
        )
    return render(
        request,
        "monitors.html",
        ctx,
        title="Monitoring",
        section="monitors",
        status_code=404 if missing else 200,
        missing=missing,
        monitors=rows,
    )


def _window_row(window: MonitorWindow) -> dict[str, Any]:
    values = window.values
    return {
        "window": window.window,
        "start": format_time(window.start),
        "end": format_time(window.end),
        "rows": format_count(window.rows),
        "drift_share": format_share(values.get("drift.share")),
        "drifted_columns": format_count(values.get("drift.drifted_columns")),
        "roc_auc": format_value(values.get("performance.roc_auc")),
        "estimated_roc_auc": format_value(values.get("estimated.roc_auc")),
        "accuracy": format_value(values.get("performance.accuracy")),
        "estimated_accuracy": format_value(values.get("estimated.accuracy")),
        "integrity_errors": format_count(values.get("integrity.error")),
    }


def feature_drift(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Return each feature's drift in one window, largest effect first.

    The values are named ``drift.columns.COLUMN.effect`` (and ``.statistic``,
    ``.p_value``, ``.drifted``); see :mod:`tether.monitoring.window_values`.
    """
    columns: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if not key.startswith(_DRIFT):
            continue
        for suffix in _DRIFT_FIELDS:
            if key.endswith(suffix):
                column = key[len(_DRIFT) : -len(suffix)]
                columns.setdefault(column, {})[suffix[1:]] = value
    ordered = sorted(
        columns.items(), key=lambda item: -(_number(item[1].get("effect")) or 0.0)
    )
    return [
        {
            "column": column,
            "effect": format_value(fields.get("effect")),
            "statistic": format_value(fields.get("statistic")),
            "p_value": format_value(fields.get("p_value")),
            "drifted": fields.get("drifted") == 1,
        }
        for column, fields in ordered
    ]


def _drift_share_chart(windows: list[MonitorWindow], rules: list[Any]) -> Markup | None:
    """Draw the share of drifted features per window, with each drift-share rule's threshold."""
    if not windows:
        return None
    labels = [window.window for window in windows]
    shares = [_number(window.values.get("drift.share")) for window in windows]
    if len(labels) > MAX_POINTS:
        keep = lttb_indices(
            [float(i) for i in range(len(labels))],
            [0.0 if v is None else v for v in shares],
            MAX_POINTS,
        )
        labels, shares = [labels[i] for i in keep], [shares[i] for i in keep]
    guides = {r.name: r.threshold for r in rules if r.metric == "drift.share"}
    chart = line_chart_svg(
        _sparse_labels(labels),
        {"drift share": shares},
        title="share of drifted features per window",
        y_range=(0.0, 1.0),
        guides=guides,
    )
    return Markup(chart)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None
