"""The scoring server: a FastAPI app that serves one model.

Routes:

- ``GET /health``: liveness. It answers 200 as soon as the process serves
  HTTP and does no model work.
- ``GET /ready``: readiness. 200 once the model is loaded, 503 before and
  after a failed load.
- ``GET /metadata``: the model's URI, name, version, flavor, runtime and
  signature, and the Tether version.
- ``GET /metrics``: Prometheus metrics (see :mod:`tether.serving.metrics`).
- ``POST /predict``: Tether's JSON payloads; predictions with probabilities.
- ``POST /invocations``: MLflow's payloads and response shape.
- ``POST /feedback``: ground truth for scored requests.

Status codes of the scoring routes:

- 400: the body is not valid JSON or CSV, or has the wrong shape.
- 413: the body is larger than ``max_body_bytes``.
- 415: the Content-Type is not one that the route reads.
- 422: the body parsed but violates the signature, or has no rows.
- 500: the model raised an error. Details go to the server log only.
- 503: the model is not loaded (still loading, or its load failed).
- 504: scoring took longer than ``timeout_seconds``.

Error bodies are ``{"error": message, "column": name or null,
"request_id": id}``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.errors import ConfigError, SchemaError
from tether.serving.feedback import FeedbackError, FeedbackLogger, parse_feedback
from tether.serving.metrics import (
    METRICS_CONTENT_TYPE,
    PREDICTION_BUCKETS,
    ServingMetrics,
)
from tether.serving.payloads import UnsupportedMediaTypeError, require_json
from tether.serving.prediction_log import PredictionLogger
from tether.serving.responses import (
    DEFAULT_MAX_BODY_BYTES,
    REQUEST_ID_HEADER,
    error_response,
    json_response,
    read_body,
    request_id,
)
from tether.serving.scoring import Call, Scorer, ServedModel

if TYPE_CHECKING:
    from tether.serving.monitor_gauges import MonitorGauges

logger = logging.getLogger(__name__)

__all__ = ["REQUEST_ID_HEADER", "ModelLoader", "ServedModel", "create_app"]

DEFAULT_TIMEOUT_SECONDS = 30.0
SCORING_THREADS = min(32, (os.cpu_count() or 1) + 4)
"""Threads per worker that parse and score requests (Python's default pool size)."""
ROUTES = (
    "/health",
    "/ready",
    "/metadata",
    "/metrics",
    "/predict",
    "/invocations",
    "/feedback",
)

_PREDICT_EXAMPLES = {
    "records": {"value": {"records": [{"distance": 1400, "dep_hour": 7}]}},
    "columns": {"value": {"columns": ["distance", "dep_hour"], "data": [[1400, 7]]}},
}
_INVOCATIONS_EXAMPLES = {
    "dataframe_split": {
        "value": {"dataframe_split": {"columns": ["distance"], "data": [[1400]]}}
    },
    "dataframe_records": {"value": {"dataframe_records": [{"distance": 1400}]}},
}
_FEEDBACK_EXAMPLES = {
    "one": {"value": {"request_id": "9b2e0c", "label": 1}},
    "many": {
        "value": [
            {"request_id": "9b2e0c", "row": 0, "label": 1},
            {"request_id": "9b2e0c", "row": 1, "label": 0},
        ]
    },
}


@dataclass(frozen=True)
class ModelLoader:
    """A model that the app loads on a background thread after it starts.

    Attributes:
        load: Returns the loaded model. Its errors make ``/ready`` return 503
            with the message.
        uri: The model's URI, reported by ``/health`` before the load ends.
        version: The model's version, reported by ``/health``.
    """

    load: Callable[[], ServedModel]
    uri: str
    version: str | None


def create_app(
    model: ServedModel | ModelLoader,
    *,
    prediction_logger: PredictionLogger | None = None,
    feedback_logger: FeedbackLogger | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    prediction_buckets: Sequence[float] = PREDICTION_BUCKETS,
    close_loggers: bool = False,
    monitor_gauges: str | None = None,
) -> FastAPI:
    """Build the scoring app for one model.

    Args:
        model: The model to serve, or a :class:`ModelLoader` that loads it
            on a background thread when the app starts, so that ``/health``
            answers while it loads.
        prediction_logger: Receives every scored request.
        feedback_logger: Receives the rows of ``POST /feedback``. Without
            it that route answers 501.
        max_body_bytes: Largest accepted request body, in bytes. Larger
            bodies get status 413.
        timeout_seconds: Maximum time a scoring request waits for the model
            to load, and then for its result, in seconds. Past it the
            response is 504 (503 while loading).
        prediction_buckets: Upper bounds of the ``tether_prediction_value``
            histogram.
        close_loggers: Close the loggers at shutdown. Otherwise the app only
            flushes them, because the caller owns them.
        monitor_gauges: A registered model's name: ``GET /metrics`` also
            reports the newest window of each monitor of that model (see
            :mod:`tether.serving.monitor_gauges`).

    Returns:
        A FastAPI app with the routes listed in this module's docstring.

    Raises:
        ConfigError: If ``max_body_bytes`` or ``timeout_seconds`` is not positive.
    """
    _check_positive("max_body_bytes", max_body_bytes)
    _check_positive("timeout_seconds", timeout_seconds)
    state = _AppState(
        model,
        prediction_logger=prediction_logger,
        feedback_logger=feedback_logger,
        metrics=ServingMetrics(prediction_buckets),
        max_body_bytes=max_body_bytes,
        timeout_seconds=timeout_seconds,
    )
    app = FastAPI(
        title="Tether scoring server",
        summary=f"Serves {state.uri}",
        lifespan=_lifespan(state, close_loggers),
    )
    if monitor_gauges is not None:
        from tether.serving.monitor_gauges import MonitorGauges

        state.monitor_gauges = MonitorGauges(monitor_gauges)
    _add_probe_routes(app, state)
    _add_scoring_routes(app, state)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(_MetricsMiddleware, metrics=state.metrics)
    return app


def _check_positive(setting: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(
            f"{setting} must be positive, got {value!r}", setting=setting, value=value
        )


class _AppState:
    """The model slot, loggers, limits and thread pool of one app."""

    def __init__(
        self,
        model: ServedModel | ModelLoader,
        *,
        prediction_logger: PredictionLogger | None,
        feedback_logger: FeedbackLogger | None,
        metrics: ServingMetrics,
        max_body_bytes: int,
        timeout_seconds: float,
    ) -> None:
        self.prediction_logger = prediction_logger
        self.feedback_logger = feedback_logger
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds
        self.loader = model if isinstance(model, ModelLoader) else None
        self.uri = model.uri
        self.version = model.version
        self.scorer: Scorer | None = None
        self.monitor_gauges: MonitorGauges | None = None
        self.load_error: str | None = None
        self._loaded = threading.Event()
        self._loaded_async: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._stuck = 0
        self._generation = 0
        if self.loader is None:
            self._set_model(model)  # type: ignore[arg-type]

    @property
    def model(self) -> ServedModel | None:
        return self.scorer.model if self.scorer is not None else None

    def _set_model(self, model: ServedModel) -> None:
        self.scorer = Scorer(model, self.prediction_logger, self.metrics)
        self._loaded.set()

    def start_loading(self) -> None:
        """Start the background load, when the app was given a loader."""
        loop = asyncio.get_running_loop()
        self._loaded_async = asyncio.Event()
        if self._loaded.is_set():
            self._loaded_async.set()
            return
        if self.loader is None:
            return
        loader = self.loader

        def load() -> None:
            started = time.perf_counter()
            try:
                self._set_model(loader.load())
            except Exception as exc:
                logger.exception("failed to load model %s", loader.uri)
                self.load_error = f"failed to load {loader.uri}: {exc}"
                self._loaded.set()
            else:
                logger.info(
                    "loaded model %s version %s in %.1f s",
                    loader.uri,
                    loader.version,
                    time.perf_counter() - started,
                )
            loop.call_soon_threadsafe(self._set_loaded_async)

        threading.Thread(target=load, name="tether-model-load", daemon=True).start()

    def _set_loaded_async(self) -> None:
        if self._loaded_async is not None:
            self._loaded_async.set()

    async def wait_until_loaded(self) -> bool:
        """Wait up to the timeout for the load to end; return whether it did."""
        if self._loaded.is_set():
            return True
        if self._loaded_async is None:  # the app runs without its lifespan
            return False
        try:
            await asyncio.wait_for(self._loaded_async.wait(), self.timeout_seconds)
        except TimeoutError:
            return False
        return True

    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """Return the thread pool that runs parsing and the model.

        A timed-out call keeps its thread until the model returns, because
        Python cannot stop a thread. Once timed-out calls hold every thread
        of the pool, new calls go to a new pool, so they do not queue behind
        a stuck model. The old pool's threads end as their calls return.
        """
        with self._executor_lock:
            pool = self._executor
            if pool is not None and self._stuck >= SCORING_THREADS:
                logger.warning(
                    "%d timed-out model calls hold every scoring thread; new "
                    "requests go to a new thread pool",
                    self._stuck,
                )
                pool.shutdown(wait=False)
                pool = None
            if pool is None:
                pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=SCORING_THREADS, thread_name_prefix="tether-scoring"
                )
                self._executor = pool
                self._stuck = 0
                self._generation += 1
            return pool

    def count_stuck(self, future: asyncio.Future[Any]) -> None:
        """Count a timed-out call against the current pool until it returns."""
        with self._executor_lock:
            self._stuck += 1
            generation = self._generation

        def done(_: asyncio.Future[Any]) -> None:
            with self._executor_lock:
                if self._generation == generation and self._stuck > 0:
                    self._stuck -= 1

        future.add_done_callback(done)

    def shutdown_executor(self) -> None:
        with self._executor_lock:
            if self._executor is not None:
                # A prediction that outlived its timeout may still run; the
                # process does not wait for it.
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None


def _lifespan(state: _AppState, close_loggers: bool) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("serving model %s version %s", state.uri, state.version)
        state.start_loading()
        yield
        state.shutdown_executor()
        for writer in (state.prediction_logger, state.feedback_logger):
            if writer is None:
                continue
            if close_loggers:
                writer.close()
            else:
                writer.flush()
        logger.info("stopped serving model %s", state.uri)

    return lifespan


async def _http_error(request: Request, exc: Exception) -> Response:
    """Return errors for unknown paths and methods in the shape the scoring routes use."""
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "")
    message = f"{request.method} {request.url.path}: {detail}"
    return error_response(status, message, None, request_id(request))


