"""The scoring server: a FastAPI app that serves one model.

``POST /predict`` takes Tether's JSON payloads and returns predictions with
probabilities, and ``POST /invocations`` takes MLflow's payloads and returns
MLflow's response shape. Both routes parse the whole batch into one frame,
enforce the model signature and call the model once. Status codes:

- 400: the body is not one of the accepted formats.
- 413: the body is larger than ``max_body_bytes``.
- 422: the body parsed, but it violates the model signature.
- 500: the model raised an error. Details go to the server log only.

Error bodies are ``{"error": message, "column": name or null,
"request_id": id}``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tether.errors import ConfigError, DataError, SchemaError, ServingError
from tether.models.signature import Signature, enforce, extra_columns
from tether.serving.payloads import parse_invocations, parse_predict
from tether.serving.prediction_log import PredictionLogger

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")

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


class ServedModel(Protocol):
    """A loaded model as the scoring server uses it.

    Attributes:
        uri: The model's URI, such as ``models:/flight-delay/3``.
        version: The model version, or None for a model outside the registry.
        signature: Input columns that every request must satisfy.
    """

    @property
    def uri(self) -> str: ...

    @property
    def version(self) -> str | None: ...

    @property
    def signature(self) -> Signature: ...

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return one prediction per row of a frame that satisfies the signature."""
        ...

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Return class probabilities (one row per input row), or None."""
        ...


def create_app(
    model: ServedModel,
    *,
    prediction_logger: PredictionLogger | None = None,
    max_body_bytes: int = 50 * 1024 * 1024,
) -> FastAPI:
    """Build the scoring app for one model.

    Args:
        model: The model to serve.
        prediction_logger: Receives every scored request. The app flushes it
            at shutdown but does not close it, because the caller owns it.
        max_body_bytes: Largest accepted request body, in bytes. Larger
            bodies get status 413.

    Returns:
        A FastAPI app with ``GET /health``, ``POST /predict`` and
        ``POST /invocations``.

    Raises:
        ConfigError: If ``max_body_bytes`` is not positive.
    """
    if max_body_bytes <= 0:
        raise ConfigError(
            f"max_body_bytes must be positive, got {max_body_bytes!r}",
            setting="max_body_bytes",
            value=max_body_bytes,
        )
    scorer = _Scorer(model, prediction_logger)
    app = FastAPI(
        title="Tether scoring server",
        summary=f"Serves {model.uri}",
        lifespan=_lifespan(model, prediction_logger),
    )
    _add_routes(app, scorer, max_body_bytes)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Return errors for unknown paths and methods in the shape the scoring routes use."""
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "")
    message = f"{request.method} {request.url.path}: {detail}"
    return _error_response(status, message, None, _request_id(request))


def _add_routes(app: FastAPI, scorer: _Scorer, max_body_bytes: int) -> None:
    model = scorer.model

    @app.api_route("/health", methods=["GET", "HEAD"])
    def health() -> Response:
        status = {
            "status": "ok",
            "model_uri": model.uri,
            "model_version": model.version,
        }
        return _json_response(status, 200, None)

    @app.post("/predict", openapi_extra=_request_body_doc(_PREDICT_EXAMPLES))
    async def predict(request: Request) -> Response:
        return await _handle(request, scorer.score_predict, max_body_bytes)

    @app.post("/invocations", openapi_extra=_request_body_doc(_INVOCATIONS_EXAMPLES))
    async def invocations(request: Request) -> Response:
        return await _handle(request, scorer.score_invocations, max_body_bytes)


def _lifespan(
    model: ServedModel, prediction_logger: PredictionLogger | None
) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("serving model %s version %s", model.uri, model.version)
        yield
        if prediction_logger is not None:
            prediction_logger.flush()
        logger.info("stopped serving model %s", model.uri)

    return lifespan


@dataclass(frozen=True)
class _Call:
    """One scoring request after its body was read."""

    request_id: str
    body: bytes
    content_type: str | None
    started: float


async def _handle(
    request: Request, score: Callable[[_Call], Response], max_body_bytes: int
) -> Response:
    started = time.perf_counter()
    request_id = _request_id(request)
    body = await _read_body(request, max_body_bytes)
    if body is None:
        message = (
            f"request body is larger than {max_body_bytes} bytes; "
            "split the batch into smaller requests"
        )
        logger.info("rejected request %s: %s", request_id, message)
        return _error_response(413, message, None, request_id)
    call = _Call(request_id, body, request.headers.get("content-type"), started)
    # The model runs in a worker thread so a slow prediction does not block
    # the event loop for other requests.
    return await run_in_threadpool(score, call)


