"""Prometheus metrics of the scoring server, through prometheus-client.

Each app gets its own :class:`ServingMetrics`. In one process the metrics live
in the app's own registry, so several apps (as in tests) do not collide. When
``PROMETHEUS_MULTIPROC_DIR`` was set before prometheus-client was first
imported, as ``tether serve`` does for its workers, every worker writes its
values to files in that folder and ``GET /metrics`` on any worker merges the
files of all of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from tether.models.signature import ColumnSpec, Signature

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Upper bounds of the request latency histogram, in seconds."""

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000)
"""Upper bounds of the batch-size histogram, in rows."""

PREDICTION_BUCKETS = (
    -1e6, -1e4, -1e3, -100.0, -10.0, -1.0, -0.1, 0.0,
    0.1, 0.25, 0.5, 0.75, 1.0, 10.0, 100.0, 1e3, 1e4, 1e6,
)  # fmt: skip
"""Default upper bounds of the numeric prediction histogram.

The scale of a regression target is not known in advance, so the buckets
cover many orders of magnitude, with finer steps between 0 and 1 for
probabilities and rates. Pass ``prediction_buckets`` to ``create_app`` to
fit a model's range. Negative predictions make the histogram's ``_sum``
decrease, so it is not a counter.
"""

MAX_CLASS_LABELS = 100
"""Distinct predicted classes counted by name; later ones count as ``other``."""

_NUMERIC_OUTPUT_TYPES = ("float",)
_CLASS_OUTPUT_TYPES = ("integer", "boolean", "string", "category")


def multiprocess_mode() -> bool:
    """Return whether metric values go to files shared by worker processes."""
    return (
        MULTIPROC_DIR_ENV in os.environ and values.ValueClass is not values.MutexValue
    )


class ServingMetrics:
    """Request, batch and prediction metrics of one scoring app.

    Metric names:

    - ``tether_http_requests_total`` (counter; labels ``route``, ``method``,
      ``status``): every request that got a response. ``route`` is the route's path, or
      ``other`` for unknown paths.
    - ``tether_http_request_duration_seconds`` (histogram; label ``route``).
    - ``tether_batch_rows`` (histogram; label ``route``): rows per scored
      request.
    - ``tether_prediction_value`` (histogram): each numeric prediction, for
      models whose prediction is a float.
    - ``tether_predictions_total`` (counter; label ``class``): each
      predicted class, for models whose prediction is a class.
    - ``tether_feedback_rows_total`` (counter): ground-truth rows received.
    """

    def __init__(
        self, prediction_buckets: Sequence[float] = PREDICTION_BUCKETS
    ) -> None:
        self.multiprocess = multiprocess_mode()
        # In multi-process mode the values live in files, and each scrape
        # reads them into a fresh registry, so the metrics register nowhere.
        self._registry = None if self.multiprocess else CollectorRegistry()
        registry = self._registry

        self.requests = Counter(
            "tether_http_requests",
            "HTTP requests answered, by route, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tether_http_request_duration_seconds",
            "Time from receiving a request to sending its response, in seconds.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

        self.batch_rows = Histogram(
            "tether_batch_rows",
            "Rows per scored request.",
            ["route"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.prediction_value = Histogram(
            "tether_prediction_value",
            "Numeric predictions, one observation per row.",
            buckets=tuple(prediction_buckets),
            registry=registry,
        )
        self.predicted_class = Counter(
            "tether_predictions",
            "Predicted classes, one count per row.",
            ["class"],
            registry=registry,
        )
        self.feedback_rows = Counter(
            "tether_feedback_rows",
            "Ground-truth rows received on POST /feedback.",
            registry=registry,
        )
        self._classes: set[str] = set()

    def observe_request(
        self, route: str, method: str, status: int, seconds: float
    ) -> None:
        """Count one request that got a response, and its latency."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_predictions(
        self, route: str, predictions: np.ndarray, signature: Signature
    ) -> None:
        """Record the batch size and the distribution of one request's predictions."""
        self.batch_rows.labels(route).observe(len(predictions))
        if predictions.ndim != 1 or len(predictions) == 0:
            return
        if _is_numeric(predictions, signature):
            numbers = np.asarray(predictions, dtype=np.float64)
            observe_many(self.prediction_value, numbers[np.isfinite(numbers)])
            return
        labels, counts = np.unique(predictions.astype(str), return_counts=True)
        for label, count in zip(labels.tolist(), counts.tolist(), strict=True):
            self.predicted_class.labels(self._class_label(label)).inc(count)

    def _class_label(self, label: str) -> str:
        # A model that predicts free text would otherwise create one time
        # series per distinct value.
        if label in self._classes:
            return label
        if len(self._classes) < MAX_CLASS_LABELS:
            self._classes.add(label)
            return label
        return "other"

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        if self._registry is not None:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def observe_many(histogram: Histogram, numbers: np.ndarray) -> None:
    """Observe many values at once, with one increment per bucket.

    ``Histogram.observe`` takes one value per call, which costs seconds for
    100,000 rows in multi-process mode. This adds the same counts to the
    histogram's buckets and sum, which are internals of prometheus-client
    (checked on 0.26), and falls back to ``observe`` when they are missing.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for number in numbers.tolist():
            histogram.observe(number)
        return
    # observe() puts a value in the first bucket whose upper bound is >= it.
    positions = np.searchsorted(np.asarray(bounds, dtype=np.float64), numbers)
    indexes, counts = np.unique(positions, return_counts=True)
    for index, count in zip(indexes.tolist(), counts.tolist(), strict=True):
        buckets[index].inc(count)
    total.inc(float(numbers.sum()))


def _is_numeric(predictions: np.ndarray, signature: Signature) -> bool:
    """Return whether predictions are numbers to histogram rather than classes to count."""
    declared = [
        spec
        for spec in signature.outputs
        if isinstance(spec, ColumnSpec) and spec.name == "prediction"
    ]
    if declared and declared[0].type in _NUMERIC_OUTPUT_TYPES:
        return True
    if declared and declared[0].type in _CLASS_OUTPUT_TYPES:
        return False
    return predictions.dtype.kind == "f"