def _add_probe_routes(app: FastAPI, state: _AppState) -> None:
    @app.api_route("/health", methods=["GET", "HEAD"])
    def health() -> Response:
        status = {
            "status": "ok",
            "model_uri": state.uri,
            "model_version": state.version,
        }
        return json_response(status, 200, None)

    @app.api_route("/ready", methods=["GET", "HEAD"])
    def ready() -> Response:
        content: dict[str, Any] = {
            "status": "ready",
            "model_uri": state.uri,
            "model_version": state.version,
        }
        if state.model is not None:
            return json_response(content, 200, None)
        if state.load_error is not None:
            content.update(status="failed", error=state.load_error)
        else:
            content["status"] = "loading"
        return json_response(content, 503, None)

    @app.get("/metadata")
    def metadata(request: Request) -> Response:
        model = state.model
        if model is None:
            return _not_ready(state, request_id(request))
        return json_response(_metadata(model), 200, None)

    @app.get("/metrics")
    def metrics() -> Response:
        body = state.metrics.render()
        if state.monitor_gauges is not None:
            body += state.monitor_gauges.render()
        return Response(body, media_type=METRICS_CONTENT_TYPE)


def _metadata(model: ServedModel) -> dict[str, Any]:
    from tether.version import __version__

    return {
        "model_uri": model.uri,
        "version_uri": getattr(model, "version_uri", None),
        "name": getattr(model, "name", None),
        "version": model.version,
        "flavor": getattr(model, "flavor", None),
        "runtime": getattr(model, "runtime", None),
        "signature": model.signature.to_dict(),
        "tether_version": __version__,
        "worker_pid": os.getpid(),
    }


