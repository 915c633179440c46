"""Copies of scoring requests sent to the shadow version, and the log of its responses.

The gateway passes each scoring request that got its response to :class:`ShadowSender`,
which starts the copy as a background task and returns at once, so the
client never waits for the shadow. Each copy's outcome is one JSON line in
the shadow log: both statuses, the shadow's latency, and how many rows got
the same prediction from both versions. The shadow's server also writes its
predictions to its own prediction log under the same request id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64
LOG_EVERY = 100


class RepeatCounter:
    """Counts repeats of a message so that only the 1st and every 100th are logged."""

    def __init__(self, every: int = LOG_EVERY) -> None:
        self.every = every
        self.counts: dict[str, int] = {}

    def count(self, key: str) -> int | None:
        """Count one more repeat of ``key``; return the count when it should be logged."""
        total = self.counts.get(key, 0) + 1
        self.counts[key] = total
        return total if total == 1 or total % self.every == 0 else None


class ShadowSender:
    """Sends request copies to the shadow version without delaying the client.

    At most ``max_in_flight`` copies run at once; further copies are dropped
    and counted, so a slow shadow cannot pile up memory in the gateway.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        log_path: Path,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._client = client
        self._log_path = log_path
        self._max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._repeats = RepeatCounter()
        self.sent = 0
        self.dropped = 0
        self.failed = 0

    def submit(
        self,
        *,
        shadow_uri: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        served_uri: str,
        served_status: int,
        served_body: bytes,
    ) -> None:
        """Start sending one copy in the background; drop it when too many are in flight."""
        if len(self._tasks) >= self._max_in_flight:
            self.dropped += 1
            repeat = self._repeats.count("dropped")
            if repeat is not None:
                logger.warning(
                    "dropped a copy to shadow %s: %d copies in flight (%d dropped so far)",
                    shadow_uri,
                    self._max_in_flight,
                    repeat,
                )
            return
        served = {"uri": served_uri, "status": served_status, "body": served_body}
        task = asyncio.get_running_loop().create_task(
            self._copy(shadow_uri, url, headers, body, request_id, served)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def in_flight(self) -> int:
        """The copies still waiting for the shadow's response."""
        return len(self._tasks)

    def counters(self) -> dict[str, int]:
        """Return how many copies were sent, dropped, failed and are in flight."""
        return {
            "sent": self.sent,
            "dropped": self.dropped,
            "failed": self.failed,
            "in_flight": self.in_flight,
        }

    async def close(self, timeout_seconds: float) -> None:
        """Wait up to ``timeout_seconds`` for copies in flight, then cancel the rest."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout_seconds)
        for task in late:
            task.cancel()
        if late:
            logger.warning(
                "cancelled %d shadow copies still in flight at shutdown", len(late)
            )

    async def _copy(
        self,
        shadow_uri: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        served: dict[str, Any],
    ) -> None:
        started = time.perf_counter()
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(),
            "request_id": request_id,
            "served_by": served["uri"],
            "served_status": served["status"],
            "shadow": shadow_uri,
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.failed += 1
            record.update(shadow_status=None, error=f"{type(exc).__name__}: {exc}")
            repeat = self._repeats.count("failed")
            if repeat is not None:
                logger.warning(
                    "copy of request %s to shadow %s failed: %s (%d failures so far)",
                    request_id,
                    shadow_uri,
                    record["error"],
                    repeat,
                )
        else:
            self.sent += 1
            record["shadow_status"] = response.status_code
            record.update(_agreement(served["body"], response.content))
        record["shadow_latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self._append(record)

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._log_path.open("a", encoding="utf-8") as log:
            log.write(line)


def _agreement(served_body: bytes, shadow_body: bytes) -> dict[str, Any]:
    """Return the row count and the rows on which both versions predicted the same."""
    served = _predictions(served_body)
    shadow = _predictions(shadow_body)
    if served is None or shadow is None or len(served) != len(shadow):
        return {
            "rows": len(served) if served is not None else None,
            "agreeing_rows": None,
        }
    agreeing = sum(
        1 for left, right in zip(served, shadow, strict=True) if left == right
    )
    return {"rows": len(served), "agreeing_rows": agreeing}


def _predictions(body: bytes) -> list[Any] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    predictions = document.get("predictions")
    return predictions if isinstance(predictions, list) else None
