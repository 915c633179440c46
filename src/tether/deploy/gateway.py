"""The gateway: an ASGI app that routes a deployment's requests to its model servers.

``POST`` requests are split between the primary and the canary (see
:mod:`tether.deploy.splitting`), and a copy of each goes to the shadow
version. Other requests go to the primary. ``GET /health`` and
``GET /ready`` are the gateway's own: 200 with the routing in effect once the
primary is available, 503 before. Responses carry two headers:
``X-Tether-Model-Version`` (the version's URI) and ``X-Tether-Route``
(``primary`` or ``canary``).

The routing in effect is one :class:`RouteTable`, replaced by a single
assignment in the event loop, so each request is routed by either the old table or
the new one. A request counts as in flight on its backend from the moment it
picks the table until the backend responds, which lets the supervisor wait
for those requests before it stops a server the new table no longer uses.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from tether.deploy.shadow import RepeatCounter, ShadowSender
from tether.deploy.spec import ModelTarget, Routing
from tether.deploy.splitting import TrafficSplitter
from tether.serving.responses import DEFAULT_MAX_BODY_BYTES, read_body

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
VERSION_HEADER = "X-Tether-Model-Version"
ROUTE_HEADER = "X-Tether-Route"
_CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
# Headers that describe one connection, not the request (RFC 9110, section 7.6.1),
# and the ones httpx sets itself.
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-encoding",
}
# The gateway's uvicorn sets its own Date and Server headers on every response.
_NOT_RELAYED = _NOT_FORWARDED | {"date", "server"}
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(eq=False)
class Backend:
    """One model server behind the gateway.

    Attributes:
        available: False while the supervisor restarts the server, so the
            gateway sends its requests to the other version that serves clients.
        in_flight: Requests sent to the server that have no response yet.
    """

    target: ModelTarget
    url: str
    available: bool = True
    in_flight: int = 0


@dataclass(frozen=True)
class RouteTable:
    """The routing in effect and the backends of its roles."""

    revision: int
    routing: Routing
    backends: dict[str, Backend]
    splitter: TrafficSplitter = field(compare=False)


class Gateway:
    """Routes requests by the current :class:`RouteTable`; see the module docstring."""

    def __init__(
        self,
        deployment: str,
        shadow_log: Path,
        *,
        proxy_timeout_seconds: float = 60.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.deployment = deployment
        self.max_body_bytes = max_body_bytes
        self.table: RouteTable | None = None
        self._backends: dict[str, Backend] = {}
        self._shadow_log = shadow_log
        self._proxy_timeout = proxy_timeout_seconds
        self._client: httpx.AsyncClient | None = None
        self._shadow: ShadowSender | None = None
        self._repeats = RepeatCounter()
        self.app = Starlette(
            routes=[
                Route("/health", self._health, methods=["GET", "HEAD"]),
                Route("/ready", self._health, methods=["GET", "HEAD"]),
                Route("/{path:path}", self._proxy, methods=_METHODS),
            ],
            lifespan=self._lifespan,
        )

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            timeout=self._proxy_timeout, limits=limits
        ) as client:
            self._client = client
            self._shadow = ShadowSender(client, self._shadow_log)
            yield
            await self._shadow.close(self._proxy_timeout)

    def switch(
        self, revision: int, routing: Routing, urls: dict[str, str]
    ) -> RouteTable:
        """Make ``routing`` the routing in effect, with server URLs by version URI.

        A version that stays in the routing keeps its backend, so its
        in-flight count carries over.
        """
        backends = {}
        for role, target in routing.targets().items():
            backend = self._backends.get(target.uri)
            if backend is None or backend.url != urls[target.uri]:
                backend = Backend(target, urls[target.uri])
                self._backends[target.uri] = backend
            backends[role] = backend
        table = RouteTable(
            revision, routing, backends, TrafficSplitter(routing.traffic)
        )
        self.table = table
        logger.info("revision %d in effect: %s", revision, routing.describe())
        return table

    def set_available(self, uri: str, available: bool) -> None:
        """Mark the server of version ``uri`` available or not (while it restarts)."""
        backend = self._backends.get(uri)
        if backend is not None:
            backend.available = available

    def in_flight(self, uri: str) -> int:
        """Return the requests in flight to the server of version ``uri``."""
        backend = self._backends.get(uri)
        return backend.in_flight if backend is not None else 0

    async def drain(self, uris: list[str], timeout_seconds: float) -> bool:
        """Wait until no request is in flight to the servers of ``uris``, then forget them.

        Returns:
            False when requests were still in flight after ``timeout_seconds``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while any(self.in_flight(uri) for uri in uris):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        for uri in uris:
            self._backends.pop(uri, None)
        return True

    def shadow_counters(self) -> dict[str, int]:
        """Return the shadow sender's counters."""
        if self._shadow is None:
            return {"sent": 0, "dropped": 0, "failed": 0, "in_flight": 0}
        return self._shadow.counters()

    async def _health(self, request: Request) -> Response:
        table = self.table
        if table is None:
            content: dict[str, Any] = {
                "status": "starting",
                "deployment": self.deployment,
                "revision": None,
            }
            return _json(content, 503, None)
        primary = table.backends["primary"]
        content = {
            "status": "ok" if primary.available else "unavailable",
            "deployment": self.deployment,
            "revision": table.revision,
            "routing": table.routing.to_dict(),
            "backends": [
                {
                    "role": role,
                    "uri": backend.target.uri,
                    "available": backend.available,
                    "in_flight": backend.in_flight,
                }
                for role, backend in table.backends.items()
            ],
            "shadow": self.shadow_counters() if table.routing.shadow else None,
        }
        return _json(content, 200 if primary.available else 503, None)

    async def _proxy(self, request: Request) -> Response:
        request_id = _request_id(request)
        try:
            body = await read_body(request, self.max_body_bytes)
        except ClientDisconnect:
            return _error(400, "the client closed the connection mid-body", request_id)
        if body is None:
            message = (
                f"the request body is larger than the gateway's limit of "
                f"{self.max_body_bytes} bytes; send smaller batches"
            )
            return _error(413, message, request_id)

        # From reading the table to counting the request in flight there is
        # no await, so a switch cannot happen in between.
        table = self.table
        if table is None:
            message = f"deployment {self.deployment} is starting and has no routing yet; retry"
            return _error(503, message, request_id)
        candidates = self._choose(table, request)
        if not candidates:
            uri = table.routing.primary.uri
            message = f"the model server of {uri} is restarting; retry shortly"
            return _error(503, message, request_id)
        upstream: httpx.Response | Response | None = None
        role, backend = candidates[0]
        for role, backend in candidates:  # noqa: B007 - the one that answered is used below
            backend.in_flight += 1
            try:
                upstream = await self._forward(backend, request, body, request_id)
            finally:
                backend.in_flight -= 1
            # A refused connection delivered nothing, so the next version
            # in the split can take the request.
            if upstream is not None:
                break
        if upstream is None:
            message = (
                f"no model server of deployment {self.deployment} accepted the "
                "connection; the supervisor restarts servers that exit"
            )
            return _error(502, message, request_id)

        if isinstance(upstream, Response):
            response = upstream
        else:
            response = _relay(upstream, backend.target.uri, role, request_id)
        shadow = table.backends.get("shadow")
        if shadow is not None and request.method == "POST" and self._shadow is not None:
            self._shadow.submit(
                shadow_uri=shadow.target.uri,
                url=shadow.url + _path(request),
                headers=_forwarded_headers(request, request_id),
                body=body,
                request_id=request_id,
                served_uri=backend.target.uri,
                served_status=response.status_code,
                served_body=bytes(response.body),
            )
        return response

    def _choose(self, table: RouteTable, request: Request) -> list[tuple[str, Backend]]:
        """Return the available backends in the order this request tries them."""
        primary = table.backends["primary"]
        canary = table.backends.get("canary")
        order = [("primary", primary)]
        if canary is not None and request.method == "POST":
            header = table.routing.sticky_header
            sticky_value = request.headers.get(header) if header else None
            if table.splitter.to_canary(sticky_value):
                order.insert(0, ("canary", canary))
            else:
                order.append(("canary", canary))
        return [(role, backend) for role, backend in order if backend.available]

    async def _forward(
        self, backend: Backend, request: Request, body: bytes, request_id: str
    ) -> httpx.Response | Response | None:
        """Send the request to one backend; None when it refused the connection."""
        assert self._client is not None, "the gateway's lifespan has not started"
        try:
            return await self._client.request(
                request.method,
                backend.url + _path(request),
                content=body,
                headers=_forwarded_headers(request, request_id),
            )
        except httpx.TimeoutException as exc:
            self._log_failure(backend, request_id, exc)
            message = (
                f"the model server of {backend.target.uri} did not respond within "
                f"{self._proxy_timeout:g} s"
            )
            return _error(504, message, request_id)
        except httpx.ConnectError as exc:
            self._log_failure(backend, request_id, exc)
            return None
        except httpx.HTTPError as exc:
            self._log_failure(backend, request_id, exc)
            message = (
                f"the model server of {backend.target.uri} failed: {type(exc).__name__}; "
                "the supervisor restarts servers that exit"
            )
            return _error(502, message, request_id)

    def _log_failure(self, backend: Backend, request_id: str, exc: Exception) -> None:
        repeat = self._repeats.count(backend.target.uri)
        if repeat is not None:
            logger.warning(
                "request %s to model server %s (%s) failed: %s: %s (%d failures so far)",
                request_id,
                backend.target.uri,
                backend.url,
                type(exc).__name__,
                exc,
                repeat,
            )