def _add_scoring_routes(app: FastAPI, state: _AppState) -> None:
    @app.post("/predict", openapi_extra=_request_body_doc(_PREDICT_EXAMPLES))
    async def predict(request: Request) -> Response:
        return await _handle_scoring(request, state, "/predict")

    @app.post("/invocations", openapi_extra=_request_body_doc(_INVOCATIONS_EXAMPLES))
    async def invocations(request: Request) -> Response:
        return await _handle_scoring(request, state, "/invocations")

    @app.post("/feedback", openapi_extra=_request_body_doc(_FEEDBACK_EXAMPLES))
    async def feedback(request: Request) -> Response:
        return await _handle_feedback(request, state)


async def _read_call(request: Request, state: _AppState, route: str) -> Call | Response:
    """Read the body into a call, or return the 413 (or 400) response."""
    started = time.perf_counter()
    call_id = request_id(request)
    try:
        body = await read_body(request, state.max_body_bytes)
    except ClientDisconnect:
        logger.info(
            "client disconnected before sending the body of request %s", call_id
        )
        message = "the client disconnected before sending the whole body"
        return error_response(400, message, None, call_id)
    if body is None:
        message = (
            f"request body is larger than {state.max_body_bytes} bytes; "
            "split the batch into smaller requests"
        )
        logger.info("rejected request %s: %s", call_id, message)
        return error_response(413, message, None, call_id)
    content_type = request.headers.get("content-type")
    return Call(call_id, body, content_type, started, route)


