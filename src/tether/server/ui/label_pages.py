"""Web UI pages of annotation projects: the project list and labelling one task at a time.

A project is a task set, dataset ``<name>.tasks``, and its labels are the
annotation set ``<name>.labels`` (see :mod:`tether.data.annotation`). The
pages read both from the workspace's store and objects. A posted label
goes through :func:`tether.data.annotation.add_annotations` with the
caller as annotator, and so adds a version of the annotation set.

The page shows the next task the caller has not labelled, in task order.
``?task=ID`` opens one task and ``?after=ID`` the next unlabelled task
after one. Annotation sets only grow, so "undo" reopens the task the caller
labelled last, where a new label replaces the old one in
:func:`~tether.data.annotation.latest_labels`.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tether.artifacts import ObjectStore
from tether.artifacts.materializers import PARQUET
from tether.data.annotation import TaskSet, add_annotations, latest_labels
from tether.data.annotation.labels import ANNOTATION, normalize
from tether.data.annotation.tasks import (
    LABELS_SUFFIX,
    PREDICTION,
    PREDICTION_MODEL,
    PREDICTION_SCORE,
    TASKS_SUFFIX,
)
from tether.errors import ConfigError, DataError, NotFoundError
from tether.server.context import WorkspaceContext, workspace_access
from tether.server.ui.data_pages import format_count
from tether.server.ui.forms import check_same_origin, form_value, read_form
from tether.server.ui.model_pages import (
    EDITOR_ROLES,
    SANDBOX_HEADERS,
    caller,
    sdk_scope,
)
from tether.server.ui.page_route import PageRoute
from tether.server.ui.templating import render
from tether.store import SqlStore
from tether.store.records import DatasetVersionRecord

logger = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

VIEWER = Depends(workspace_access("viewer"))
EDITOR = Depends(workspace_access("editor"))
MAX_SHORTCUT_LABELS = 9
"""Labels that get a number key; further choices are buttons without one."""
LONG_TEXT = 80
"""A text value longer than this many characters is shown as a block of text."""
MAX_LEAD_SECONDS = 24 * 3600.0
"""A longer time on one task is not recorded as its lead time: the page sat open."""
CACHED_FRAMES = 8
DIGEST_LENGTH = 64
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@router.get("/ui/{workspace}/labelling", response_class=HTMLResponse)
def projects_page(request: Request, ctx: WorkspaceContext = VIEWER) -> HTMLResponse:
    """List the annotation projects with their tasks and how many are labelled."""
    return _list_page(request, ctx)


@router.get("/ui/{workspace}/labelling/{project}", response_class=HTMLResponse)
def task_page(
    request: Request,
    project: str,
    task: str | None = None,
    after: str | None = None,
    ctx: WorkspaceContext = VIEWER,
) -> HTMLResponse:
    """Show one task with a button per label; posting a button records the label."""
    state = _load_project(ctx, project)
    if state is None:
        return _list_page(request, ctx, missing=_missing_text(project))
    if task is not None and task not in state.position:
        message = f"task {task!r} is not in {state.tasks.uri}"
        return _task_response(request, ctx, state, None, error=message, status=404)
    return _task_response(
        request, ctx, state, task or _next_task(state, ctx, request, after)
    )


@router.post("/ui/{workspace}/labelling/{project}")
def record_label(
    request: Request,
    project: str,
    form: dict[str, list[str]] = Depends(read_form),  # noqa: B008
    ctx: WorkspaceContext = EDITOR,
) -> Response:
    """Record the caller's label of one task, then open the next unlabelled task."""
    check_same_origin(request)
    state = _load_project(ctx, project)
    if state is None:
        return _list_page(request, ctx, missing=_missing_text(project))
    task_id = form_value(form, "task_id")
    label = (form_value(form, "label") or form_value(form, "label_text")).strip()
    row: dict[str, Any] = {"task_id": task_id, "label": label}
    row.update(_optional_fields(form))
    annotator = caller(request, ctx)
    try:
        if not label:
            raise ConfigError("choose a label", setting="label", value=label)
        with sdk_scope(request, ctx):
            add_annotations(
                state.tasks.record, [row], annotator=annotator, origin="web"
            )
    except (ConfigError, DataError) as error:
        logger.info("rejected the label of %s by %s: %s", task_id, annotator, error)
        current = task_id if task_id in state.position else None
        return _task_response(
            request, ctx, state, current, error=error.message, status=400
        )
    logger.info("%s labelled %s in %s as %r", annotator, task_id, project, label)
    target = f"/ui/{quote(ctx.name)}/labelling/{quote(project)}?after={quote(task_id)}"
    return RedirectResponse(target, status_code=303)


