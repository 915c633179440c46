"""Web UI pages of datasets: the list, one dataset's versions, and a diff.

A version page shows the schema, one chart per column drawn from the
profile stored at registration (the data itself is never read), and the
quality reports that runs linked to the version stored as artifacts
``quality/<suite>.json``. The diff page compares two versions with
:func:`tether.data.compare.diff`, which also reads only stored metadata.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tether.artifacts import ObjectStore
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.data.compare import DatasetDiff, diff
from tether.errors import DataError, NotFoundError
from tether.monitoring.svg import bar_chart_svg
from tether.server.context import WorkspaceContext, workspace_access
from tether.server.ui.page_route import PageRoute
from tether.server.ui.templating import render
from tether.store import SqlStore
from tether.store.records import DatasetVersionRecord

logger = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

MAX_PROFILE_CHARTS = 60
"""Columns of a version that get a profile chart; wider tables list the rest."""
MAX_DIFF_CHARTS = 12
"""Columns of a diff, highest score first, that get charts of both versions."""
MAX_QUALITY_RUNS = 50
"""Linked runs whose quality reports a version page reads, newest first."""
QUALITY_PREFIX = "quality/"

VIEWER = Depends(workspace_access("viewer"))


@router.get("/ui/{workspace}/datasets", response_class=HTMLResponse)
def datasets_page(request: Request, ctx: WorkspaceContext = VIEWER) -> HTMLResponse:
    """List every dataset with its latest version."""
    return _list_page(request, ctx)


@router.get("/ui/{workspace}/datasets/{name}", response_class=HTMLResponse)
def dataset_page(
    request: Request,
    name: str,
    version: str | None = None,
    ctx: WorkspaceContext = VIEWER,
) -> HTMLResponse:
    """Show a dataset's versions, and the schema, profile and quality of one."""
    versions = ctx.store.list_dataset_versions(name)
    if not versions:
        return _list_page(request, ctx, missing=f"dataset {name!r} not found")
    selected = _pick(versions, version) if version else versions[0]
    if selected is None:
        message = f"version {version!r} of dataset {name!r} not found"
        return _list_page(request, ctx, missing=message)
    return render(
        request,
        "dataset.html",
        ctx,
        title=f"Dataset {name}",
        section="datasets",
        name=name,
        versions=[_version_row(v) for v in versions],
        selected=_version_row(selected),
        schema=_schema_rows(selected),
        charts=_profile_charts(selected),
        hidden_charts=max(0, len(selected.schema) - MAX_PROFILE_CHARTS),
        quality=quality_reports(ctx.store, ctx.objects, selected),
        choices=[v.version for v in versions],
    )


@router.get("/ui/{workspace}/datasets/{name}/diff", response_class=HTMLResponse)
def dataset_diff_page(
    request: Request,
    name: str,
    ctx: WorkspaceContext = VIEWER,
) -> HTMLResponse:
    """Compare two versions of a dataset: schema, rows and column profiles."""
    versions = ctx.store.list_dataset_versions(name)
    if not versions:
        return _list_page(request, ctx, missing=f"dataset {name!r} not found")
    requested = _diff_versions(request, versions)
    found = [_pick(versions, text) for text in requested]
    if found[0] is None or found[1] is None:
        missing = requested[0] if found[0] is None else requested[1]
        message = (
            f"version {missing!r} of dataset {name!r} not found; pick two of "
            f"{', '.join(str(v.version) for v in versions)}"
        )
        return _list_page(request, ctx, missing=message)
    first, second = found[0], found[1]
    values: dict[str, Any] = {
        "name": name,
        "first": _version_row(first),
        "second": _version_row(second),
    }
    status = 200
    try:
        values.update(_diff_view(ctx.objects, first, second))
    except DataError as error:
        values["error"] = error.message
        status = 400
    return render(
        request,
        "dataset_diff.html",
        ctx,
        title=f"Dataset {name}: version {first.version} to {second.version}",
        section="datasets",
        status_code=status,
        choices=[v.version for v in versions],
        **values,
    )


def _list_page(
    request: Request, ctx: WorkspaceContext, *, missing: str = ""
) -> HTMLResponse:
    latest = ctx.store.list_dataset_versions()
    return render(
        request,
        "datasets.html",
        ctx,
        title="Datasets",
        section="datasets",
        status_code=404 if missing else 200,
        missing=missing,
        datasets=[_version_row(record) for record in latest],
    )


def _diff_versions(
    request: Request, versions: list[DatasetVersionRecord]
) -> tuple[str, str]:
    """Return the requested ``from`` and ``to`` versions; by default the two newest."""
    newest = versions[0].version
    previous = versions[1].version if len(versions) > 1 else newest
    first = request.query_params.get("from") or str(previous)
    second = request.query_params.get("to") or str(newest)
    return first, second


def _pick(
    versions: list[DatasetVersionRecord], text: str
) -> DatasetVersionRecord | None:
    if not text.strip().isdigit():
        return None
    number = int(text)
    return next((v for v in versions if v.version == number), None)


def _version_row(record: DatasetVersionRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "version": record.version,
        "uri": record.uri,
        "digest": record.digest,
        "rows": format_count(record.rows),
        "size": format_size(record.size),
        "created": format_time(record.created_at),
        "tags": record.tags,
        "source": _source_text(record.source),
        "run_id": record.run_id,
        "kind": "files" if record.media_type == MANIFEST_MEDIA_TYPE else "table",
    }


def _source_text(source: dict[str, Any]) -> str:
    """Return where a version came from in one line: its type and path, URL or origin."""
    kind = str(source.get("type") or source.get("annotation") or "")
    for key in ("path", "url", "query", "from", "tasks", "package"):
        if source.get(key):
            return f"{kind} {source[key]}".strip()
    return kind


def _schema_rows(record: DatasetVersionRecord) -> list[dict[str, Any]]:
    columns = record.profile.get("columns", {})
    rows = []
    for entry in record.schema:
        summary = columns.get(str(entry["name"]), {})
        rows.append(
            {
                "name": entry["name"],
                "type": entry.get("type", ""),
                "dtype": entry.get("dtype", ""),
                "nulls": format_count(summary.get("nulls")),
                "null_share": format_share(summary.get("null_share")),
                "distinct": format_count(summary.get("distinct")),
                "min": format_value(summary.get("min")),
                "max": format_value(summary.get("max")),
                "mean": format_value(summary.get("mean")),
            }
        )
    return rows


def _profile_charts(record: DatasetVersionRecord) -> list[dict[str, Any]]:
    columns = record.profile.get("columns", {})
    charts = []
    for entry in record.schema[:MAX_PROFILE_CHARTS]:
        name = str(entry["name"])
        chart = column_chart(name, columns.get(name, {}))
        if chart is not None:
            charts.append({"name": name, "svg": chart})
    return charts


def column_chart(name: str, summary: dict[str, Any]) -> Markup | None:
    """Draw a column's histogram, or its most frequent values, from its profile."""
    histogram = summary.get("histogram")
    if histogram and histogram.get("counts"):
        return Markup(
            histogram_svg(histogram["edges"], histogram["counts"], title=name)
        )
    top = summary.get("top") or []
    if top:
        labels = [str(item["value"]) for item in top]
        counts = [int(item["count"]) for item in top]
        return Markup(bars_svg(labels, counts, title=name))
    return None


# -- quality reports -----------------------------------------------------------


def quality_reports(
    store: SqlStore, objects: ObjectStore, record: DatasetVersionRecord
) -> list[dict[str, Any]]:
    """Return the quality reports stored by runs that read or made ``record``.

    ``validate`` stores a report as the run artifact ``quality/<suite>.json``
    (see :func:`tether.data.quality.record_in_active_run`). A report whose
    ``source`` names another dataset is left out.
    """
    reports = []
    for run_id in _linked_runs(store, record)[:MAX_QUALITY_RUNS]:
        for artifact in store.list_artifacts(run_id):
            if artifact.is_dir or not _is_quality_path(artifact.path):
                continue
            report = _read_report(objects, artifact.digest)
            if report is None or not _about(report, record):
                continue
            reports.append(_report_view(report, run_id, artifact.path))
    reports.sort(key=lambda report: str(report["created_at"]), reverse=True)
    return reports


def _linked_runs(store: SqlStore, record: DatasetVersionRecord) -> list[str]:
    readers = [
        e.dst_id
        for e in store.edges_from("dataset_version", record.id)
        if e.dst_kind == "run"
    ]
    makers = [
        e.src_id
        for e in store.edges_into("dataset_version", record.id)
        if e.src_kind == "run"
    ]
    found = [*makers, *readers] + ([record.run_id] if record.run_id else [])
    # Run ids sort by time, so the newest runs come first.
    return sorted(set(found), reverse=True)


def _is_quality_path(path: str) -> bool:
    return path.startswith(QUALITY_PREFIX) and path.endswith(".json")


def _read_report(objects: ObjectStore, digest: str) -> dict[str, Any] | None:
    try:
        data = json.loads(objects.read_bytes(digest))
    except (NotFoundError, ValueError) as error:
        logger.warning("skipped quality report %s: %s", digest, error)
        return None
    return data if isinstance(data, dict) and "results" in data else None


