"""The deployment the operate pipeline replays traffic through, and its releases.

The champion is deployed behind a gateway on 127.0.0.1 with
:mod:`tether.deploy`. When there is a challenger, it starts as a canary
with 10 % of the requests, then it is tested, promoted and rolled back
while the replay goes on, so that every prediction passes through the
gateway whichever version serves it.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pandas as pd

from tether.deploy import (
    create_deployment,
    promote,
    remove_deployment,
    rollback,
    run_deployment_tests,
    stop_deployment,
)
from tether.deploy.application_tests import ApplicationTestReport
from tether.deploy.gateway import REQUEST_ID_HEADER, VERSION_HEADER
from tether.deploy.lifecycle import ReleaseResult, StopResult, supervisor_running
from tether.deploy.processes import free_port
from tether.deploy.spec import Routing
from tether.errors import NotFoundError, ServingError
from tether.store import get_store

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CANARY_TRAFFIC = 10
"""The percentage of scoring requests the challenger gets while it is the canary."""

Progress = Callable[[int, int], None]
Announce = Callable[[str], None]


@dataclass
class Replay:
    """Batches of flights sent in order to a gateway, with the rows each version served.

    Each request carries the ``X-Request-ID`` ``{request_prefix}-{batch}``,
    which the gateway passes to the model server and the server stores with
    every prediction it logs. The monitor selects this replay's predictions
    by that prefix, so it skips the rows the application tests sent.

    Attributes:
        rows_by_version: Rows served per model version URI, read from the
            gateway's ``X-Tether-Model-Version`` response header.
    """

    client: httpx.Client
    url: str
    batches: list[pd.DataFrame]
    request_prefix: str
    progress: Progress | None = None
    sent_batches: int = 0
    rows: int = 0
    rows_by_version: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(len(batch) for batch in self.batches)

    @property
    def remaining_batches(self) -> int:
        return len(self.batches) - self.sent_batches

    def send(self, count: int) -> dict[str, int]:
        """Send the next ``count`` batches; return the rows each version served.

        Raises:
            ServingError: The gateway responded to a batch with a status other than 200.
        """
        served: dict[str, int] = {}
        for _ in range(min(count, self.remaining_batches)):
            batch = self.batches[self.sent_batches]
            version = self._post(batch)
            rows = len(batch)
            served[version] = served.get(version, 0) + rows
            self.rows_by_version[version] = self.rows_by_version.get(version, 0) + rows
            self.sent_batches += 1
            self.rows += rows
            if self.progress is not None:
                self.progress(self.rows, self.total_rows)
        return served

    def _post(self, batch: pd.DataFrame) -> str:
        request_id = f"{self.request_prefix}-{self.sent_batches:05d}"
        body = {
            "columns": list(batch.columns),
            "data": batch.astype(object).where(batch.notna(), None).to_numpy().tolist(),
        }
        response = self.client.post(
            f"{self.url}/predict", json=body, headers={REQUEST_ID_HEADER: request_id}
        )
        if response.status_code != 200:
            raise ServingError(
                f"the gateway rejected batch {self.sent_batches} (request {request_id}): "
                f"{response.status_code} {response.text[:300]}"
            )
        return response.headers.get(VERSION_HEADER, "unknown")


def split_batches(traffic: pd.DataFrame, batch_size: int) -> list[pd.DataFrame]:
    """Cut ``traffic`` into consecutive batches of at most ``batch_size`` rows."""
    return [
        traffic.iloc[begin : begin + batch_size]
        for begin in range(0, len(traffic), batch_size)
    ]


def new_request_prefix() -> str:
    """Return a request id prefix that no earlier replay used."""
    return f"replay-{uuid.uuid4().hex[:12]}"


def deploy_and_replay(
    name: str,
    model_uri: str,
    challenger_uri: str | None,
    batches: list[pd.DataFrame],
    *,
    progress: Progress | None = None,
    announce: Announce | None = None,
) -> dict[str, object]:
    """Deploy ``model_uri`` as ``name``, release ``challenger_uri``, and replay ``batches``.

    Without a challenger, every batch goes to the champion. With one, the
    first third of the batches goes to the champion with the challenger as
    a canary at :data:`CANARY_TRAFFIC` %, the second third to the promoted
    challenger and the rest to the champion after the rollback. A stopped
    deployment named ``name`` from an earlier run is removed first, and one
    still running is stopped. The deployment is stopped on return and on
    error, so no process of it is left running.

    Raises:
        ServingError: A release failed (a server never got ready or an
            application test failed), or the gateway rejected a batch.
    """
    say = announce or _log_line
    remove_previous(name, say)
    port = free_port(HOST)
    url = f"http://{HOST}:{port}"
    replay = Replay(
        client=httpx.Client(timeout=60, trust_env=False),
        url=url,
        batches=batches,
        request_prefix=new_request_prefix(),
        progress=progress,
    )
    actions: list[str] = []
    try:
        _release_and_replay(name, port, model_uri, challenger_uri, replay, say, actions)
    finally:
        replay.client.close()
        stopped = stop_announced(name, say)
    return {
        "deployment": name,
        "gateway": url,
        "request_prefix": replay.request_prefix,
        "rows": replay.rows,
        "batches": replay.sent_batches,
        "rows_by_version": dict(replay.rows_by_version),
        "revisions": actions,
        "supervisor": stopped.supervisor if stopped else "not started",
        "leftover_servers": stopped.leftovers if stopped else 0,
    }


def _release_and_replay(
    name: str,
    port: int,
    model_uri: str,
    challenger_uri: str | None,
    replay: Replay,
    say: Announce,
    actions: list[str],
) -> None:
    traffic = CANARY_TRAFFIC if challenger_uri else 0
    say(f"creating deployment {name} on {replay.url}; the application tests run first")
    created = create_deployment(
        name, model_uri, host=HOST, port=port, canary=challenger_uri, traffic=traffic
    )
    actions.append(require_applied(created, say))
    if challenger_uri is None:
        _send(replay, replay.remaining_batches, say)
        return

    part = math.ceil(len(replay.batches) / 3)
    _send(replay, part, say)

    say(f"running the application tests of deployment {name} again")
    _require_passed(name, run_deployment_tests(name), say)

    say(f"promoting the canary of deployment {name}; its tests run first")
    actions.append(require_applied(promote(name), say))
    _send(replay, part, say)

    say(f"rolling deployment {name} back to the previous primary")
    actions.append(require_applied(rollback(name), say))
    _send(replay, replay.remaining_batches, say)


def _send(replay: Replay, count: int, say: Announce) -> None:
    first = replay.sent_batches
    served = replay.send(count)
    rows = sum(served.values())
    by_version = ", ".join(f"{n:,} by {uri}" for uri, n in sorted(served.items()))
    say(
        f"sent batches {first} to {replay.sent_batches - 1} ({rows:,} rows) through "
        f"the gateway: {by_version or 'none'}"
    )


def require_applied(result: ReleaseResult, say: Announce) -> str:
    """Print the tests and the routing of a finished revision; raise unless it applied."""
    for test in result.tests:
        say(_describe_tests(test.model_uri, test.passed, test.results))
    revision = result.revision
    name = result.deployment.name
    if not result.applied:
        raise ServingError(
            f"{revision.action} of deployment {name} failed: {revision.error}; "
            f"read the log with `tether deploy logs {name}`"
        )
    routing = Routing.from_dict(revision.routing).describe()
    say(f"{revision.action} applied as revision {revision.revision}: {routing}")
    return revision.action


def _require_passed(
    name: str, reports: list[ApplicationTestReport], say: Announce
) -> None:
    for report in reports:
        say(_describe_tests(report.model_uri, report.passed, report.to_list()))
    failed = [
        f"{report.model_uri} ({', '.join(report.failed_names)})"
        for report in reports
        if not report.passed
    ]
    if failed:
        raise ServingError(
            f"application tests of deployment {name} failed on {'; '.join(failed)}; "
            f"see `tether deploy status {name}`"
        )


def _describe_tests(
    model_uri: str, passed: bool, results: list[dict[str, object]]
) -> str:
    skipped = sum(1 for result in results if result.get("skipped"))
    failed = [str(result["name"]) for result in results if not result["passed"]]
    verdict = "passed" if passed else f"FAILED ({', '.join(failed)})"
    return (
        f"application tests of {model_uri}: {verdict}; "
        f"{len(results) - skipped - len(failed)} passed, {len(failed)} failed, "
        f"{skipped} skipped"
    )


def remove_previous(name: str, say: Announce) -> None:
    """Remove the deployment an earlier run left under ``name``, stopping it if it runs."""
    try:
        record = get_store().get_deployment(name)
    except NotFoundError:
        return
    if supervisor_running(record) or record.processes:
        stop_deployment(name)
        say(f"stopped deployment {name}, which an earlier run left running")
    remove_deployment(name)


def stop_announced(name: str, say: Announce) -> StopResult | None:
    """Stop deployment ``name``; return None when it was never recorded."""
    try:
        result = stop_deployment(name)
    except NotFoundError:
        return None
    say(
        f"stopped deployment {name}: supervisor {result.supervisor}, "
        f"{result.leftovers} model server(s) left behind and stopped by pid"
    )
    return result


def _log_line(text: str) -> None:
    logger.info("%s", text)
