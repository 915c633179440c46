"""Health and readiness probes of a scoring server over HTTP.

A server that has ``GET /ready`` is ready when it returns 200. A server
without the route (404) is ready when ``GET /health`` returns 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one readiness probe.

    Attributes:
        route: The route that decided: ``/ready``, or ``/health`` when the
            server has no ``/ready``.
        detail: The status code, or the transport error.
        body: The decoded JSON body of the deciding route, if any.
    """

    ready: bool
    route: str
    detail: str
    body: dict[str, Any] | None = None


def probe_ready(client: httpx.Client, base_url: str) -> ProbeResult:
    """Probe ``/ready``, falling back to ``/health`` when ``/ready`` returns 404."""
    try:
        ready = client.get(f"{base_url}/ready", timeout=PROBE_TIMEOUT_SECONDS)
        if ready.status_code != 404:
            return _result("/ready", ready)
        health = client.get(f"{base_url}/health", timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return ProbeResult(False, "/ready", f"{type(exc).__name__}: {exc}")
    return _result("/health", health)


def probe_health(client: httpx.Client, base_url: str) -> ProbeResult:
    """Probe ``/health`` only."""
    try:
        health = client.get(f"{base_url}/health", timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return ProbeResult(False, "/health", f"{type(exc).__name__}: {exc}")
    return _result("/health", health)


def _result(route: str, response: httpx.Response) -> ProbeResult:
    body: dict[str, Any] | None = None
    try:
        decoded = response.json()
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        body = decoded
    ok = response.status_code == 200
    return ProbeResult(ok, route, f"status {response.status_code}", body)
