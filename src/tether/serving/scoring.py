"""Parse, check, score and log one request body, on a worker thread.

Both scoring routes parse the whole batch at once, enforce the signature
once and call the model once: with probabilities on the native runtime,
through the flavor's ``predict_with_proba``, which runs a forest's trees
once for both. A JSON body is parsed into one list of values per column.
A model that scores NumPy columns (the ONNX
runtime, see :class:`~tether.serving.served_model.ServingModel`) gets them
as arrays, and no DataFrame is built. On the native runtime the lists are
converted straight into the enforced frame, the only frame of the request.
CSV bodies and ``dataframe_split`` bodies with an ``index`` are parsed into
a frame first, on every runtime.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from fastapi import Response

from tether.errors import DataError, SchemaError, ServingError
from tether.models.signature import (
    Signature,
    enforce,
    enforce_json_columns,
    extra_columns,
)
from tether.models.signature_arrays import json_values_array
from tether.serving.metrics import ServingMetrics
from tether.serving.payloads import (
    EmptyBatchError,
    ParsedColumns,
    UnsupportedMediaTypeError,
    is_csv,
    parse_invocations,
    parse_invocations_columns,
    parse_predict_columns,
)
from tether.serving.prediction_log import PredictionLogger
from tether.serving.responses import error_response, json_response

logger = logging.getLogger(__name__)


class ServedModel(Protocol):
    """A loaded model as the scoring server uses it.

    The app also reports ``name``, ``flavor``, ``runtime`` and
    ``version_uri`` in ``GET /metadata`` when the model has them, and scores
    NumPy columns when ``scores_arrays`` is true (see
    :class:`~tether.serving.served_model.ServingModel`).

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


@dataclass
class Call:
    """One scoring request after its body was read.

    ``finish`` and ``expire`` decide, under one lock, whether the worker
    thread's result is sent (and logged) or the request timed out, so a
    prediction is logged only when its response is a 200.
    """

    request_id: str
    body: bytes
    content_type: str | None
    started: float
    route: str
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _state: str = "running"

    def finish(self) -> bool:
        """Claim the result for the response; False when the request already timed out."""
        with self._lock:
            if self._state == "expired":
                return False
            self._state = "finished"
            return True

    def expire(self) -> bool:
        """Mark the request as timed out; False when its result was already claimed."""
        with self._lock:
            if self._state == "finished":
                return False
            self._state = "expired"
            return True


@dataclass(frozen=True)
class _Scored:
    """The outputs of one request and what the prediction log needs of its inputs.

    Attributes:
        enforced: The model's input: an enforced frame, or enforced arrays.
        extras: The ignored columns the client sent, by name. A callable
            builds them, because only the prediction log reads them.
        outputs: Output name to its values.
        ignored: Names of the columns that the signature does not declare.
    """

    enforced: pd.DataFrame | Mapping[str, Any]
    extras: Callable[[], Mapping[str, Any]]
    outputs: dict[str, np.ndarray]
    ignored: list[str]

    def logged_inputs(self) -> pd.DataFrame | dict[str, Any]:
        """Return the enforced inputs and the ignored columns, as the log stores them."""
        extras = self.extras() if self.ignored else {}
        if not isinstance(self.enforced, pd.DataFrame):
            return {**self.enforced, **extras}
        inputs = self.enforced.reset_index(drop=True)
        if not extras:
            return inputs
        extra_frame = pd.DataFrame(dict(extras), index=inputs.index)
        return pd.concat([inputs, extra_frame], axis=1)