@router.get("/ui/{workspace}/labelling/{project}/images/{digest}")
def task_image(project: str, digest: str, ctx: WorkspaceContext = VIEWER) -> Response:
    """Return an image that a task of the project shows, and no other blob."""
    state = _load_project(ctx, project)
    if state is None or digest not in _digests_in(state.tasks):
        raise NotFoundError(
            f"image {digest!r} is not part of project {project!r}",
            kind="image",
            name=digest,
        )
    media_type = image_type(ctx.objects, digest)
    if media_type is None:
        raise NotFoundError(
            f"object {digest!r} is not an image", kind="image", name=digest
        )
    headers = {**SANDBOX_HEADERS, "Cache-Control": "private, max-age=86400, immutable"}
    return Response(
        ctx.objects.read_bytes(digest), media_type=media_type, headers=headers
    )


# -- project state --------------------------------------------------------------


@dataclass(frozen=True)
class ProjectState:
    """A task set and its annotation set, as read for one request."""

    name: str
    tasks: TaskSet
    labels: pd.DataFrame
    labels_record: DatasetVersionRecord | None
    position: dict[str, int]


def _load_project(ctx: WorkspaceContext, project: str) -> ProjectState | None:
    record = ctx.store.latest_dataset_version(project + TASKS_SUFFIX)
    if record is None or record.source.get("annotation") != "tasks":
        return None
    tasks = TaskSet(record, read_frame(ctx.objects, record))
    labels_record = ctx.store.latest_dataset_version(project + LABELS_SUFFIX)
    labels = (
        normalize(read_frame(ctx.objects, labels_record))
        if labels_record is not None
        else normalize(pd.DataFrame({"task_id": [], "label": [], "annotator": []}))
    )
    position = {task: index for index, task in enumerate(tasks.ids)}
    return ProjectState(project, tasks, labels, labels_record, position)


_frames: OrderedDict[tuple[str, str], pd.DataFrame] = OrderedDict()
_frames_lock = threading.Lock()


def read_frame(objects: ObjectStore, record: DatasetVersionRecord) -> pd.DataFrame:
    """Return a Parquet version's rows from the workspace's objects.

    Versions are immutable and named by digest, so the last few frames read
    are kept in memory and a page that reloads the same task set reads its
    file once. Callers share the frame and must not change it.

    Raises:
        DataError: the version is not stored as Parquet.
    """
    if record.media_type != PARQUET:
        raise DataError(
            f"{record.uri} is stored as {record.media_type}, and annotation "
            "projects are Parquet; create the tasks with tether.data.annotation",
            source=record.uri,
        )
    key = (str(objects.root), record.object_digest)
    with _frames_lock:
        if key in _frames:
            _frames.move_to_end(key)
            return _frames[key]
    frame = pd.read_parquet(io.BytesIO(objects.read_bytes(record.object_digest)))
    with _frames_lock:
        _frames[key] = frame
        while len(_frames) > CACHED_FRAMES:
            _frames.popitem(last=False)
    return frame


