"""Web UI pages of the model registry: models, one model, its card, and promotion.

Promoting moves an alias in two steps: a confirmation page shows the
change (the version the alias points at now, the new one, and the new
version's test results), and its form posts the move, which goes through
:func:`tether.models.registry.set_alias`, so the test gate of ``champion``
and the audit trail apply as they do from the SDK and the CLI.

It also contains what the labelling page shares with it: :func:`caller`, who
sends a request, and :func:`sdk_scope`, which binds SDK calls to the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tether.config import current_user
from tether.errors import ConfigError, NotFoundError, PromotionError
from tether.models.card import build_card
from tether.models.registry import GATED_ALIASES, set_alias
from tether.server.context import WorkspaceContext, workspace_access
from tether.server.sdk_scope import workspace_scope
from tether.server.ui.data_pages import format_time, format_value
from tether.server.ui.forms import check_same_origin, form_value, read_form
from tether.server.ui.page_route import PageRoute
from tether.server.ui.templating import render
from tether.store.records import AuditRecord, ModelTestRecord, ModelVersionRecord

logger = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

VIEWER = Depends(workspace_access("viewer"))
EDITOR = Depends(workspace_access("editor"))
EDITOR_ROLES = ("editor", "admin")
SANDBOX_HEADERS = {
    "Content-Security-Policy": "sandbox",
    "X-Content-Type-Options": "nosniff",
}


# -- shared by the pages that change something ----------------------------------


@contextmanager
def sdk_scope(request: Request, ctx: WorkspaceContext) -> Iterator[None]:
    """Let a UI route call SDK functions on the request's workspace, as its caller."""
    with workspace_scope(ctx, caller(request, ctx)):
        yield


def caller(request: Request, ctx: WorkspaceContext) -> str:
    """Return who sends the request: the token's user, or the local user with auth off."""
    if request.app.state.server.settings.auth:
        return ctx.principal.user
    return current_user()


@router.get("/ui/{workspace}/models", response_class=HTMLResponse)
def models_page(request: Request, ctx: WorkspaceContext = VIEWER) -> HTMLResponse:
    """List every registered model with its newest version and its aliases."""
    return _list_page(request, ctx)


@router.get("/ui/{workspace}/models/{name}", response_class=HTMLResponse)
def model_page(
    request: Request,
    name: str,
    card: str | None = None,
    promoted: str | None = None,
    ctx: WorkspaceContext = VIEWER,
) -> HTMLResponse:
    """Show a model's versions, tests, alias history, audit trail and card."""
    try:
        versions = ctx.store.list_model_versions(name)
    except NotFoundError:
        return _list_page(request, ctx, missing=f"model {name!r} not found")
    shown_card = _card_version(versions, card)
    return render(
        request,
        "model.html",
        ctx,
        title=f"Model {name}",
        section="models",
        name=name,
        versions=[
            _version_view(v, ctx.store.test_results(name, v.version)) for v in versions
        ],
        aliases=_alias_history(ctx.store.audit_trail(f"models:/{name}@")),
        events=[_event_view(e) for e in _model_events(ctx, name)],
        can_promote=ctx.role in EDITOR_ROLES,
        known_aliases=sorted(
            {a for v in versions for a in v.aliases} | set(GATED_ALIASES)
        ),
        card_version=shown_card,
        promoted=promoted or "",
    )


@router.get("/ui/{workspace}/models/{name}/versions/{version}/card")
def model_card(
    request: Request, name: str, version: str, ctx: WorkspaceContext = VIEWER
) -> Response:
    """Return the model card of one version as its own sandboxed HTML page."""
    try:
        if not version.isdigit():
            raise NotFoundError(
                f"model {name!r} has no version {version!r}; versions are numbers",
                kind="model_version",
                name=f"{name}/{version}",
            )
        ctx.store.get_model_version(name, int(version))
        with sdk_scope(request, ctx):
            page = build_card(f"models:/{name}/{version}").to_html()
    except NotFoundError as error:
        return HTMLResponse(_plain_page(error.message), 404, headers=SANDBOX_HEADERS)
    return HTMLResponse(page, headers=SANDBOX_HEADERS)


