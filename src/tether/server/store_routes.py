"""One POST route per store operation, built from the store's own signatures.

``POST /api/v1/workspaces/{workspace}/ops/{operation}`` takes the method's
arguments as a JSON object and returns ``{"result": …}``. Request and reply
types come from the method's type hints, so the OpenAPI document describes
every operation exactly, and the HTTP client (``tether.store.http``) encodes
and decodes with the same hints.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from tether.server.context import WorkspaceContext, workspace_access
from tether.server.responses import StoreJSONResponse, json_bytes
from tether.store.operations import Operation, operations, wire_type

OPS_PREFIX = "/api/v1/workspaces/{workspace}/ops"
IDEMPOTENCY_HEADER = "idempotency-key"


def router() -> APIRouter:
    """Return a router with a route for every store operation."""
    found = APIRouter()
    for operation in operations().values():
        _add_route(found, operation)
    return found


def request_model(operation: Operation) -> type[BaseModel]:
    """Return the pydantic model of an operation's arguments."""
    fields: dict[str, Any] = {}
    for name, parameter in operation.signature.parameters.items():
        hint = wire_type(operation.hints[name])
        default = parameter.default
        if default is inspect.Parameter.empty:
            default = ...
        elif not _plain(default):  # a sentinel: omitted means "leave unchanged"
            hint, default = hint | None, None
        fields[f"arg_{name}"] = (hint, Field(default, alias=name))
    model: type[BaseModel] = create_model(
        f"{operation.name}_arguments",
        __config__=ConfigDict(populate_by_name=True, extra="forbid"),
        **fields,
    )
    return model


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | tuple)


def _add_route(found: APIRouter, operation: Operation) -> None:
    arguments = request_model(operation)
    reply = create_model(f"{operation.name}_reply", result=(operation.returns, ...))
    adapter: TypeAdapter[Any] = TypeAdapter(operation.returns)
    call = _handler(operation, arguments, adapter)
    found.add_api_route(
        f"{OPS_PREFIX}/{operation.name}",
        call,
        methods=["POST"],
        response_model=reply,
        response_class=StoreJSONResponse,
        operation_id=operation.name,
        tags=[operation.group],
        summary=_summary(operation),
    )


def _handler(
    operation: Operation, arguments: type[BaseModel], adapter: TypeAdapter[Any]
) -> Callable[..., Response]:
    access = workspace_access(operation.role)

    def handle(
        request: Request,
        body: BaseModel = Body(default_factory=dict),  # noqa: B008
        ctx: WorkspaceContext = Depends(access),  # noqa: B008
    ) -> Response:
        key = _replay_key(request, ctx)
        replays = request.app.state.server.replays
        if key is not None and (stored := replays.get(key)) is not None:
            return Response(
                stored[1], status_code=stored[0], media_type="application/json"
            )
        body = _arguments_of(arguments, body)
        # Only the arguments the caller sent, so the method's own defaults apply.
        kwargs = {
            name.removeprefix("arg_"): getattr(body, name)
            for name in body.model_fields_set
        }
        if "actor" in operation.parameters and request.app.state.server.settings.auth:
            kwargs["actor"] = ctx.principal.user
        value = getattr(ctx.store, operation.name)(**kwargs)
        content = json_bytes({"result": adapter.dump_python(value, mode="json")})
        if key is not None:
            replays.put(key, 200, content)
        return Response(content, media_type="application/json")

    handle.__doc__ = inspect.getdoc(operation_method(operation))
    # The hints are strings under postponed evaluation; FastAPI needs the model itself.
    handle.__annotations__ = {
        "request": Request,
        "body": arguments,
        "ctx": WorkspaceContext,
        "return": Response,
    }
    return handle


def _arguments_of(arguments: type[BaseModel], body: Any) -> BaseModel:
    """Return the request's arguments as an instance of ``arguments``.

    FastAPI passes the default ``{}`` of a request without a body to the
    route unvalidated, so it is validated here. A missing argument is then
    a 422, as it is when the body is ``{}``.
    """
    if isinstance(body, arguments):
        return body
    try:
        return arguments.model_validate(body)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None


def operation_method(operation: Operation) -> Callable[..., Any]:
    """Return the store method behind ``operation``."""
    from tether.store.sql import SqlStore

    method: Callable[..., Any] = getattr(SqlStore, operation.name)
    return method


def _replay_key(request: Request, ctx: WorkspaceContext) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not key:
        return None
    return f"{ctx.principal.user}/{ctx.name}/{request.url.path}/{key[:100]}"


def _summary(operation: Operation) -> str:
    doc = inspect.getdoc(operation_method(operation)) or operation.name
    return doc.splitlines()[0].rstrip(".")
