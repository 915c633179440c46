"""Ground truth sent back for scored requests: parsed, queued and written to Parquet.

``POST /feedback`` takes one object or a list of objects with the keys
``request_id`` (required), ``label`` (required) and ``row`` (optional: the
position of the row in its request). :class:`FeedbackLogger` writes them in
batches to ``feedback-*.parquet`` files in the prediction log's folder, so
monitoring joins them to the predictions on ``request_id`` and ``row``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from tether.errors import SchemaError
from tether.serving.parquet_batches import ParquetBatchWriter, read_parquet_folder

FEEDBACK_COLUMNS = (
    "request_id",
    "row",
    "label",
    "received_at",
    "model_uri",
    "model_version",
)
"""The columns of every feedback file."""

FILE_PREFIX = "feedback"
FEEDBACK_KEYS = ("request_id", "label", "row")
FEEDBACK_FORMAT = (
    '{"request_id": "...", "label": value} or a list of such objects; '
    '"row" (the position of the row in its request) is optional'
)

# The request ids that the server accepts from clients and generates.
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class FeedbackError(SchemaError):
    """A feedback body that is valid JSON but not a list of feedback rows."""


@dataclass(frozen=True)
class FeedbackRow:
    """The true label of one scored row, or of every row of a one-row request."""

    request_id: str
    label: Any
    row: int | None = None


def parse_feedback(body: bytes) -> list[FeedbackRow]:
    """Parse a ``POST /feedback`` body.

    Raises:
        SchemaError: If the body is not valid JSON.
        FeedbackError: If it is valid JSON but not one feedback object or a
            non-empty list of them. Examples are an object with an unknown
            key, without ``request_id`` or ``label``, or with a label that is
            not a number, a string or a boolean.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(
            f"request body is not valid JSON ({exc}); expected {FEEDBACK_FORMAT}"
        ) from exc
    items = document if isinstance(document, list) else [document]
    if not items:
        raise FeedbackError(
            f"feedback list is empty; send at least one object such as {FEEDBACK_FORMAT}"
        )
    return [_feedback_row(item, position) for position, item in enumerate(items)]


def _feedback_row(item: Any, position: int) -> FeedbackRow:
    where = f"feedback item {position}"

    if not isinstance(item, dict):
        raise FeedbackError(
            f"{where} is a JSON {type(item).__name__}, not an object; "
            f"expected {FEEDBACK_FORMAT}"
        )
    unknown = sorted(set(item) - set(FEEDBACK_KEYS))
    if unknown:
        listed = ", ".join(repr(key) for key in unknown)
        raise FeedbackError(
            f"{where} has unknown keys {listed}; send only 'request_id', "
            "'label' and optionally 'row'"
        )

    request_id = item.get("request_id")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        problem = (
            "has no 'request_id'"
            if request_id is None
            else f"has an invalid 'request_id' {request_id!r}"
        )
        raise FeedbackError(
            f"{where} {problem}; send the request id of the scored request, "
            "1 to 128 visible ASCII characters as returned in X-Request-ID"
        )
    if "label" not in item:
        raise FeedbackError(f"{where} has no 'label'; send the true value of the row")
    if item["label"] is None:
        raise FeedbackError(
            f"{where} has a null 'label'; send the true value of the row, or no "
            "feedback for it until the value is known"
        )

    label = item["label"]
    if not isinstance(label, str | int | float | bool):
        raise FeedbackError(
            f"{where} has a 'label' of JSON type {type(label).__name__}; send a "
            "number, a string or a boolean"
        )

    row = item.get("row")
    if row is not None and (
        not isinstance(row, int) or isinstance(row, bool) or row < 0
    ):
        raise FeedbackError(
            f"{where} has an invalid 'row' {row!r}; send the row's position in "
            "its request, a whole number from 0"
        )
    return FeedbackRow(request_id=request_id, label=label, row=row)


@dataclass(frozen=True)
class _Entry:
    rows: list[FeedbackRow]
    received_at: datetime


class FeedbackLogger(ParquetBatchWriter[_Entry]):
    """Queue feedback rows and write them to Parquet files on a daemon thread.

    It writes like :class:`~tether.serving.prediction_log.PredictionLogger`:
    a file per ``batch_rows`` rows or per ``flush_interval`` seconds, under a
    temporary name first, named ``feedback-<UTC time>-<pid>-<sequence>.parquet``.
    Labels are stored as sent, and a batch that mixes label types stores them
    as text.

    Args:
        directory: Folder for the files, normally the prediction log's folder.
        model_uri: URI of the served model, stored in every row.
        model_version: Version of the served model, stored in every row.
        batch_rows: Number of queued rows that triggers a write.
        flush_interval: Seconds between writes of a partly filled batch.
        on_flush: Called as ``on_flush(path, rows)`` after each file is written.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        model_uri: str,
        model_version: str | None,
        batch_rows: int = 5000,
        flush_interval: float = 2.0,
        on_flush: Callable[[Path, int], None] | None = None,
    ) -> None:
        self.model_uri = model_uri
        self.model_version = model_version
        super().__init__(
            directory,
            prefix=FILE_PREFIX,
            batch_rows=batch_rows,
            flush_interval=flush_interval,
            on_flush=on_flush,
        )

    def __enter__(self) -> FeedbackLogger:
        return self

    def log(self, rows: Sequence[FeedbackRow]) -> None:
        """Queue feedback rows without waiting for disk I/O.

        Raises:
            ServingError: If the logger is closed.
        """
        self._enqueue(_Entry(list(rows), datetime.now(UTC)), len(rows))

    def _frame(self, entries: Sequence[_Entry]) -> pd.DataFrame:
        rows = [(row, entry.received_at) for entry in entries for row in entry.rows]
        return pd.DataFrame(
            {
                "request_id": [row.request_id for row, _ in rows],
                "row": pd.array([row.row for row, _ in rows], dtype="Int64"),
                "label": [_encode_label(row.label) for row, _ in rows],
                "received_at": pd.DatetimeIndex([received for _, received in rows]),
                "model_uri": [self.model_uri] * len(rows),
                "model_version": [self.model_version] * len(rows),
            }
        )


def read_feedback(directory: str | Path) -> pd.DataFrame:
    """Read every feedback file in a folder, oldest first.

    Returns:
        One frame with the :data:`FEEDBACK_COLUMNS`, empty when the folder has
        no feedback files or is missing.
    """
    frames = read_parquet_folder(directory, FILE_PREFIX)
    if not frames:
        return pd.DataFrame(columns=list(FEEDBACK_COLUMNS))
    frame = pd.concat(frames, ignore_index=True)
    frame["label"] = pd.Series(
        [_decode_label(value) for value in frame["label"]],
        dtype=object,
        index=frame.index,
    )
    return frame


def _encode_label(label: Any) -> str:
    """Return a label as JSON text, so one file keeps labels of different types apart."""
    return orjson.dumps(label).decode()


def _decode_label(value: Any) -> Any:
    """Return a stored label as the client sent it (JSON text; raw values of older files)."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
