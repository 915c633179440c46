"""The load test: N scoring requests at concurrency C, checked against a p99 budget.

The latencies are measured on this machine while the test runs, so they
include the client's own threads and the scoring server's share of the CPU.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class LoadResult:
    """Latencies in milliseconds and the failed requests of one load test.

    Attributes:
        errors: Requests that did not return 200, including transport errors.
        first_error: The status or error of the first failed request.
    """

    requests: int
    concurrency: int
    errors: int
    first_error: str | None
    p50_ms: float
    p99_ms: float
    max_ms: float

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-compatible values."""
        return {
            "requests": self.requests,
            "concurrency": self.concurrency,
            "errors": self.errors,
            "first_error": self.first_error,
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
        }


def run_load(
    url: str,
    body: dict[str, Any],
    *,
    requests: int,
    concurrency: int,
    timeout_seconds: float,
) -> LoadResult:
    """POST ``body`` to ``url`` ``requests`` times, keeping ``concurrency`` in flight."""
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    with (
        httpx.Client(timeout=timeout_seconds, limits=limits) as client,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool,
    ):
        outcomes = list(
            pool.map(lambda _: _timed_post(client, url, body), range(requests))
        )
    latencies = sorted(latency for latency, _ in outcomes)
    failures = [error for _, error in outcomes if error is not None]
    return LoadResult(
        requests=requests,
        concurrency=concurrency,
        errors=len(failures),
        first_error=failures[0] if failures else None,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1],
    )


def percentile(sorted_values: list[float], rank: float) -> float:
    """Return the nearest-rank percentile of values sorted in ascending order."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = max(1, math.ceil(rank / 100 * len(sorted_values)))
    return sorted_values[position - 1]


def _timed_post(
    client: httpx.Client, url: str, body: dict[str, Any]
) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        response = client.post(url, json=body)
    except httpx.HTTPError as exc:
        return _elapsed_ms(started), f"{type(exc).__name__}: {exc}"
    elapsed = _elapsed_ms(started)
    if response.status_code != 200:
        return elapsed, f"status {response.status_code}: {response.text[:200]}"
    return elapsed, None


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