class Scorer:
    """Score request bodies for one loaded model."""

    def __init__(
        self,
        model: ServedModel,
        prediction_logger: PredictionLogger | None,
        metrics: ServingMetrics,
    ) -> None:
        self.model = model
        self._prediction_logger = prediction_logger
        self._metrics = metrics
        self._scores_arrays = bool(getattr(model, "scores_arrays", False))

    def score_predict(self, call: Call) -> Response | None:
        """Return the response to a ``POST /predict`` call, or None after a timeout."""
        return self._score(call, with_probabilities=True)

    def score_invocations(self, call: Call) -> Response | None:
        """Return the response to a ``POST /invocations`` call, or None after a timeout."""
        return self._score(call, with_probabilities=False)

    def _score(self, call: Call, *, with_probabilities: bool) -> Response | None:
        try:
            parsed = self._parse(call, with_probabilities)
        except UnsupportedMediaTypeError as exc:
            return self._reject(call, 415, exc)
        except EmptyBatchError as exc:
            return self._reject(call, 422, exc)
        except SchemaError as exc:
            return self._reject(call, 400, exc)
        try:
            scored = self._run_model(parsed, with_probabilities)
        except SchemaError as exc:
            return self._reject(call, 422, exc)
        except Exception as exc:
            cause = _non_finite_cause(parsed, self.model.signature.input_names, exc)
            if cause is not None:
                return self._reject(call, 422, cause)
            return self._fail(call)
        if not call.finish():
            return None
        predictions = scored.outputs["prediction"]
        self._metrics.observe_predictions(call.route, predictions, self.model.signature)
        latency_ms = (time.perf_counter() - call.started) * 1000
        self._log(call.request_id, scored, latency_ms)
        content = self._content(call.request_id, scored, with_probabilities)
        return json_response(content, 200, call.request_id)

    def _parse(
        self, call: Call, with_probabilities: bool
    ) -> ParsedColumns | pd.DataFrame:
        signature = self.model.signature
        if with_probabilities:
            parsed = parse_predict_columns(call.body, call.content_type)
        elif is_csv(call.content_type):
            return parse_invocations(call.body, call.content_type, signature=signature)
        else:
            parsed = parse_invocations_columns(
                call.body, call.content_type, signature=signature
            )
        # Row labels from an "index" appear in error messages, which the
        # array path does not carry, so such bodies become a frame.
        return parsed if parsed.index is None else parsed.to_frame()

    def _run_model(
        self, parsed: ParsedColumns | pd.DataFrame, with_probabilities: bool
    ) -> _Scored:
        signature = self.model.signature
        if isinstance(parsed, pd.DataFrame):
            frame = enforce(signature, parsed)
            outputs = self._predict_frame(frame, with_probabilities)
            ignored = extra_columns(signature, parsed)
            return _Scored(frame, _frame_extras(parsed, ignored), outputs, ignored)
        columns = parsed.columns
        ignored = extra_columns(signature, columns)
        if not self._scores_arrays:
            frame = enforce_json_columns(signature, columns, parsed.rows)
            outputs = self._predict_frame(frame, with_probabilities)
            return _Scored(frame, _json_extras(columns, ignored), outputs, ignored)
        arrays = enforce(signature, columns, arrays=True)
        predict_arrays: Callable[..., Any] = self.model.predict_arrays  # type: ignore[attr-defined]
        predictions, probabilities = predict_arrays(
            arrays, with_probabilities=with_probabilities
        )
        outputs = {"prediction": np.asarray(predictions)}
        if probabilities is not None:
            outputs["probability"] = _reported_probabilities(probabilities)

        def raw_extras() -> dict[str, Any]:
            return {name: columns[name] for name in ignored}

        return _Scored(dict(arrays), raw_extras, outputs, ignored)

    def _predict_frame(
        self, frame: pd.DataFrame, with_probabilities: bool
    ) -> dict[str, np.ndarray]:
        if not with_probabilities:
            return {"prediction": np.asarray(self.model.predict(frame))}
        both = getattr(self.model, "predict_with_proba", None)
        if both is None:
            predictions = self.model.predict(frame)
            probabilities = self.model.predict_proba(frame)
        else:
            predictions, probabilities = both(frame)
        outputs = {"prediction": np.asarray(predictions)}
        if probabilities is not None:
            outputs["probability"] = _reported_probabilities(probabilities)
        return outputs

    def _content(
        self, request_id: str, scored: _Scored, with_probabilities: bool
    ) -> dict[str, Any]:
        outputs = scored.outputs
        content: dict[str, Any] = {"predictions": outputs["prediction"].tolist()}
        if with_probabilities:
            if "probability" in outputs:
                content["probabilities"] = outputs["probability"].tolist()
            content["request_id"] = request_id
            content["model_version"] = self.model.version
        if scored.ignored:
            content["ignored_columns"] = scored.ignored
        return content

    def _log(self, request_id: str, scored: _Scored, latency_ms: float) -> None:
        if self._prediction_logger is None:
            return
        try:
            self._prediction_logger.log(
                request_id, scored.logged_inputs(), scored.outputs, latency_ms
            )
        except (ServingError, DataError):
            logger.exception("failed to log predictions of request %s", request_id)

    def _reject(self, call: Call, status: int, exc: SchemaError) -> Response | None:
        if not call.finish():
            return None
        logger.info("rejected request %s with %d: %s", call.request_id, status, exc)
        return error_response(status, exc.message, exc.column, call.request_id)

    def _fail(self, call: Call) -> Response | None:
        logger.exception(
            "model %s failed to predict for request %s", self.model.uri, call.request_id
        )
        if not call.finish():
            return None
        message = (
            f"the model failed to predict; the server log has the details "
            f"under request id {call.request_id}"
        )
        return error_response(500, message, None, call.request_id)


def _frame_extras(
    raw: pd.DataFrame, ignored: list[str]
) -> Callable[[], dict[str, Any]]:
    def extras() -> dict[str, Any]:
        return {
            str(label): raw[label].array
            for label in raw.columns
            if str(label) in ignored
        }

    return extras


def _json_extras(
    columns: Mapping[str, list[Any]], ignored: list[str]
) -> Callable[[], dict[str, Any]]:
    """Type the ignored JSON columns as the frame of a JSON body would type them."""

    def extras() -> dict[str, Any]:
        return {name: json_values_array(columns[name]) for name in ignored}

    return extras


def _reported_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Return the positive-class column for two classes, else every column."""
    array = np.asarray(probabilities)
    if array.ndim == 2 and array.shape[1] == 2:
        return array[:, 1]
    return array


def _non_finite_cause(
    parsed: ParsedColumns | pd.DataFrame, names: list[str], error: Exception
) -> SchemaError | None:
    """Return a 422 error naming the first null or non-finite input, if there is one.

    The signature lets a float column hold nulls, but many models (most of
    scikit-learn's) refuse NaN and infinity. When such a model raises on a
    batch that has them, the client's value is the cause, not the server.
    """
    for name in names:
        values: Any
        if isinstance(parsed, pd.DataFrame):
            values = parsed[name].tolist() if name in parsed.columns else None
        else:
            values = parsed.columns.get(name)
        if values is None:
            continue
        for row, value in enumerate(values):
            if _is_not_finite(value):
                shown = "null" if value is None or pd.isna(value) else repr(value)
                return SchemaError(
                    f"column {name!r} row {row} is {shown}, and the model failed "
                    f"on this batch ({type(error).__name__}); it may not accept "
                    "missing or infinite values, so send a finite number",
                    column=name,
                )
    return None


def _is_not_finite(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return not np.isfinite(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
