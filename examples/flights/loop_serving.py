"""The deployment of ``make loop``: serve requests, send feedback, release canaries.

The deployment runs for the whole loop: a supervisor, a gateway on
127.0.0.1 and one model server per version, all from :mod:`tether.deploy`.
Each request carries a batch of flights. Right after its response, the
flights' true delays go back through the gateway as ``POST /feedback``
rows. Both requests carry the same value in :data:`STICKY_HEADER`, so the
gateway sends the feedback to the server that scored the batch, which
stores it next to its prediction log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import pandas as pd

from flights import features
from flights.build import MODEL_NAME
from flights.deployment import (
    HOST,
    Announce,
    remove_previous,
    require_applied,
    stop_announced,
)
from tether.deploy import (
    ApplicationTestSettings,
    DeploymentSettings,
    create_deployment,
    promote,
    reroute,
)
from tether.deploy.gateway import REQUEST_ID_HEADER, VERSION_HEADER
from tether.deploy.lifecycle import ReleaseResult, StopResult
from tether.deploy.processes import free_port
from tether.errors import ServingError
from tether.monitoring.logged import load_predictions
from tether.serving.feedback import read_feedback
from tether.store import get_store

DEPLOYMENT = "flights-loop"
"""The deployment's name; each run replaces the one an earlier run left."""
STICKY_HEADER = "X-Flight-Batch"
CANARY_TRAFFIC = 50
"""The canary's share of requests, in percent: half, so both versions get
about as many labelled rows to compare."""
LOAD_TEST_REQUESTS = 20
LOG_WAIT_SECONDS = 120.0
"""How long the servers may take to write a part's predictions and feedback.
They write every 2 seconds, so this only runs out when a server is stuck."""


@dataclass(frozen=True)
class Served:
    """One request: its id, the version that scored it, the flights and their scores."""

    request_id: str
    model_uri: str
    flights: pd.DataFrame
    probabilities: list[float]


@dataclass
class LoopDeployment:
    """A running deployment of ``flight-delay`` that the loop sends its months to.

    Use it as a context manager: it is created on entry and stopped on exit,
    also when the loop fails.
    """

    model_uri: str
    say: Announce
    name: str = DEPLOYMENT
    url: str = ""
    stopped: StopResult | None = None
    client: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=60, trust_env=False)
    )

    def __enter__(self) -> LoopDeployment:
        remove_previous(self.name, self.say)
        port = free_port(HOST)
        self.url = f"http://{HOST}:{port}"
        settings = DeploymentSettings(
            tests=ApplicationTestSettings(load_requests=LOAD_TEST_REQUESTS)
        )
        self.say(f"creating deployment {self.name} on {self.url}")
        try:
            created = create_deployment(
                self.name, self.model_uri, host=HOST, port=port, settings=settings
            )
            require_applied(created, self.say)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.client.close()
        self.stopped = stop_announced(self.name, self.say)

    def send(self, batches: list[pd.DataFrame], prefix: str) -> list[Served]:
        """Score each batch through the gateway and send its true labels as feedback."""
        served = []
        for index, batch in enumerate(batches):
            request_id = f"{prefix}-{index:05d}"
            served.append(self._predict(request_id, batch))
            self._feedback(request_id, batch)
        self._wait_for_logs(prefix, sum(len(batch) for batch in batches))
        return served

    def release_canary(self, uri: str) -> ReleaseResult:
        """Make ``uri`` the canary with :data:`CANARY_TRAFFIC` percent of the requests.

        The application tests run on it first, and ``applied`` on the result
        is False when they failed.
        """
        return reroute(
            self.name, canary=uri, traffic=CANARY_TRAFFIC, sticky_header=STICKY_HEADER
        )

    def promote_canary(self) -> ReleaseResult:
        """Make the canary the primary, with every request."""
        return promote(self.name)

    def remove_canary(self) -> ReleaseResult:
        """Send every request to the primary again and stop the canary's server."""
        return reroute(self.name, canary=None)

    def _predict(self, request_id: str, batch: pd.DataFrame) -> Served:
        inputs = batch[[features.KEY, features.TIME, *features.FEATURES]]
        body = {
            "columns": list(inputs.columns),
            "data": inputs.astype(object)
            .where(inputs.notna(), None)
            .to_numpy()
            .tolist(),
        }
        response = self.client.post(
            f"{self.url}/predict", json=body, headers=self._headers(request_id)
        )
        if response.status_code != 200:
            raise ServingError(
                f"the gateway rejected request {request_id}: "
                f"{response.status_code} {response.text[:300]}"
            )
        return Served(
            request_id=request_id,
            model_uri=response.headers.get(VERSION_HEADER, "unknown"),
            flights=batch,
            probabilities=[float(p) for p in response.json()["probabilities"]],
        )

    def _feedback(self, request_id: str, batch: pd.DataFrame) -> None:
        rows = [
            {"request_id": request_id, "row": row, "label": int(label)}
            for row, label in enumerate(batch[features.LABEL])
        ]
        headers = self._headers(request_id)
        headers[REQUEST_ID_HEADER] = f"{request_id}-feedback"
        response = self.client.post(f"{self.url}/feedback", json=rows, headers=headers)
        if response.status_code >= 300:
            raise ServingError(
                f"the gateway rejected the feedback of request {request_id}: "
                f"{response.status_code} {response.text[:300]}"
            )

    def _headers(self, request_id: str) -> dict[str, str]:
        return {REQUEST_ID_HEADER: request_id, STICKY_HEADER: request_id}

    def _wait_for_logs(self, prefix: str, rows: int) -> None:
        """Wait until the servers have written ``rows`` predictions and labels of ``prefix``.

        Raises:
            ServingError: They did not within :data:`LOG_WAIT_SECONDS`.
        """
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        counts = (0, 0)
        while time.monotonic() < deadline:
            counts = _logged_rows(prefix)
            if counts == (rows, rows):
                return
            time.sleep(0.5)
        raise ServingError(
            f"deployment {self.name} logged {counts[0]} predictions and {counts[1]} "
            f"feedback rows of {prefix} after {LOG_WAIT_SECONDS:.0f} s, expected "
            f"{rows} of each; read its log with `tether deploy logs {self.name}`"
        )


def _logged_rows(prefix: str) -> tuple[int, int]:
    """Return the logged predictions and feedback rows whose request id starts with ``prefix``."""
    start = f"{prefix}-"
    logged = load_predictions(MODEL_NAME)
    predictions = (
        int(logged["request_id"].astype(str).str.startswith(start).sum())
        if not logged.empty
        else 0
    )
    folders = {Path(p).parent for p in get_store().prediction_log_paths(MODEL_NAME)}
    labels = 0
    for folder in folders:
        feedback = read_feedback(folder)
        labels += int(feedback["request_id"].astype(str).str.startswith(start).sum())
    return predictions, labels