def _request_id(request: Request) -> str:
    client_id = request.headers.get(REQUEST_ID_HEADER)
    if client_id is not None and _CLIENT_REQUEST_ID.fullmatch(client_id):
        return client_id
    return uuid.uuid4().hex


async def _read_body(request: Request, limit: int) -> bytes | None:
    """Read the body, or return None as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _Scorer:
    """Parse, check and score request bodies for one model."""

    def __init__(
        self, model: ServedModel, prediction_logger: PredictionLogger | None
    ) -> None:
        self.model = model
        self._prediction_logger = prediction_logger

    def score_predict(self, call: _Call) -> Response:
        return self._score(call, parse_predict, with_probabilities=True)

    def score_invocations(self, call: _Call) -> Response:
        def parse(body: bytes, content_type: str | None) -> pd.DataFrame:
            return parse_invocations(body, content_type, signature=self.model.signature)

        return self._score(call, parse, with_probabilities=False)

    def _score(
        self,
        call: _Call,
        parse: Callable[[bytes, str | None], pd.DataFrame],
        *,
        with_probabilities: bool,
    ) -> Response:
        try:
            raw = parse(call.body, call.content_type)
        except SchemaError as exc:
            return self._reject(400, exc, call.request_id)
        try:
            frame = enforce(self.model.signature, raw)
        except SchemaError as exc:
            return self._reject(422, exc, call.request_id)
        try:
            outputs = self._predict(frame, with_probabilities)
        except Exception:
            return self._fail(call.request_id)
        latency_ms = (time.perf_counter() - call.started) * 1000
        ignored = extra_columns(self.model.signature, raw)
        self._log(call.request_id, frame, raw, ignored, outputs, latency_ms)
        content = self._content(call.request_id, outputs, ignored, with_probabilities)
        return _json_response(content, 200, call.request_id)

    def _predict(
        self, frame: pd.DataFrame, with_probabilities: bool
    ) -> dict[str, np.ndarray]:
        outputs = {"prediction": np.asarray(self.model.predict(frame))}
        if with_probabilities:
            probabilities = self.model.predict_proba(frame)
            if probabilities is not None:
                outputs["probability"] = _reported_probabilities(probabilities)
        return outputs

    def _content(
        self,
        request_id: str,
        outputs: dict[str, np.ndarray],
        ignored: list[str],
        with_probabilities: bool,
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"predictions": outputs["prediction"].tolist()}
        if with_probabilities:
            if "probability" in outputs:
                content["probabilities"] = outputs["probability"].tolist()
            content["request_id"] = request_id
            content["model_version"] = self.model.version
        if ignored:
            content["ignored_columns"] = ignored
        return content

    def _log(
        self,
        request_id: str,
        frame: pd.DataFrame,
        raw: pd.DataFrame,
        ignored: list[str],
        outputs: dict[str, np.ndarray],
        latency_ms: float,
    ) -> None:
        if self._prediction_logger is None:
            return
        inputs = frame.reset_index(drop=True)
        if ignored:
            extras = raw[[label for label in raw.columns if str(label) in ignored]]
            inputs = pd.concat([inputs, extras.reset_index(drop=True)], axis=1)
        try:
            self._prediction_logger.log(request_id, inputs, outputs, latency_ms)
        except (ServingError, DataError):
            logger.exception("failed to log predictions of request %s", request_id)

    def _reject(self, status: int, exc: SchemaError, request_id: str) -> Response:
        logger.info("rejected request %s with %d: %s", request_id, status, exc)
        return _error_response(status, exc.message, exc.column, request_id)

    def _fail(self, request_id: str) -> Response:
        logger.exception(
            "model %s failed to predict for request %s", self.model.uri, request_id
        )
        message = (
            f"the model failed to predict; the server log has the details "
            f"under request id {request_id}"
        )
        return _error_response(500, message, None, request_id)


def _reported_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Return the positive-class column for two classes, else every column."""
    array = np.asarray(probabilities)
    if array.ndim == 2 and array.shape[1] == 2:
        return array[:, 1]
    return array


def _error_response(
    status: int, message: str, column: str | None, request_id: str
) -> Response:
    content = {"error": message, "column": column, "request_id": request_id}
    return _json_response(content, status, request_id)


def _json_response(content: Any, status: int, request_id: str | None) -> Response:
    headers = {REQUEST_ID_HEADER: request_id} if request_id is not None else None
    body = orjson.dumps(content, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(
        content=body,
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _request_body_doc(examples: dict[str, Any]) -> dict[str, Any]:
    """Describe the raw JSON request body in the OpenAPI document."""
    content = {"schema": {"type": "object"}, "examples": examples}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}