def _mine(state: ProjectState, annotator: str) -> pd.DataFrame:
    """Return the annotator's latest label of each task they labelled."""
    people = state.labels[state.labels["kind"] == ANNOTATION]
    theirs = people[people["annotator"] == annotator]
    return latest_labels(theirs) if len(theirs) else theirs.iloc[:0]


def _next_task(
    state: ProjectState, ctx: WorkspaceContext, request: Request, after: str | None
) -> str | None:
    """Return the first task after ``after`` (wrapping around) that the caller has not labelled."""
    done = set(_mine(state, caller(request, ctx))["task_id"])
    ids = state.tasks.ids
    start = state.position[after] + 1 if after in state.position else 0
    for task in ids[start:] + ids[:start]:
        if task not in done:
            return task
    return None


def _digests_in(tasks: TaskSet) -> set[str]:
    values = tasks.frame[tasks.data_columns].to_numpy().ravel()
    return {v for v in values if isinstance(v, str) and _looks_like_digest(v)}


def _is_image(objects: ObjectStore, value: Any) -> bool:
    """Return whether ``value`` is the digest of an image blob in ``objects``."""
    if not isinstance(value, str) or not _looks_like_digest(value):
        return False
    return image_type(objects, value) is not None


def _looks_like_digest(value: str) -> bool:
    return len(value) == DIGEST_LENGTH and all(c in "0123456789abcdef" for c in value)


def image_type(objects: ObjectStore, digest: str) -> str | None:
    """Return the media type of a stored image blob from its first bytes, or None."""
    path = objects.path(digest)
    if not path.is_file():
        return None
    with path.open("rb") as blob:
        head = blob.read(12)
    for signature, media_type in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _optional_fields(form: dict[str, list[str]]) -> dict[str, Any]:
    """Return the notes and the seconds spent on the task, when the form has them."""
    fields: dict[str, Any] = {}
    notes = form_value(form, "notes").strip()
    if notes:
        fields["notes"] = notes
    try:
        started = float(form_value(form, "started"))
    except ValueError:
        return fields
    spent = time.time() - started
    if math.isfinite(spent) and 0 <= spent <= MAX_LEAD_SECONDS:
        fields["lead_time"] = round(spent, 3)
    return fields


# -- views ----------------------------------------------------------------------


def _missing_text(project: str) -> str:
    return (
        f"annotation project {project!r} not found: there is no task set "
        f"{project}{TASKS_SUFFIX}"
    )


def _list_page(
    request: Request, ctx: WorkspaceContext, *, missing: str = ""
) -> HTMLResponse:
    return render(
        request,
        "labelling.html",
        ctx,
        title="Labelling",
        section="labelling",
        status_code=404 if missing else 200,
        missing=missing,
        projects=project_rows(ctx.store, ctx.objects),
    )


def project_rows(store: SqlStore, objects: ObjectStore) -> list[dict[str, Any]]:
    """Return one summary per task set: tasks, labels, annotators, labelled tasks."""
    rows = []
    for record in store.list_dataset_versions():
        if not record.name.endswith(TASKS_SUFFIX):
            continue
        if record.source.get("annotation") != "tasks":
            continue
        name = record.name.removesuffix(TASKS_SUFFIX)
        labels = store.latest_dataset_version(name + LABELS_SUFFIX)
        people = _people_rows(objects, labels)
        rows.append(
            {
                "name": name,
                "uri": record.uri,
                "tasks": format_count(record.rows),
                "source": record.source.get("from", ""),
                "choices": record.source.get("choices") or [],
                "labels_uri": labels.uri if labels else "",
                "annotations": format_count(len(people)),
                "labelled": format_count(people["task_id"].nunique()),
                "annotators": format_count(people["annotator"].nunique()),
            }
        )
    return rows


def _people_rows(
    objects: ObjectStore, labels: DatasetVersionRecord | None
) -> pd.DataFrame:
    if labels is None:
        return pd.DataFrame({"task_id": [], "annotator": []})
    frame = read_frame(objects, labels)
    return frame[frame["kind"] == ANNOTATION]


