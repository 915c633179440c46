"""JSON replies that keep NaN and infinity, and errors as one JSON shape."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from tether import errors

JSON_TYPE = "application/json"


def json_bytes(value: Any) -> bytes:
    """Encode ``value`` as JSON; NaN and infinities are written as JSON5 tokens."""
    return json.dumps(value, allow_nan=True, separators=(",", ":")).encode()


class StoreJSONResponse(JSONResponse):
    """A JSON response whose floats may be NaN or infinite, as metrics can be."""

    def render(self, content: Any) -> bytes:
        """Encode the content, keeping NaN and infinities."""
        return json_bytes(content)


_STATUS = (
    (errors.NotFoundError, 404),
    (errors.VersionConflictError, 409),
    (PermissionError, 403),
    (ValueError, 400),
    (errors.TetherError, 409),
)


def error_status(exc: errors.TetherError) -> int:
    """Return the HTTP status of a Tether error."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def error_body(exc: errors.TetherError) -> dict[str, Any]:
    """Return the JSON body of a Tether error: its type, message and fields."""
    fields = {
        key: value
        for key, value in vars(exc).items()
        if key != "message" and _is_json(value)
    }
    return {
        "error": {"type": type(exc).__name__, "message": exc.message, "fields": fields}
    }


def error_response(kind: str, message: str, status: int) -> StoreJSONResponse:
    """Return an error reply in the API's one shape, for errors that are not Tether's."""
    body = {"error": {"type": kind, "message": message, "fields": {}}}
    return StoreJSONResponse(body, status_code=status)


async def tether_error_handler(_request: Request, exc: Exception) -> Response:
    """Return a Tether error as a response with its status and JSON body."""
    assert isinstance(exc, errors.TetherError)
    return StoreJSONResponse(error_body(exc), status_code=error_status(exc))


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
