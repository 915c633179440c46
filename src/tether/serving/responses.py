"""Request ids, body reading and the JSON responses of the scoring server."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from fastapi import Request, Response

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def request_id(request: Request) -> str:
    """Return the client's X-Request-ID when it is valid, else a new uuid4 hex id."""
    client_id = request.headers.get(REQUEST_ID_HEADER)
    if client_id is not None and _CLIENT_REQUEST_ID.fullmatch(client_id):
        return client_id
    return uuid.uuid4().hex


DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024
"""The largest request body the server and the deployment gateway accept."""


async def read_body(request: Request, limit: int) -> bytes | None:
    """Read the body, or return None as soon as it exceeds ``limit`` bytes.

    Raises:
        starlette.requests.ClientDisconnect: The client closed the connection
            before it sent the whole body.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def error_response(
    status: int, message: str, column: str | None, request_id: str
) -> Response:
    """Return the error shape of every route: error, column and request_id."""
    content = {"error": message, "column": column, "request_id": request_id}
    return json_response(content, status, request_id)


def json_response(content: Any, status: int, request_id: str | None) -> Response:
    """Serialize ``content`` with orjson; NaN and infinity become null."""
    headers = {REQUEST_ID_HEADER: request_id} if request_id is not None else None
    body = orjson.dumps(content, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(
        content=body,
        status_code=status,
        headers=headers,
        media_type="application/json",
    )
