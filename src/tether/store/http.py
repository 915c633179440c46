"""The store as a client of a Tether server.

``TETHER_STORE=http://HOST:PORT`` makes every SDK and CLI call go to a team
server. ``HttpStore`` has the SQL store's methods, built from the same
catalogue of operations (``tether.store.operations``): each call sends its
arguments as JSON to the operation's route and decodes the reply with the
method's own return type. One HTTP client keeps connections alive. Calls
that fail to connect, time out or meet 502, 503 or 504 are retried with
exponential backoff. A change carries an idempotency key, so a retried
change that had already reached the server is applied once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx
from pydantic import TypeAdapter

from tether import errors
from tether.store.operations import Operation, operations, wire_type

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/workspaces"
RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_ERRORS = (httpx.TransportError,)
DEFAULT_RETRIES = 5
FIRST_PAUSE = 0.2
DEFAULT_TIMEOUT = 60.0


class HttpStore:
    """The store's operations, sent to a Tether server."""

    def __init__(
        self,
        url: str,
        *,
        workspace: str = "default",
        token: str | None = None,
        retries: int = DEFAULT_RETRIES,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url.rstrip("/")
        self.workspace = workspace
        self.retries = retries
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, trust_env=False
        )

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r}, workspace={self.workspace!r})"

    def close(self) -> None:
        """Close the kept-alive connections."""
        self.client.close()

    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        """Run ``operation`` on the server and return its decoded result."""
        body = json.dumps(
            {
                name: _adapter(operation.name, name).dump_python(value, mode="json")
                for name, value in arguments.items()
            },
            allow_nan=True,
        ).encode()
        headers = {"content-type": "application/json"}
        if not operation.reads:
            headers["idempotency-key"] = uuid.uuid4().hex
        path = f"{API_PREFIX}/{self.workspace}/ops/{operation.name}"
        response = self.send(path, body, headers)
        if response.status_code != 200:
            raise response_error(response, self)
        result = json.loads(response.content)["result"]
        return _adapter(operation.name, "return").validate_python(result)

    def send(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST ``body`` to ``path``, retrying transient failures with backoff."""
        pause = FIRST_PAUSE
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.client.post(path, content=body, headers=headers)
            except RETRY_ERRORS as exc:
                if last:
                    raise errors.StoreError(
                        f"cannot reach the Tether server at {self.url}: {exc}; check "
                        "that `tether server` runs there and TETHER_STORE is right"
                    ) from exc
                logger.info("retrying %s after %s", path, type(exc).__name__)
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return response
                logger.info("retrying %s after status %d", path, response.status_code)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
        raise AssertionError("unreachable")


@cache
def _adapter(operation: str, name: str) -> TypeAdapter[Any]:
    return TypeAdapter(wire_type(operations()[operation].hints[name]))


def _method(operation: Operation) -> Callable[..., Any]:
    signature = operation.signature

    def method(self: HttpStore, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        return self.call(operation, dict(bound.arguments))

    method.__name__ = operation.name
    method.__qualname__ = f"HttpStore.{operation.name}"
    method.__signature__ = signature  # type: ignore[attr-defined]
    return method


def _install() -> None:
    for operation in operations().values():
        setattr(HttpStore, operation.name, _method(operation))


_install()


def response_error(response: httpx.Response, store: HttpStore) -> errors.TetherError:
    """Turn a failed reply into the Tether error the server raised."""
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return errors.error_from_json(error)
    detail = payload.get("detail") if isinstance(payload, dict) else None
    message = detail if isinstance(detail, str) else json.dumps(detail)[:2000]
    status = response.status_code
    if status == 401:
        return errors.ConfigError(
            f"the Tether server at {store.url} rejected the token: {message}; set "
            "TETHER_TOKEN to a token from `tether tokens create`",
            setting="TETHER_TOKEN",
            value=None,
        )
    if status == 403:
        return errors.AccessDeniedError(message)
    if status == 404:
        return errors.NotFoundError(
            f"{message} on the Tether server at {store.url}; check TETHER_WORKSPACE",
            kind="workspace",
            name=store.workspace,
        )
    return errors.StoreError(f"the Tether server returned {status}: {message}")
