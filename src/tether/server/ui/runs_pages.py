"""The run pages: the run table, one run with its charts and artifacts, and compare."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from tether.errors import ConfigError, NotFoundError
from tether.server.context import WorkspaceContext, workspace_access
from tether.server.ui import run_compare, run_detail, runs_table
from tether.server.ui.artifact_files import SANDBOX_HEADERS, file_response, find_file
from tether.server.ui.metric_chart import Line, line_chart
from tether.server.ui.page_route import PageRoute
from tether.server.ui.run_queries import experiment_names, metric_series
from tether.server.ui.runs_table import RunsQuery
from tether.server.ui.templating import render
from tether.store.filters import FilterSyntaxError
from tether.store.records import RunRecord

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Viewer = Annotated[WorkspaceContext, Depends(workspace_access("viewer"))]
TextList = Annotated[list[str], Query()]
MAX_CHILD_RUNS = 100


@router.get("/ui/{workspace}/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    ctx: Viewer,
    experiment: str = "",
    filter_text: Annotated[str, Query(alias="filter")] = "",
    order: str = "",
    columns: TextList = [],  # noqa: B006 - FastAPI copies list defaults
    chosen: str = "",
    add: str = "",
    size: str = "",
    page_token: str = "",
    back: TextList = [],  # noqa: B006 - FastAPI copies list defaults
    page: str = "1",
) -> HTMLResponse:
    """Show one page of the runs that match a filter, in a chosen order."""
    chosen_columns = list(dict.fromkeys(columns))
    if add.strip() and runs_table.split_column(add.strip()):
        chosen_columns.append(add.strip())
    query = RunsQuery(
        experiment=experiment,
        filter=filter_text,
        order=order,
        columns=tuple(dict.fromkeys(chosen_columns)),
        chosen=bool(chosen) or bool(add.strip()),
        size=runs_table.check_size(_whole_number(size, runs_table.PAGE_SIZES[0])),
        page_token=page_token,
        trail=tuple(back),
        page=max(_whole_number(page, 1), 1),
    )
    runs, next_token, error = _search(ctx, query)
    base = f"/ui/{ctx.name}/runs"
    keys = runs_table.page_keys(runs)
    visible = runs_table.key_columns(query, keys)
    previous_label, previous_url = runs_table.previous_link(query, base)
    return render(
        request,
        "runs.html",
        ctx,
        title="Runs",
        section="runs",
        status_code=400 if error else 200,
        query=query,
        base=base,
        experiments=experiment_names(ctx.store),
        error=error,
        add_error=bool(add.strip()) and runs_table.split_column(add.strip()) is None,
        add=add,
        header=runs_table.header(query, visible),
        rows=runs_table.rows(runs, visible),
        visible=visible,
        choices=_column_choices(keys, visible),
        page_sizes=runs_table.PAGE_SIZES,
        next_url=runs_table.next_link(query, base, next_token),
        previous_label=previous_label,
        previous_url=previous_url,
    )


def _search(
    ctx: WorkspaceContext, query: RunsQuery
) -> tuple[list[RunRecord], str | None, FilterSyntaxError | ConfigError | None]:
    try:
        runs, token = ctx.store.search_runs(
            experiments=[query.experiment] if query.experiment else None,
            filter=query.filter,
            order_by=[query.order] if query.order.strip() else (),
            max_results=query.size,
            page_token=query.page_token or None,
        )
    except ConfigError as exc:  # FilterSyntaxError is a ConfigError too
        return [], None, exc
    return runs, token, None


def _column_choices(
    keys: dict[str, list[str]], visible: list[str]
) -> list[tuple[str, str, bool]]:
    """Return ``(column, label, checked)`` for each key column one can show."""
    columns = [f"{kind}.{key}" for kind, names in keys.items() for key in names]
    for column in visible:
        if column not in columns:
            columns.append(column)
    return [(column, column, column in visible) for column in columns]


def _whole_number(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


@router.get("/ui/{workspace}/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, ctx: Viewer, run_id: str) -> HTMLResponse:
    """Show one run: params, tags, metrics, artifacts, logs, code and environment."""
    run = ctx.store.get_run(run_id)
    records = ctx.store.list_artifacts(run_id)
    artifacts, logs = run_detail.artifact_views(records, ctx.objects)
    children = ctx.store.list_runs(parent_id=run_id, limit=MAX_CHILD_RUNS)
    return render(
        request,
        "run.html",
        ctx,
        title=f"Run {run.name}",
        section="runs",
        run=run,
        summary=run_detail.summary(run),
        metrics=[
            (k, runs_table.format_number(v)) for k, v in sorted(run.metrics.items())
        ],
        params=sorted(run.params.items()),
        tags=sorted(run.tags.items()),
        artifacts=artifacts,
        artifact_count=sum(1 for r in records if r.role not in ("log", "source")),
        logs=logs,
        source=run_detail.source_view(run, records, ctx.objects),
        children=children,
        max_children=MAX_CHILD_RUNS,
        run_base=f"/ui/{ctx.name}/runs/{run.id}",
    )


@router.get("/ui/{workspace}/runs/{run_id}/metrics/{key:path}.svg")
def metric_chart(ctx: Viewer, run_id: str, key: str) -> Response:
    """Draw the history of one metric of a run, downsampled to about 1,000 points."""
    ctx.store.get_run(run_id)
    series = metric_series(ctx.store, run_id, key)
    if not series.stored:
        raise NotFoundError(
            f"run {run_id} has no metric {key!r}; the run page lists its metrics",
            kind="metric",
            name=key,
        )
    title = key
    if len(series.steps) < series.stored:
        title += f" ({len(series.steps)} of {series.stored} points)"
    svg = line_chart([Line(key, series.steps, series.values)], title=title)
    return Response(svg, media_type="image/svg+xml", headers=SANDBOX_HEADERS)


@router.get("/ui/{workspace}/runs/{run_id}/artifacts/{path:path}")
def artifact_file(
    ctx: Viewer, run_id: str, path: str, download: bool = False
) -> Response:
    """Serve one artifact file of a run with its media type, in a sandbox."""
    ctx.store.get_run(run_id)
    found = find_file(ctx.store, ctx.objects, run_id, path)
    return file_response(ctx.objects, found, download=download)


@router.get("/ui/{workspace}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    ctx: Viewer,
    run: TextList = [],  # noqa: B006 - FastAPI copies list defaults
) -> HTMLResponse:
    """Show runs side by side, with differences marked, and overlaid metric charts."""
    run_ids = run_compare.check_run_ids(run)
    runs = [ctx.store.get_run(run_id) for run_id in run_ids]
    charts, left_out = run_compare.charts(ctx.store, runs)
    return render(
        request,
        "compare.html",
        ctx,
        title="Compare runs",
        section="runs",
        runs=runs,
        labels=[run_compare.run_label(r) for r in runs],
        params=run_compare.param_rows(runs),
        metrics=run_compare.metric_rows(runs),
        # The chart markup is built by metric_chart, which escapes every text.
        charts=[(chart.key, Markup(chart.svg)) for chart in charts],
        charts_left_out=left_out,
    )
