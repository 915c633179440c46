"""Form posts of the web UI: the same-origin check against CSRF, and body parsing.

A form that changes something is accepted only when the browser's headers
show that it comes from a page of this server. Browsers send ``Origin`` on every POST
(and ``Referer`` in older versions), and a page on another site cannot
forge either header. Together with the ``SameSite=Strict`` login cookie
this is the defence against cross-site request forgery that the OWASP
CSRF Prevention Cheat Sheet lists as "verifying origin with standard
headers".
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit

from fastapi import HTTPException, Request

logger = logging.getLogger(__name__)

MAX_FORM_BYTES = 1024 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


def check_same_origin(request: Request) -> None:
    """Raise 403 unless the request's ``Origin`` or ``Referer`` is this server.

    The header's host and port must equal the request's ``Host`` header. A
    request with neither header is rejected too, because every browser that
    submits a form sends at least one of them.
    """
    sender = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host", "").lower()
    sender_host = urlsplit(sender).netloc.lower() if sender else ""
    if host and sender_host == host:
        return
    client = request.client.host if request.client else "unknown"
    logger.warning(
        "rejected a form post to %s from %s: origin %r, host %r",
        request.url.path,
        client,
        sender,
        host,
    )
    raise HTTPException(
        status_code=403,
        detail="the form was not sent from a page of this server; "
        "reload the page and submit the form again",
    )


async def read_form(request: Request) -> dict[str, list[str]]:
    """Return the fields of a URL-encoded form post, each with its values in order.

    Raises:
        HTTPException: 415 for another content type, 413 for a body of more
            than :data:`MAX_FORM_BYTES`.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != FORM_TYPE:
        raise HTTPException(
            status_code=415,
            detail=f"expected a form of type {FORM_TYPE}, got {content_type or 'none'}",
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(
            status_code=413,
            detail=f"the form has {len(body)} bytes, above the limit of "
            f"{MAX_FORM_BYTES}",
        )
    fields: dict[str, list[str]] = {}
    text = body.decode("utf-8", errors="replace")
    for key, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(key, []).append(value)
    return fields


def form_value(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    """Return the last value of field ``name``, or ``default`` when it is missing."""
    values = fields.get(name)
    return values[-1] if values else default


def safe_next_path(target: str | None, default: str = "/ui/") -> str:
    """Return ``target`` if it is a path on this server, else ``default``.

    Only a path that starts with one ``/`` and names no scheme or host is
    followed, so a link such as ``/ui/login?next=https://evil.example``
    cannot send a user to another site after logging in.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(char) < 32 for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
