"""HTTP parts of deployments, against servers in threads.

The gateway runs on uvicorn in front of stub model servers (split, sticky
routing, shadow copies, the switch, errors). The application tests run
against the real scoring app and against stubs that break its contract.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tether.deploy.application_tests import ApplicationTestReport, run_application_tests
from tether.deploy.gateway import Gateway
from tether.deploy.probes import probe_ready
from tether.deploy.processes import free_port
from tether.deploy.shadow import ShadowSender
from tether.deploy.spec import ApplicationTestSettings, ModelTarget, Routing
from tether.models.signature import Signature, infer_signature


def target(version: int) -> ModelTarget:
    uri = f"models:/m/{version}"
    return ModelTarget(uri=uri, requested=uri, name="m", version=version)


class StubModel:
    """A scoring server stand-in that predicts one constant, optionally held at a gate."""

    def __init__(
        self, version: int, prediction: int, gate: threading.Event | None = None
    ):
        self.version = version
        self.prediction = prediction
        self.gate = gate
        self.received: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/predict", self.predict, methods=["POST"])])

    async def predict(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.received.append(
            {"body": body, "request_id": request.headers.get("x-request-id")}
        )
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 30)
        rows = len(body["records"])
        content = {
            "predictions": [self.prediction] * rows,
            "model_version": str(self.version),
        }
        return JSONResponse(content)


def stub(
    version: int, prediction: int, gate: threading.Event | None = None
) -> StubModel:
    return StubModel(version, prediction, gate)


class ThreadedServer:
    """uvicorn serving an ASGI app on a free loopback port, in a thread of its own."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="auto"
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve()

        asyncio.run(serve())

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            self.thread.join(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@contextmanager
def gateway_over(
    tmp_path: Path, routing: Routing, models: dict[str, StubModel]
) -> Iterator[tuple[Gateway, ThreadedServer, dict[str, ThreadedServer]]]:
    servers = {uri: ThreadedServer(model.app) for uri, model in models.items()}
    for server in servers.values():
        server.__enter__()
    gateway = Gateway("test", tmp_path / "shadow.jsonl")
    gateway.switch(1, routing, {uri: server.url for uri, server in servers.items()})
    try:
        with ThreadedServer(gateway.app) as front:
            yield gateway, front, servers
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)


def post(client: httpx.Client, url: str, **headers: str) -> httpx.Response:
    return client.post(
        f"{url}/predict", json={"records": [{"x": 1.0}]}, headers=headers
    )


def test_gateway_splits_and_labels(tmp_path: Path) -> None:
    routing = Routing(primary=target(1), canary=target(2), traffic=30)
    models = {"models:/m/1": stub(1, 0), "models:/m/2": stub(2, 1)}
    with (
        gateway_over(tmp_path, routing, models) as (_, front, _),
        httpx.Client() as client,
    ):
        responses = [post(client, front.url) for _ in range(100)]
    assert {response.status_code for response in responses} == {200}
    routes = [response.headers["x-tether-route"] for response in responses]
    assert routes.count("canary") == 30
    assert routes.count("primary") == 70
    for response in responses:
        version = response.headers["x-tether-model-version"]
        assert response.json()["model_version"] == version.rsplit("/", 1)[1]
    assert len(models["models:/m/2"].received) == 30


def test_gateway_sticky_header(tmp_path: Path) -> None:
    from tether.deploy.splitting import sticky_bucket

    routing = Routing(
        primary=target(1), canary=target(2), traffic=50, sticky_header="X-User"
    )
    models = {"models:/m/1": stub(1, 0), "models:/m/2": stub(2, 1)}
    with (
        gateway_over(tmp_path, routing, models) as (_, front, _),
        httpx.Client() as client,
    ):
        for user in (f"user-{i}" for i in range(20)):
            routes = {
                post(client, front.url, **{"X-User": user}).headers["x-tether-route"]
                for _ in range(3)
            }
            expected = "canary" if sticky_bucket(user) < 50 else "primary"
            assert routes == {expected}, user


def test_gateway_passes_request_id(tmp_path: Path) -> None:
    routing = Routing(primary=target(1))
    models = {"models:/m/1": stub(1, 0)}
    with (
        gateway_over(tmp_path, routing, models) as (_, front, _),
        httpx.Client() as client,
    ):
        given = post(client, front.url, **{"X-Request-ID": "client-id-7"})
        post(client, front.url)
    received = [entry["request_id"] for entry in models["models:/m/1"].received]
    assert given.headers["x-request-id"] == "client-id-7"
    assert received[0] == "client-id-7"
    assert received[1] is not None
    assert len(received[1]) == 32