def _about(report: dict[str, Any], record: DatasetVersionRecord) -> bool:
    source = str(report.get("source") or "")
    if not source.startswith("datasets:/"):
        return True
    named = source.removeprefix("datasets:/").split("@")[0]
    return named == record.name


def _report_view(report: dict[str, Any], run_id: str, path: str) -> dict[str, Any]:
    counts = report.get("counts") or {}
    failures = [r for r in report.get("results", []) if not r.get("passed")]
    return {
        "suite": report.get("suite", ""),
        "source": report.get("source", ""),
        "created_at": report.get("created_at", ""),
        "rows": format_count(report.get("rows")),
        "ok": bool(report.get("ok")),
        "counts": counts,
        "run_id": run_id,
        "path": path,
        "failures": [
            {
                "check": failure.get("check", ""),
                "severity": failure.get("severity", ""),
                "failing": format_count(failure.get("failing_rows")),
                "message": failure.get("message", ""),
            }
            for failure in failures
        ],
    }


# -- diff ----------------------------------------------------------------------


def _diff_view(
    objects: ObjectStore, first: DatasetVersionRecord, second: DatasetVersionRecord
) -> dict[str, Any]:
    """Return the differences of two versions, ready for the template.

    Raises:
        DataError: one version is a table and the other a set of files.
    """
    files = MANIFEST_MEDIA_TYPE
    if first.media_type == files and second.media_type == files:
        return {"kind": "files", "files": _file_changes(objects, first, second)}
    result = diff(first, second)
    return {
        "kind": "table",
        "diff": result,
        "shifts": [_shift_row(shift) for shift in result.columns],
        "charts": _diff_charts(result, first, second),
    }


def _file_changes(
    objects: ObjectStore, first: DatasetVersionRecord, second: DatasetVersionRecord
) -> dict[str, list[str]]:
    # The workspace's own objects, where diff() would read the process-wide ones.
    before = {e["path"]: e["digest"] for e in objects.manifest(first.object_digest)}
    after = {e["path"]: e["digest"] for e in objects.manifest(second.object_digest)}
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": sorted(
            path for path in before.keys() & after.keys() if before[path] != after[path]
        ),
    }


def _shift_row(shift: Any) -> dict[str, Any]:
    return {
        "name": shift.name,
        "types": shift.type_a
        if shift.type_a == shift.type_b
        else f"{shift.type_a} → {shift.type_b}",
        "measure": shift.measure,
        "distance": format_value(shift.distance),
        "null_share_change": format_value(shift.null_share_change),
        "mean_change": format_value(shift.mean_change),
        "score": format_value(shift.score),
    }


def _diff_charts(
    result: DatasetDiff, first: DatasetVersionRecord, second: DatasetVersionRecord
) -> list[dict[str, Any]]:
    profiles = (first.profile.get("columns", {}), second.profile.get("columns", {}))
    labels = (f"version {first.version}", f"version {second.version}")
    rows = (first.rows or 0, second.rows or 0)
    charts = []
    for shift in result.columns[:MAX_DIFF_CHARTS]:
        summaries = (profiles[0].get(shift.name, {}), profiles[1].get(shift.name, {}))
        if summaries[0].get("histogram") or summaries[1].get("histogram"):
            pair = [
                column_chart(f"{shift.name}, {label}", summary)
                for label, summary in zip(labels, summaries, strict=True)
            ]
            charts.append({"name": shift.name, "svgs": [c for c in pair if c]})
        elif summaries[0].get("top") or summaries[1].get("top"):
            svg = _top_values_pair(shift.name, summaries, rows, labels)
            charts.append({"name": shift.name, "svgs": [svg]})
    return charts


def _top_values_pair(
    name: str,
    summaries: tuple[dict[str, Any], dict[str, Any]],
    counts: tuple[int, int],
    labels: tuple[str, str],
) -> Markup:
    """Draw the shares of the most frequent values of both versions, paired."""
    shares = [
        top_shares(summary, rows)
        for summary, rows in zip(summaries, counts, strict=True)
    ]
    values = list(dict.fromkeys([*shares[0], *shares[1]]))[:MAX_BARS]
    chart = bar_chart_svg(
        values,
        [shares[0].get(value, 0.0) for value in values],
        [shares[1].get(value, 0.0) for value in values],
        title=name,
        labels=labels,
    )
    return Markup(chart)


# -- formatting and single-series charts, shared by the registry pages ----------

MAX_BARS = 20
"""Bars in a chart of most frequent values, as many as a profile lists."""
CHART_WIDTH = 360
CHART_HEIGHT = 170
PLOT_LEFT = 44
PLOT_RIGHT = 12
PLOT_TOP = 22
PLOT_BOTTOM = 26
BAR_ROW = 16
BAR_LABEL = 120
MAX_LABEL = 20
BAR_COLOR = "#4c78a8"