def _task_response(
    request: Request,
    ctx: WorkspaceContext,
    state: ProjectState,
    task: str | None,
    *,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    annotator = caller(request, ctx)
    mine = _mine(state, annotator)
    values: dict[str, Any] = {
        "project": state.name,
        "tasks_uri": state.tasks.uri,
        "labels_uri": state.labels_record.uri if state.labels_record else "",
        "total": len(state.tasks.ids),
        "done_by_me": len(mine),
        "done_by_anyone": state.labels.loc[
            state.labels["kind"] == ANNOTATION, "task_id"
        ].nunique(),
        "annotator": annotator,
        "can_label": ctx.role in EDITOR_ROLES,
        "error": error,
        "undo": _last_labelled(state, annotator),
        "started": f"{time.time():.3f}",
        "first_task": state.tasks.ids[0] if state.tasks.ids else "",
        "done": task is None and not error,
    }
    if task is not None:
        values.update(_task_view(ctx, state, task, mine))
    return render(
        request,
        "label_task.html",
        ctx,
        title=f"Labelling {state.name}",
        section="labelling",
        status_code=status,
        **values,
    )


def _task_view(
    ctx: WorkspaceContext, state: ProjectState, task: str, mine: pd.DataFrame
) -> dict[str, Any]:
    index = state.position[task]
    ids = state.tasks.ids
    row = state.tasks.frame.iloc[index]
    current = mine.loc[mine["task_id"] == task, "label"]
    choices = state.tasks.choices
    used = sorted(set(state.labels["label"].dropna())) if choices is None else []
    return {
        "task": task,
        "index": index + 1,
        "previous": ids[index - 1] if index > 0 else None,
        "next": ids[index + 1] if index + 1 < len(ids) else None,
        "fields": _fields(ctx, state, row),
        "text": _text_block(state.tasks, row),
        "prediction": _prediction(state.tasks, row),
        "current_label": str(current.iloc[0]) if len(current) else None,
        "choices": choices,
        "buttons": list(enumerate(choices if choices is not None else used, start=1)),
        "shortcuts": MAX_SHORTCUT_LABELS,
    }


def _fields(
    ctx: WorkspaceContext, state: ProjectState, row: pd.Series
) -> list[dict[str, Any]]:
    fields = []
    for column in state.tasks.data_columns:
        value = row[column]
        text = "" if _missing(value) else str(value)
        image = None
        if _is_image(ctx.objects, value):
            image = (
                f"/ui/{quote(ctx.name)}/labelling/{quote(state.name)}/images/{value}"
            )
        fields.append({"name": column, "value": text, "image": image})
    return fields


def _text_block(tasks: TaskSet, row: pd.Series) -> str | None:
    """Return the task's text when it has one text column with a long or multi-line value."""
    texts = [
        row[column]
        for column in tasks.data_columns
        if isinstance(row[column], str)
        and not _looks_like_digest(row[column])
        and (len(row[column]) > LONG_TEXT or "\n" in row[column])
    ]
    return texts[0] if len(texts) == 1 else None


def _prediction(tasks: TaskSet, row: pd.Series) -> dict[str, str] | None:
    if not tasks.has_predictions or _missing(row[PREDICTION]):
        return None
    score = row.get(PREDICTION_SCORE)
    return {
        "label": str(row[PREDICTION]),
        "score": "" if score is None or _missing(score) else f"{float(score):.3f}",
        "model": str(row.get(PREDICTION_MODEL) or ""),
    }


def _last_labelled(state: ProjectState, annotator: str) -> str | None:
    people = state.labels[
        (state.labels["kind"] == ANNOTATION) & (state.labels["annotator"] == annotator)
    ]
    if people.empty:
        return None
    # Sorted by time, and of equal times the row added last wins, as in latest_labels.
    ordered = people.reset_index(drop=True).sort_values("created_at", kind="stable")
    return str(ordered["task_id"].iloc[-1])


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