def test_shadow_does_not_delay_client(tmp_path: Path) -> None:
    gate = threading.Event()
    routing = Routing(primary=target(1), shadow=target(3))
    models = {"models:/m/1": stub(1, 1), "models:/m/3": stub(3, 1, gate)}
    log = tmp_path / "shadow.jsonl"
    with (
        gateway_over(tmp_path, routing, models) as (gateway, front, _),
        httpx.Client() as client,
    ):
        response = post(client, front.url, **{"X-Request-ID": "shadowed"})
        # The shadow has not responded to the copy, yet the client has its response.
        assert response.status_code == 200
        assert response.headers["x-tether-model-version"] == "models:/m/1"
        assert gateway.shadow_counters()["in_flight"] == 1
        assert not log.exists()
        gate.set()
        pause = threading.Event()
        for _ in range(600):
            if log.exists() and log.read_text().strip():
                break
            pause.wait(0.05)
        health = client.get(f"{front.url}/health").json()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["request_id"] == "shadowed"
    assert record["served_by"] == "models:/m/1"
    assert record["shadow"] == "models:/m/3"
    assert record["served_status"] == 200
    assert record["shadow_status"] == 200
    assert record["rows"] == 1
    assert record["agreeing_rows"] == 1
    assert health["shadow"]["sent"] == 1
    assert models["models:/m/3"].received[0]["request_id"] == "shadowed"


def test_switch_waits_for_in_flight(tmp_path: Path) -> None:
    gate = threading.Event()
    old, new = stub(1, 0, gate), stub(2, 1)
    routing = Routing(primary=target(1))
    models = {"models:/m/1": old, "models:/m/2": new}
    with (
        gateway_over(tmp_path, routing, models) as (gateway, front, servers),
        httpx.Client() as client,
    ):
        held: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: held.append(post(client, front.url)))
        sender.start()
        while gateway.in_flight("models:/m/1") == 0:
            sender.join(0.01)
        urls = {uri: server.url for uri, server in servers.items()}
        gateway.switch(2, Routing(primary=target(2)), urls)
        after = post(client, front.url)
        assert front.loop is not None
        drained = asyncio.run_coroutine_threadsafe(
            gateway.drain(["models:/m/1"], 30), front.loop
        )
        # The old server has one request in flight, so draining cannot finish.
        assert after.headers["x-tether-model-version"] == "models:/m/2"
        assert not drained.done()
        gate.set()
        sender.join(30)
        assert drained.result(30) is True
    assert held[0].status_code == 200
    assert held[0].headers["x-tether-model-version"] == "models:/m/1"
    assert gateway.in_flight("models:/m/1") == 0


def test_gateway_without_routing_is_503(tmp_path: Path) -> None:
    gateway = Gateway("empty", tmp_path / "shadow.jsonl")
    with ThreadedServer(gateway.app) as front, httpx.Client() as client:
        health = client.get(f"{front.url}/health")
        scored = post(client, front.url)
    assert health.status_code == 503
    assert health.json()["status"] == "starting"
    assert scored.status_code == 503
    assert "has no routing yet" in scored.json()["error"]


def test_gateway_reports_dead_backend(tmp_path: Path) -> None:
    gateway = Gateway("dead", tmp_path / "shadow.jsonl")
    gateway.switch(
        1,
        Routing(primary=target(1)),
        {"models:/m/1": f"http://127.0.0.1:{free_port()}"},
    )
    with ThreadedServer(gateway.app) as front, httpx.Client() as client:
        scored = post(client, front.url)
        gateway.set_available("models:/m/1", False)
        restarting = post(client, front.url)
        health = client.get(f"{front.url}/health")
    assert scored.status_code == 502
    assert (
        "no model server of deployment dead accepted the connection"
        in (scored.json()["error"])
    )
    assert scored.json()["column"] is None
    assert restarting.status_code == 503
    assert "is restarting" in restarting.json()["error"]
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"


def test_unavailable_canary_falls_back(tmp_path: Path) -> None:
    routing = Routing(primary=target(1), canary=target(2), traffic=100)
    models = {"models:/m/1": stub(1, 0), "models:/m/2": stub(2, 1)}
    with (
        gateway_over(tmp_path, routing, models) as (gateway, front, _),
        httpx.Client() as client,
    ):
        before = post(client, front.url)
        gateway.set_available("models:/m/2", False)
        during = post(client, front.url)
    assert before.headers["x-tether-route"] == "canary"
    assert during.headers["x-tether-route"] == "primary"
    assert during.status_code == 200


def test_shadow_sender_drops_beyond_limit(tmp_path: Path) -> None:
    log = tmp_path / "shadow.jsonl"

    async def scenario() -> dict[str, int]:
        release = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            await release.wait()
            return httpx.Response(200, json={"predictions": [0]})

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            sender = ShadowSender(client, log, max_in_flight=2)
            for i in range(5):
                sender.submit(
                    shadow_uri="models:/m/3",
                    url="http://shadow.invalid/predict",
                    headers={},
                    body=b"{}",
                    request_id=f"r{i}",
                    served_uri="models:/m/1",
                    served_status=200,
                    served_body=b'{"predictions": [1]}',
                )
            held = sender.counters()
            release.set()
            await sender.close(10)
            return {**held, "sent_after": sender.sent}

    counters = asyncio.run(scenario())
    assert counters["in_flight"] == 2
    assert counters["dropped"] == 3
    assert counters["sent_after"] == 2
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["request_id"] for line in lines] == ["r0", "r1"]
    assert all(line["agreeing_rows"] == 0 for line in lines)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep httpx from sending loopback requests through a proxy from the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


# -- application tests -----------------------------------------------------


class SklearnModel:
    """A fitted classifier that the scoring app can serve (its ServedModel protocol)."""

    def __init__(
        self, estimator: Any, signature: Signature, version: str = "4"
    ) -> None:
        self.uri = f"models:/m/{version}"
        self.version = version
        self.signature = signature
        self.estimator = estimator

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        return np.asarray(self.estimator.predict_proba(frame))


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dep_hour": [5, 9, 14, 18, 21, 23],
            "distance": [200.0, 760.5, 1400.0, 950.0, 2475.0, 300.0],
        }
    )


@pytest.fixture(scope="module")
def scoring_server(example: pd.DataFrame) -> Iterator[ThreadedServer]:
    from sklearn.linear_model import LogisticRegression

    from tether.serving.app import create_app

    estimator = LogisticRegression().fit(example, [0, 0, 1, 1, 1, 0])
    signature = infer_signature(example, estimator.predict(example))
    with ThreadedServer(create_app(SklearnModel(estimator, signature))) as server:
        yield server


def run_tests(
    url: str,
    example: pd.DataFrame | None,
    *,
    version: int | None = 4,
    p99_ms: float = 60_000.0,
    signature: Signature | None = None,
    use_signature: bool = True,
) -> ApplicationTestReport:
    if use_signature and signature is None and example is not None:
        signature = infer_signature(example)
    settings = ApplicationTestSettings(
        load_requests=20, load_concurrency=4, p99_ms=p99_ms
    )
    return run_application_tests(
        url,
        model_uri="models:/m/4",
        version=version,
        signature=signature,
        example=example,
        settings=settings,
    )


def by_name(report: ApplicationTestReport) -> dict[str, dict[str, Any]]:
    return {result["name"]: result for result in report.to_list()}


def test_application_tests_pass_on_scoring_app(
    scoring_server: ThreadedServer, example: pd.DataFrame
) -> None:
    report = run_tests(scoring_server.url, example)
    results = by_name(report)
    assert report.passed, report.to_list()
    assert sorted(results) == [
        "contract.extra_column",
        "contract.missing_column",
        "contract.null_in_non_nullable",
        "contract.wrong_type",
        "load.p99",
        "smoke.health",
        "smoke.predict",
        "smoke.ready",
    ]
    assert results["smoke.predict"]["detail"] == "6 example rows got 6 predictions"
    assert results["contract.missing_column"]["values"]["status"] == 422
    assert results["contract.extra_column"]["values"]["status"] == 200
    load = results["load.p99"]["values"]
    assert load["requests"] == 20
    assert load["errors"] == 0
    assert load["p99_ms"] > 0
    assert load["budget_ms"] == 60_000.0


def test_load_budget_of_zero_fails(
    scoring_server: ThreadedServer, example: pd.DataFrame
) -> None:
    report = run_tests(scoring_server.url, example, p99_ms=0.0)
    assert not report.passed
    assert report.failed_names == ["load.p99"]
    detail = by_name(report)["load.p99"]["detail"]
    assert "(budget 0 ms), 0 failed" in detail