async def _handle_scoring(request: Request, state: _AppState, route: str) -> Response:
    call = await _read_call(request, state, route)
    if isinstance(call, Response):
        return call
    if not await state.wait_until_loaded() or state.scorer is None:
        return _not_ready(state, call.request_id)
    scorer = state.scorer
    score = scorer.score_predict if route == "/predict" else scorer.score_invocations
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(state.executor(), score, call)
    try:
        # shield keeps the thread's future alive when the wait times out, so
        # a result that lands during the timeout handling is still sent.
        response = await asyncio.wait_for(asyncio.shield(future), state.timeout_seconds)
    except TimeoutError:
        if call.expire():
            state.count_stuck(future)
            return _timed_out(state, call)
        response = await future
    if response is None:  # the thread saw the expiry first
        return _timed_out(state, call)
    return response


def _timed_out(state: _AppState, call: Call) -> Response:
    logger.warning(
        "request %s timed out after %s s; its prediction is discarded and not logged",
        call.request_id,
        state.timeout_seconds,
    )
    message = (
        f"scoring took longer than the server's timeout of {state.timeout_seconds} s; "
        "send smaller batches, or ask the operator to raise --timeout-seconds"
    )
    return error_response(504, message, None, call.request_id)


def _not_ready(state: _AppState, call_id: str) -> Response:
    if state.load_error is not None:
        message = f"{state.load_error}; the server log has the details"
    else:
        message = (
            f"the model {state.uri} is still loading; retry when GET /ready answers 200"
        )
    return error_response(503, message, None, call_id)


async def _handle_feedback(request: Request, state: _AppState) -> Response:
    call = await _read_call(request, state, "/feedback")
    if isinstance(call, Response):
        return call
    if state.feedback_logger is None:
        message = (
            "this server does not store feedback because prediction logging is "
            "off; start it without --no-log-predictions"
        )
        return error_response(501, message, None, call.request_id)
    try:
        require_json(call.content_type, "application/json")
        rows = parse_feedback(call.body)
    except UnsupportedMediaTypeError as exc:
        return error_response(415, exc.message, None, call.request_id)
    except FeedbackError as exc:
        return error_response(422, exc.message, None, call.request_id)
    except SchemaError as exc:
        return error_response(400, exc.message, None, call.request_id)
    state.feedback_logger.log(rows)
    state.metrics.feedback_rows.inc(len(rows))
    return json_response({"accepted": len(rows)}, 200, call.request_id)


def _request_body_doc(examples: dict[str, Any]) -> dict[str, Any]:
    """Describe the raw JSON request body in the OpenAPI document."""
    content = {"schema": {"type": "object"}, "examples": examples}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


class _MetricsMiddleware:
    """Count every HTTP request by route, method and status, and time it."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            path = scope.get("path", "")
            route = path if path in ROUTES else "other"
            seconds = time.perf_counter() - started
            self.metrics.observe_request(route, scope["method"], status, seconds)