@router.get("/ui/{workspace}/models/{name}/promote", response_class=HTMLResponse)
def promote_confirmation(
    request: Request,
    name: str,
    alias: str = "",
    version: str = "",
    ctx: WorkspaceContext = EDITOR,
) -> HTMLResponse:
    """Show what moving ``alias`` to ``version`` changes, with the form that does it."""
    return _confirmation(request, ctx, name, alias, version)


@router.post("/ui/{workspace}/models/{name}/promote")
def promote(
    request: Request,
    name: str,
    form: dict[str, list[str]] = Depends(read_form),  # noqa: B008
    ctx: WorkspaceContext = EDITOR,
) -> Response:
    """Move an alias through the registry, then go back to the model page."""
    check_same_origin(request)
    alias = form_value(form, "alias").strip()
    text = form_value(form, "version").strip()
    force = form_value(form, "force") == "yes"
    reason = form_value(form, "reason").strip()
    try:
        version = _version_number(text)
        with sdk_scope(request, ctx):
            set_alias(name, alias, version, force=force, reason=reason)
    except (ConfigError, NotFoundError, PromotionError) as error:
        logger.info("rejected moving %s@%s: %s", name, alias, error)
        return _confirmation(request, ctx, name, alias, text, error=error)
    logger.info(
        "%s moved %s@%s to version %s", caller(request, ctx), name, alias, version
    )
    target = f"/ui/{quote(ctx.name)}/models/{quote(name)}?promoted={quote(alias)}"
    return RedirectResponse(target, status_code=303)


# -- views ----------------------------------------------------------------------


def _list_page(
    request: Request, ctx: WorkspaceContext, *, missing: str = ""
) -> HTMLResponse:
    models: dict[str, list[ModelVersionRecord]] = {}
    for record in ctx.store.list_model_versions():
        models.setdefault(record.name, []).append(record)
    rows = [
        {
            "name": name,
            "versions": len(versions),
            "latest": versions[0].version,
            "status": versions[0].status,
            "flavor": versions[0].flavor,
            "created": format_time(versions[0].created_at),
            "aliases": sorted(
                (alias, v.version) for v in versions for alias in v.aliases
            ),
        }
        for name, versions in models.items()
    ]
    return render(
        request,
        "models.html",
        ctx,
        title="Models",
        section="models",
        status_code=404 if missing else 200,
        missing=missing,
        models=rows,
    )


def _version_view(
    record: ModelVersionRecord, tests: list[ModelTestRecord]
) -> dict[str, Any]:
    return {
        "version": record.version,
        "uri": record.uri,
        "aliases": record.aliases,
        "status": record.status,
        "flavor": record.flavor,
        "trusted": record.trusted,
        "created": format_time(record.created_at),
        "run_id": record.run_id,
        "description": record.description,
        "tags": record.tags,
        "metrics": {
            key: format_value(value) for key, value in sorted(record.metrics.items())
        },
        "tests": [view_of_test(test) for test in tests],
    }


def view_of_test(test: ModelTestRecord) -> dict[str, Any]:
    """Return one stored test run of a version, ready for a template."""
    passed = sum(1 for result in test.results if result.get("passed"))
    return {
        "suite": test.suite,
        "time": format_time(test.created_at),
        "passed": test.passed,
        "required_passed": test.required_passed,
        "summary": f"{passed} of {len(test.results)} passed",
        "results": [
            {
                "name": str(result.get("name", "")),
                "passed": bool(result.get("passed")),
                "required": bool(result.get("required", True)),
                "message": str(result.get("message") or ""),
            }
            for result in test.results
        ],
    }