def test_wrong_version_fails_smoke(
    scoring_server: ThreadedServer, example: pd.DataFrame
) -> None:
    report = run_tests(scoring_server.url, example, version=5)
    assert report.failed_names == ["smoke.health", "smoke.predict"]
    assert (
        "reports version '4', expected 5" in by_name(report)["smoke.health"]["detail"]
    )


def lenient_app(with_ready: bool) -> Starlette:
    """A server that accepts any body with 200, breaking every 422 rule."""

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "model_version": "4"})

    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        rows = len(body["records"])
        return JSONResponse({"predictions": [0] * rows, "model_version": "4"})

    routes = [
        Route("/health", health),
        Route("/predict", predict, methods=["POST"]),
    ]
    if with_ready:
        routes.append(Route("/ready", health))
    return Starlette(routes=routes)


def test_contract_failures_are_reported(example: pd.DataFrame) -> None:
    with ThreadedServer(lenient_app(with_ready=True)) as server:
        report = run_tests(server.url, example)
    results = by_name(report)
    assert report.failed_names == [
        "contract.missing_column",
        "contract.extra_column",
        "contract.null_in_non_nullable",
        "contract.wrong_type",
    ]
    assert results["contract.missing_column"]["detail"].startswith(
        "expected 422 (a request without column 'dep_hour' is rejected), got 200"
    )
    assert (
        "does not list it in ignored_columns"
        in results["contract.extra_column"]["detail"]
    )
    assert results["smoke.predict"]["passed"]
    assert results["load.p99"]["passed"]


def test_missing_ready_route_uses_health(example: pd.DataFrame) -> None:
    with (
        ThreadedServer(lenient_app(with_ready=False)) as server,
        httpx.Client() as client,
    ):
        report = run_tests(server.url, example)
        probe = probe_ready(client, server.url)
    ready = by_name(report)["smoke.ready"]
    assert ready["passed"]
    assert ready["detail"] == "the server has no /ready route; /health decides"
    assert probe.ready
    assert probe.route == "/health"


def test_nothing_to_send_is_skipped() -> None:
    with ThreadedServer(lenient_app(with_ready=True)) as server:
        report = run_tests(server.url, None, use_signature=False)
    results = by_name(report)
    assert report.passed
    assert results["smoke.predict"]["skipped"]
    assert results["contract"]["skipped"]
    assert results["contract"]["detail"] == "skipped: the version has no signature"
    assert results["load.p99"]["skipped"]


def test_unreachable_server_fails_every_test(example: pd.DataFrame) -> None:
    report = run_tests(f"http://127.0.0.1:{free_port()}", example)
    results = by_name(report)
    assert not any(result["passed"] for result in results.values())
    assert results["smoke.health"]["detail"].startswith(
        "GET /health failed: ConnectError"
    )
    assert results["load.p99"]["values"]["errors"] == 20


def test_gateway_refuses_bodies_over_its_limit(tmp_path: Path) -> None:
    routing = Routing(primary=target(1))
    models = {"models:/m/1": stub(1, 0)}
    with (
        gateway_over(tmp_path, routing, models) as (gateway, front, _),
        httpx.Client() as client,
    ):
        gateway.max_body_bytes = 1_000
        small = post(client, front.url)

        def chunks() -> Iterator[bytes]:
            for _ in range(20):
                yield b"x" * 100

        streamed = client.post(
            f"{front.url}/predict",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        declared = client.post(
            f"{front.url}/predict",
            content=b"{}",
            headers={"content-type": "application/json", "content-length": "2"},
        )
    assert small.status_code == 200
    assert streamed.status_code == 413
    assert "larger than the gateway's limit of 1000 bytes" in streamed.json()["error"]
    assert declared.status_code != 413
    # Nothing over the limit reached the model server.
    assert len(models["models:/m/1"].received) == 2


def test_refused_connection_goes_to_the_other_version(tmp_path: Path) -> None:
    routing = Routing(primary=target(1), canary=target(2), traffic=50)
    live = stub(2, 1)
    gateway = Gateway("half", tmp_path / "shadow.jsonl")
    with ThreadedServer(live.app) as canary:
        gateway.switch(
            1,
            routing,
            {
                "models:/m/1": f"http://127.0.0.1:{free_port()}",
                "models:/m/2": canary.url,
            },
        )
        with ThreadedServer(gateway.app) as front, httpx.Client() as client:
            answers = [post(client, front.url) for _ in range(10)]
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.headers["x-tether-route"] for answer in answers} == {"canary"}
    assert len(live.received) == 10