def _path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _request_id(request: Request) -> str:
    client_id = request.headers.get(REQUEST_ID_HEADER)
    if client_id is not None and _CLIENT_REQUEST_ID.fullmatch(client_id):
        return client_id
    return uuid.uuid4().hex


def _forwarded_headers(request: Request, request_id: str) -> dict[str, str]:
    headers = {
        key: value
        for key, value in request.headers.items()
        if key.lower() not in _NOT_FORWARDED
        and key.lower() != REQUEST_ID_HEADER.lower()
    }
    headers[REQUEST_ID_HEADER] = request_id
    return headers


def _relay(upstream: httpx.Response, uri: str, role: str, request_id: str) -> Response:
    headers = {
        key.lower(): value
        for key, value in upstream.headers.items()
        if key.lower() not in _NOT_RELAYED
    }
    headers.setdefault(REQUEST_ID_HEADER.lower(), request_id)
    headers[VERSION_HEADER] = uri
    headers[ROUTE_HEADER] = role
    return Response(upstream.content, status_code=upstream.status_code, headers=headers)


def _error(status: int, message: str, request_id: str) -> Response:
    content = {"error": message, "column": None, "request_id": request_id}
    return _json(content, status, request_id)


def _json(content: dict[str, Any], status: int, request_id: str | None) -> Response:
    headers = {REQUEST_ID_HEADER: request_id} if request_id is not None else None
    return Response(
        orjson.dumps(content),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )
