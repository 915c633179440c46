"""Generated requests to every operation of the server's OpenAPI document.

Schemathesis reads the app's ``/openapi.json`` and generates valid and
invalid requests for each operation. They are sent in-process to an app
with auth on, as the server's admin, in the ``default`` workspace of a
store made for this module. Whatever a request contains, the server must
not return a 5xx status, because bad input is the caller's error (4xx),
never the server's.

The run is repeatable: each operation gets the same few requests every
time. Set ``TETHER_FUZZ_EXAMPLES`` to a number to send that many random
requests per operation and mode instead, for a longer search.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tether.server.app import create_app
from tether.server.settings import ServerSettings
from tether.server.setup import init_server
from tether.store.operations import operations as store_operations

WORKSPACE = "default"
OPS = f"/api/v1/workspaces/{WORKSPACE}/ops"
EXAMPLES_ENV = "TETHER_FUZZ_EXAMPLES"
EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 6}
"""Requests per operation and mode, kept small so that the file takes about a minute."""
SHARDS = 8
"""The operations are split into this many tests, so that test workers share them."""


@dataclass(frozen=True)
class FuzzTarget:
    """The app under test, its loaded OpenAPI document and an admin token."""

    app: FastAPI
    schema: schemathesis.BaseSchema
    token: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """Make an app with auth on over a new SQLite store and object folder."""
    root = tmp_path_factory.mktemp("fuzz")
    server_settings = ServerSettings(
        store_url=f"sqlite:///{root / 'tether.db'}",
        artifacts_root=str(root / "objects"),
        auth=True,
    )
    token = init_server(server_settings.store_url, "admin")
    app = create_app(server_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield FuzzTarget(app, schema, token)
    app.state.server.close()


def operations(target: FuzzTarget) -> list[schemathesis.APIOperation]:
    """Return every operation of the document, in the document's order."""
    return [result.ok() for result in target.schema.get_all_operations()]


def operation_id(operation: schemathesis.APIOperation) -> str:
    """Return the ``operationId`` of an operation of the document."""
    return str(operation.definition.raw.get("operationId", ""))


def examples() -> dict[GenerationMode, int]:
    """Return how many requests to send per mode, from the environment or the default."""
    wanted = os.environ.get(EXAMPLES_ENV, "").strip()
    if not wanted:
        return EXAMPLES
    if not wanted.isdigit() or int(wanted) < 1:
        raise ValueError(
            f"invalid {EXAMPLES_ENV} {wanted!r}; use a whole number of requests, "
            "such as 200"
        )
    return {mode: int(wanted) for mode in EXAMPLES}


def server_errors(
    target: FuzzTarget, operation: schemathesis.APIOperation
) -> list[str]:
    """Send generated requests to ``operation`` and return a report of each 5xx."""
    headers = {"Authorization": f"Bearer {target.token}"}
    repeatable = not os.environ.get(EXAMPLES_ENV, "").strip()
    found = []
    for mode, count in examples().items():
        strategy = operation.as_strategy(
            generation_mode=mode,
            path_parameters={"workspace": WORKSPACE},
            headers=headers,
        )

        @settings(
            max_examples=count,
            deadline=None,
            database=None,
            derandomize=repeatable,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def send(case: Any) -> None:
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error])

        try:
            send()
        except Unsatisfiable:
            continue  # no invalid request exists, as for an operation without input
        except Exception as error:  # reported with its operation below
            text = "".join(traceback.format_exception(error))
            found.append(f"{operation.label} ({mode.value}):\n{text}")
    return found


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_server_error(target: FuzzTarget, shard: int) -> None:
    chosen = operations(target)[shard::SHARDS]
    assert chosen
    failures = [
        text for operation in chosen for text in server_errors(target, operation)
    ]
    assert not failures, "\n\n".join(failures)


def test_every_operation_fuzzed(target: FuzzTarget) -> None:
    ids = {operation_id(operation) for operation in operations(target)}
    assert set(store_operations()) <= ids
    assert any(operation.path.endswith("/members") for operation in operations(target))


def test_request_without_body(target: FuzzTarget) -> None:
    client = TestClient(target.app)
    headers = {"Authorization": f"Bearer {target.token}"}

    listed = client.post(f"{OPS}/list_deployments", headers=headers)
    missing = client.post(f"{OPS}/get_run", headers=headers)

    assert listed.status_code == 200
    assert isinstance(listed.json()["result"], list)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "run_id"]
    assert missing.json()["detail"][0]["type"] == "missing"


def test_unknown_alert_action_is_404(target: FuzzTarget) -> None:
    client = TestClient(target.app)
    alert = {
        "actions": [],
        "fired_at": "2000-01-01T00:00:00Z",
        "first_window": "w",
        "id": "nope",
        "last_window": "w",
        "resolved_at": None,
        "rule": "r",
        "severity": "s",
        "state": "firing",
        "subject": "s",
        "value": 1.0,
    }
    response = client.post(
        f"{OPS}/record_alert_action",
        json={"actor": "x", "alert": alert, "outcome": {}},
        headers={"Authorization": f"Bearer {target.token}"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFoundError"


def test_firing_update_without_fields(target: FuzzTarget) -> None:
    client = TestClient(target.app)
    response = client.post(
        f"{OPS}/update_firing",
        json={"firing_id": "x"},
        headers={"Authorization": f"Bearer {target.token}"},
    )
    assert response.status_code == 200
    assert response.json() == {"result": None}