def _alias_history(events: list[AuditRecord]) -> list[dict[str, Any]]:
    """Return every move and removal of an alias, newest first, from the audit trail."""
    moves = [e for e in events if e.action in ("set_alias", "remove_alias")]
    return [
        {
            "time": format_time(event.time),
            "actor": event.actor,
            "alias": event.entity.partition("@")[2],
            "from": event.details.get("from_version"),
            "to": event.details.get("to_version"),
            "forced": bool(event.details.get("forced")),
            "reason": str(event.details.get("reason") or ""),
        }
        for event in reversed(moves)
    ]


def _model_events(ctx: WorkspaceContext, name: str) -> list[AuditRecord]:
    """Return the audit events of model ``name``'s versions and aliases, newest first."""
    prefix = f"models:/{name}"
    events = [
        event
        for event in ctx.store.audit_trail(prefix)
        if event.entity == prefix or event.entity[len(prefix) : len(prefix) + 1] in "/@"
    ]
    return list(reversed(events))


def _event_view(event: AuditRecord) -> dict[str, Any]:
    details = ", ".join(
        f"{key}={value}" for key, value in sorted(event.details.items())
    )
    return {
        "time": format_time(event.time),
        "actor": event.actor,
        "action": event.action,
        "entity": event.entity,
        "details": details,
    }


def _card_version(
    versions: list[ModelVersionRecord], requested: str | None
) -> int | None:
    """Return the version whose card the page shows: the requested one, else the newest."""
    numbers = [v.version for v in versions]
    if requested and requested.isdigit() and int(requested) in numbers:
        return int(requested)
    return numbers[0] if numbers else None


def _confirmation(
    request: Request,
    ctx: WorkspaceContext,
    name: str,
    alias: str,
    text: str,
    *,
    error: Exception | None = None,
) -> HTMLResponse:
    try:
        versions = ctx.store.list_model_versions(name)
    except NotFoundError:
        return _list_page(request, ctx, missing=f"model {name!r} not found")
    change, problem = _planned_change(ctx, name, versions, alias, text)
    message = getattr(error, "message", "") or problem
    status = 200
    if error is not None:
        status = _error_status(error)
    elif problem:
        status = 400
    return render(
        request,
        "model_promote.html",
        ctx,
        title=f"Move an alias of model {name}",
        section="models",
        status_code=status,
        name=name,
        alias=alias,
        version_text=text,
        change=change,
        error=message,
        numbers=[v.version for v in versions],
    )


def _planned_change(
    ctx: WorkspaceContext,
    name: str,
    versions: list[ModelVersionRecord],
    alias: str,
    text: str,
) -> tuple[dict[str, Any] | None, str]:
    """Return what moving ``alias`` to version ``text`` changes, or why it cannot."""
    if not alias:
        return None, "choose the alias to move, for example champion"
    if not text.isdigit():
        return None, f"invalid version {text!r}; choose a version number"
    record = next((v for v in versions if v.version == int(text)), None)
    if record is None:
        return None, f"model {name!r} has no version {text}"
    current = next((v.version for v in versions if alias in v.aliases), None)
    tests = [view_of_test(t) for t in ctx.store.test_results(name, record.version)]
    gated = alias.lower() in GATED_ALIASES
    return {
        "uri": record.uri,
        "version": record.version,
        "status": record.status,
        "current": current,
        "unchanged": current == record.version,
        "tests": tests,
        "gated": gated,
        # The registry decides; this only shows the caller what to expect.
        "blocked": gated and not (tests and tests[0]["required_passed"]),
    }, ""


def _error_status(error: Exception) -> int:
    if isinstance(error, PromotionError):
        return 409
    if isinstance(error, NotFoundError):
        return 404
    return 400


def _version_number(text: str) -> int:
    if not text.isdigit():
        raise ConfigError(
            f"invalid version {text!r}; choose a version number",
            setting="version",
            value=text,
        )
    return int(text)


def _plain_page(message: str) -> str:
    from html import escape

    return (
        "<!doctype html><meta charset='utf-8'><title>Model card</title>"
        f"<p>{escape(message)}</p>"
    )