def format_count(value: Any) -> str:
    """Format a count with thousands separators, or "" when there is none."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float) and value == value:
        return f"{int(value):,}"
    return str(value)


def format_size(size: int | None) -> str:
    """Format a byte count in binary units: ``512 B``, ``3.2 MiB``."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    amount = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024:
            return f"{amount:.1f} {unit}"
    return f"{amount / 1024:.1f} TiB"


def format_time(moment: Any) -> str:
    """Format a datetime as ``YYYY-MM-DD HH:MM:SS`` in UTC, or "" for None."""
    if moment is None:
        return ""
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def format_value(value: Any) -> str:
    """Format a float with four significant digits and anything else as text."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_share(value: Any) -> str:
    """Format a fraction as a percentage with one decimal, or "" for None."""
    if not isinstance(value, int | float) or value != value:
        return ""
    return f"{value:.1%}"


def top_shares(summary: dict[str, Any], rows: int) -> dict[str, float]:
    """Return each most frequent value of a column profile with its share of ``rows``."""
    total = max(rows, 1)
    return {
        str(item["value"]): int(item["count"]) / total
        for item in summary.get("top") or []
    }


def histogram_svg(edges: list[Any], counts: list[int], *, title: str) -> str:
    """Draw one histogram as an inline ``<svg>``; every text in it is escaped.

    Bins are drawn with equal widths, as a profile's bins are (numbers and
    times split ``[min, max]`` evenly).
    """
    top = max(max(counts), 1)
    width = (CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT) / len(counts)
    span = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    parts = [_svg_open(CHART_WIDTH, CHART_HEIGHT, title)]
    for index, count in enumerate(counts):
        height = span * count / top
        x = PLOT_LEFT + index * width
        tip = f"{_edge(edges[index])} to {_edge(edges[index + 1])}: {count:,}"
        parts.append(
            f'<rect x="{x:.1f}" y="{PLOT_TOP + span - height:.1f}" '
            f'width="{max(width - 1, 0.5):.1f}" height="{height:.1f}" '
            f'fill="{BAR_COLOR}"><title>{_escape(tip)}</title></rect>'
        )
    bottom = CHART_HEIGHT - PLOT_BOTTOM
    parts.append(
        f'<path d="M{PLOT_LEFT} {PLOT_TOP}V{bottom}H{CHART_WIDTH - PLOT_RIGHT}" '
        'fill="none" stroke="#444"/>'
    )
    parts.append(_svg_text(PLOT_LEFT - 4, PLOT_TOP + 8, f"{top:,}", "end"))
    parts.append(_svg_text(PLOT_LEFT - 4, bottom, "0", "end"))
    parts.append(_svg_text(PLOT_LEFT, bottom + 14, _edge(edges[0]), "start"))
    parts.append(
        _svg_text(CHART_WIDTH - PLOT_RIGHT, bottom + 14, _edge(edges[-1]), "end")
    )
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(labels: list[str], counts: list[int], *, title: str) -> str:
    """Draw one horizontal bar per label as an inline ``<svg>``, longest first."""
    rows = list(zip(labels, counts, strict=True))[:MAX_BARS]
    top = max([count for _, count in rows] + [1])
    height = PLOT_TOP + BAR_ROW * len(rows) + 8
    span = CHART_WIDTH - BAR_LABEL - PLOT_RIGHT - 50
    parts = [_svg_open(CHART_WIDTH, height, title)]
    for index, (label, count) in enumerate(rows):
        y = PLOT_TOP + index * BAR_ROW
        parts.append(_svg_text(BAR_LABEL - 4, y + 11, _shorten(label), "end"))
        parts.append(
            f'<rect x="{BAR_LABEL}" y="{y + 2}" width="{span * count / top:.1f}" '
            f'height="11" fill="{BAR_COLOR}"><title>{_escape(label)}: {count:,}'
            "</title></rect>"
        )
        end = BAR_LABEL + span * count / top + 4
        parts.append(_svg_text(end, y + 11, f"{count:,}", "start"))
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_escape(title)}" font-family="sans-serif" '
        f'font-size="10">' + _svg_text(PLOT_LEFT, 12, title, "start", bold=True)
    )


def _svg_text(x: float, y: float, text: str, anchor: str, *, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{weight}>'
        f"{_escape(text)}</text>"
    )


def _edge(edge: Any) -> str:
    """Format a bin edge: a number with four significant digits, a time to the second."""
    if isinstance(edge, int | float):
        return f"{edge:.4g}"
    return str(edge).replace("T", " ")[:19]


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)
