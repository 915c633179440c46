"""Request bodies of the scoring server, parsed into DataFrames.

``POST /predict`` takes Tether's JSON formats and ``POST /invocations`` takes
MLflow's scoring formats, so MLflow clients work unchanged. JSON is parsed
with orjson, and each column keeps the JSON type of its values: integers stay
integers, floats stay floats, strings stay strings and ``null`` becomes a
missing value. CSV cells are typed as JSON would type the same text. Type
conversion is left to :func:`tether.models.signature.enforce`, so every
format is checked by the same rules. A body that cannot be read as one of the
formats raises :class:`~tether.errors.SchemaError` with a one-line message:
:class:`UnsupportedMediaTypeError` for a Content-Type that the route does not
read, and :class:`EmptyBatchError` for a body with no rows.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pandas.api import types as ptypes

from tether.errors import SchemaError
from tether.models.signature import ColumnSpec, Signature
from tether.models.signature_arrays import json_values_array

PREDICT_FORMATS = (
    '{"records": [{"column": value, ...}, ...]} or '
    '{"columns": ["column", ...], "data": [[value, ...], ...]}'
)
INVOCATIONS_FORMATS = (
    'a JSON object with one of the keys "dataframe_split", "dataframe_records", '
    '"instances" or "inputs", or CSV with a header row (Content-Type: text/csv)'
)

_SCALARS = (str, int, float, bool, type(None))


class UnsupportedMediaTypeError(SchemaError):
    """The request's Content-Type is not one that the route reads."""


class EmptyBatchError(SchemaError):
    """The body has one of the accepted shapes but no rows."""


@dataclass(frozen=True)
class ParsedColumns:
    """A JSON body as one list of values per column, before any frame is built.

    Attributes:
        columns: Column name to its values, one per row, as JSON typed them.
        rows: Number of rows.
        index: Row labels from a ``dataframe_split`` body's ``index``, or None.
    """

    columns: dict[str, list[Any]]
    rows: int
    index: list[Any] | None = None

    def to_frame(self) -> pd.DataFrame:
        """Build the frame that keeps the JSON type of each column."""
        return _build_frame(self.columns, self.rows, self.index)


def is_csv(content_type: str | None) -> bool:
    """Return whether a Content-Type header names CSV."""
    return _media_type(content_type) == "text/csv"


# The cell texts that pandas.read_csv reads as numbers and booleans by default.
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(
    r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?inf(inity)?",
    re.IGNORECASE,
)
_BOOLEAN_TEXT = {
    "True": True,
    "TRUE": True,
    "true": True,
    "False": False,
    "FALSE": False,
    "false": False,
}


def parse_predict(body: bytes, content_type: str | None) -> pd.DataFrame:
    """Parse a ``POST /predict`` body into a frame.

    Accepted bodies are ``{"records": [{...}, ...]}`` and
    ``{"columns": [...], "data": [[...], ...]}``.

    Args:
        body: Raw request body.
        content_type: The request's Content-Type header. A missing header,
            ``application/json`` and any ``+json`` type are read as JSON.

    Raises:
        UnsupportedMediaTypeError: If the Content-Type is not JSON.
        EmptyBatchError: If the body has no rows.
        SchemaError: If the body is not one of the accepted formats.
    """
    return parse_predict_columns(body, content_type).to_frame()


def parse_predict_columns(body: bytes, content_type: str | None) -> ParsedColumns:
    """Parse a ``POST /predict`` body into one list of values per column.

    Takes the same bodies and raises the same errors as :func:`parse_predict`.
    """
    require_json(content_type, "application/json")
    document = _load_object(body, PREDICT_FORMATS)
    keys = set(document)
    if keys == {"records"}:
        return _columns_from_records(document["records"], "records")
    if keys == {"columns", "data"}:
        return _columns_from_split(document, "request body")
    raise SchemaError(
        f"request body has keys {_list_keys(keys)}; expected {PREDICT_FORMATS}"
    )


def parse_invocations(
    body: bytes, content_type: str | None, *, signature: Signature | None = None
) -> pd.DataFrame:
    """Parse a ``POST /invocations`` body (MLflow's formats) into a frame.

    JSON bodies are objects with exactly one of these keys:

    - ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}``, with
      an optional ``"index"`` list of row labels.
    - ``dataframe_records``: a list of objects.
    - ``instances``: a list of objects or a list of lists.
    - ``inputs``: an object of column lists, an object of single values
      (one row), a list of objects or a list of lists.

    With ``Content-Type: text/csv`` the body is CSV with a header row. Each
    cell gets the type that JSON gives the same text (integer, float,
    boolean or string), and an empty cell or one of pandas' missing-value
    markers (``NA``, ``null``, ...) is null.

    Args:
        body: Raw request body.
        content_type: The request's Content-Type header.
        signature: The served model's signature, if known. CSV columns the
            signature declares as ``string``, or as ``category`` with text
            levels, are read as text, because CSV cannot mark ``"123"`` as
            text. Rows sent as lists take their
            column names from the signature's inputs, in order, when the
            lengths match, and are named ``"0"``, ``"1"``, ... otherwise.

    Raises:
        SchemaError: If the body is not one of the accepted formats or has
            no rows.
    """
    if is_csv(content_type):
        return _frame_from_csv(_as_utf8(body, content_type), signature)
    return parse_invocations_columns(body, content_type, signature=signature).to_frame()


def parse_invocations_columns(
    body: bytes, content_type: str | None, *, signature: Signature | None = None
) -> ParsedColumns:
    """Parse a JSON ``POST /invocations`` body into one list of values per column.

    Takes the JSON bodies of :func:`parse_invocations` and raises the same
    errors. CSV is not read here, because pandas reads it into a frame.

    Raises:
        UnsupportedMediaTypeError: If the Content-Type is not JSON.
    """
    require_json(content_type, "application/json or text/csv")
    document = _load_object(body, INVOCATIONS_FORMATS)
    _drop_params(document)
    if len(document) != 1:
        raise SchemaError(
            f"request body has keys {_list_keys(set(document))}; "
            f"expected {INVOCATIONS_FORMATS}"
        )
    key, value = next(iter(document.items()))
    names = signature.input_names if signature is not None else None
    if key == "dataframe_split":
        return _columns_from_split(_require_object(value, key), key)
    if key == "dataframe_records":
        return _columns_from_records(value, key)
    if key == "instances":
        return _columns_from_rows(value, key, names)
    if key == "inputs":
        return _columns_from_inputs(value, names)
    raise SchemaError(
        f"unexpected key {key!r} in request body; expected {INVOCATIONS_FORMATS}"
    )


def _media_type(content_type: str | None) -> str:
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def require_json(content_type: str | None, accepted: str) -> None:
    """Raise :class:`UnsupportedMediaTypeError` unless the Content-Type is JSON.

    A missing header, ``application/json`` and any ``+json`` type are JSON.
    """
    media_type = _media_type(content_type)
    if media_type in ("", "application/json") or media_type.endswith("+json"):
        return
    raise UnsupportedMediaTypeError(
        f"unsupported content type {content_type!r}; send the header "
        f"'Content-Type: {accepted}'"
    )


def _load_object(body: bytes, formats: str) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in str(exc):
            raise SchemaError(
                "request body is not valid UTF-8; encode JSON bodies in UTF-8"
            ) from exc
        raise SchemaError(
            f"request body is not valid JSON ({exc}); expected {formats}"
        ) from exc
    if not isinstance(document, dict):
        raise SchemaError(
            f"request body is a JSON {_json_type(document)}, not an object; "
            f"expected {formats}"
        )
    return document


def _require_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(
            f"{where!r} is a JSON {_json_type(value)}; expected an object such as "
            '{"columns": ["a", "b"], "data": [[1, 2]]}'
        )
    return value


def _columns_from_records(records: Any, where: str) -> ParsedColumns:
    _require_rows(records, where, "objects")
    columns: dict[str, list[Any]] = {}
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise SchemaError(
                f"{where!r} item {position} is a JSON {_json_type(record)}; "
                "expected an object that maps column names to values"
            )
        for name in record:
            if name not in columns:  # a column first seen here: earlier rows lack it
                columns[name] = [None] * position
        for name, values in columns.items():
            values.append(record.get(name))
    return ParsedColumns(columns, len(records))


def _columns_from_split(document: Mapping[str, Any], where: str) -> ParsedColumns:
    unknown = set(document) - {"columns", "data", "index"}
    if unknown or "columns" not in document or "data" not in document:
        raise SchemaError(
            f"{where} has keys {_list_keys(set(document))}; expected "
            '"columns", "data" and optionally "index", such as '
            '{"columns": ["a", "b"], "data": [[1, 2]]}'
        )
    names = _column_names(document["columns"])
    rows = document["data"]
    _require_rows(rows, "data", "lists")
    index = _row_index(document.get("index"), len(rows))
    return ParsedColumns(_transpose(rows, names), len(rows), index)


def _columns_from_rows(
    rows: Any, where: str, signature_names: list[str] | None
) -> ParsedColumns:
    _require_rows(rows, where, "objects or lists")
    if all(isinstance(row, dict) for row in rows):
        return _columns_from_records(rows, where)
    if not all(isinstance(row, list) for row in rows):
        raise SchemaError(
            f"{where!r} mixes JSON types; send a list of objects or a list of lists"
        )
    width = len(rows[0])
    names = [str(i) for i in range(width)]
    if signature_names is not None and len(signature_names) == width:
        names = list(signature_names)
    return ParsedColumns(_transpose(rows, names), len(rows))


def _columns_from_inputs(
    value: Any, signature_names: list[str] | None
) -> ParsedColumns:
    if isinstance(value, list):
        return _columns_from_rows(value, "inputs", signature_names)
    inputs = _require_object(value, "inputs")
    if all(isinstance(item, _SCALARS) for item in inputs.values()):
        return ParsedColumns({name: [item] for name, item in inputs.items()}, 1)
    if not all(isinstance(item, list) for item in inputs.values()):
        raise SchemaError(
            "'inputs' mixes lists and single values; send an object of "
            'equal-length column lists such as {"a": [1, 2], "b": [3, 4]}'
        )
    lengths = {len(item) for item in inputs.values()}
    if lengths == {0}:
        raise EmptyBatchError("'inputs' columns are empty; send at least one row")
    if len(lengths) != 1:
        raise SchemaError(
            f"'inputs' columns have lengths {sorted(lengths)}; send non-empty "
            "column lists that all have the same length"
        )
    return ParsedColumns(dict(inputs), lengths.pop())


def _as_utf8(body: bytes, content_type: str | None) -> bytes:
    """Return a CSV body as UTF-8, decoding it with the charset the header names."""
    import codecs

    charset = "utf-8"
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    try:
        codecs.lookup(charset)
    except LookupError:
        raise SchemaError(
            f"unknown charset {charset!r} in the Content-Type; send UTF-8, or name "
            "a charset Python knows, such as latin-1"
        ) from None
    if codecs.lookup(charset).name == "utf-8":
        return body
    try:
        return body.decode(charset).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(
            f"the CSV body is not valid {charset} ({exc.reason} at byte {exc.start}); "
            "send it in the charset the Content-Type names"
        ) from exc


def _frame_from_csv(body: bytes, signature: Signature | None) -> pd.DataFrame:
    _check_csv_shape(body)
    text_columns = _text_columns(signature)
    frame = _read_csv(body, dict.fromkeys(text_columns, "str"))
    if len(frame.index) == 0:
        raise EmptyBatchError(
            "CSV body has no data rows; send a header row and at least one row"
        )
    return _retype_like_json(body, frame, text_columns)


def _check_csv_shape(body: bytes) -> None:
    """Reject a header that names a column twice, and rows shorter than the header.

    pandas would rename a second ``code`` to ``code.1`` and fill a short row
    with nulls, where a JSON body with the same content is rejected.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return  # pandas reports the encoding error itself
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error:
        return  # malformed quoting: pandas reports it with its own message
    if not rows or not rows[0]:
        return
    header = rows[0]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise SchemaError(
                f"duplicate column {name!r} in the CSV header; send each column once",
                column=name,
            )
        seen.add(name)
    # A longer row is left to pandas, which rejects it unless every extra
    # field comes from a delimiter at the end of the line.
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) < len(header):
            raise SchemaError(
                f"CSV row {number} (the header is row 1) has {len(row)} fields but "
                f"the header has {len(header)}; send one value per column in every "
                "row, empty for a missing value"
            )


def _text_columns(signature: Signature | None) -> set[str]:
    """Return the inputs whose CSV cells are text even when they look like numbers."""
    if signature is None:
        return set()
    names = set()
    for spec in signature.inputs:
        if not isinstance(spec, ColumnSpec):
            continue
        levels = spec.levels or ()
        text_levels = all(isinstance(level, str) for level in levels)
        if spec.type == "string" or (spec.type == "category" and text_levels):
            names.add(spec.name)
    return names


def _read_csv(body: bytes, dtype: Mapping[str, str]) -> pd.DataFrame:
    try:
        # index_col=False keeps an extra field from becoming the index. pandas
        # then drops an extra field of the first data row with only a warning,
        # which is raised here as an error so that no value is lost silently.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(io.BytesIO(body), dtype=dtype or None, index_col=False)
    except (ValueError, pd.errors.ParserWarning) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchemaError(
            f"CSV body could not be parsed ({reason}); send a header row "
            "followed by comma-separated rows"
        ) from exc


def _retype_like_json(
    body: bytes, frame: pd.DataFrame, text_columns: set[str]
) -> pd.DataFrame:
    """Type the cells of some columns one by one, as JSON types each value.

    pandas types a CSV column as a whole, so a column of ``1`` and ``abc``
    becomes text, and integers with an empty cell become float64, which
    rounds integers above 2**53. Those columns are read again as text and
    each cell is typed on its own, so that a CSV body and a JSON body of the
    same rows give the same frame.
    """
    positions = [
        position
        for position, label in enumerate(frame.columns)
        if str(label) not in text_columns and _may_differ_from_json(frame[label])
    ]
    if not positions:
        return frame
    texts = pd.read_csv(io.BytesIO(body), dtype=str, index_col=False, usecols=positions)
    retyped = frame.copy()
    for position in positions:
        label = frame.columns[position]
        cells = texts[label].to_numpy(dtype=object)
        retyped[label] = json_values_array([_csv_value(cell) for cell in cells])
    return retyped


def _may_differ_from_json(column: pd.Series) -> bool:
    """Return whether pandas' type for the column can differ from JSON's."""
    if ptypes.is_float_dtype(column.dtype):
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        present = numbers[~np.isnan(numbers)]
        return present.size < numbers.size and bool(
            np.all(present == np.floor(present))
        )
    return not (
        ptypes.is_integer_dtype(column.dtype) or ptypes.is_bool_dtype(column.dtype)
    )


def _csv_value(cell: Any) -> Any:
    """Return a CSV cell as the JSON value of the same text, like pandas reads it."""
    if not isinstance(cell, str):
        return None  # pandas' missing-value markers are already NaN here
    text = cell.strip()
    if _INTEGER_TEXT.fullmatch(text):
        return int(text)
    if _FLOAT_TEXT.fullmatch(text):
        return float(text)
    return _BOOLEAN_TEXT.get(text, cell)


def _require_rows(rows: Any, where: str, items: str) -> None:
    if not isinstance(rows, list):
        raise SchemaError(
            f"{where!r} is a JSON {_json_type(rows)}; expected a list of {items}"
        )
    if not rows:
        raise EmptyBatchError(f"{where!r} is empty; send at least one row")


def _column_names(columns: Any) -> list[str]:
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise SchemaError(
            f"'columns' must be a list of strings, got {_short(columns)}; "
            'send names such as ["a", "b"]'
        )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise SchemaError(f"duplicate column {name!r} in 'columns'; send each once")
        seen.add(name)
    return columns


def _row_index(index: Any, row_count: int) -> list[Any] | None:
    if index is None:
        return None
    if not isinstance(index, list) or len(index) != row_count:
        raise SchemaError(
            f"'index' must be a list with one label per row ({row_count}), "
            f"got {_short(index)}"
        )
    if not all(isinstance(label, str | int) for label in index):
        raise SchemaError("'index' labels must be strings or integers")
    return index


def _transpose(rows: list[Any], names: list[str]) -> dict[str, list[Any]]:
    for position, row in enumerate(rows):
        if not isinstance(row, list):
            raise SchemaError(
                f"row {position} is a JSON {_json_type(row)}; expected a list "
                f"of {len(names)} values"
            )
        if len(row) != len(names):
            raise SchemaError(
                f"row {position} has {len(row)} values but there are "
                f"{len(names)} columns {names!r}; send one value per column"
            )
    return {
        name: list(values)
        for name, values in zip(names, zip(*rows, strict=True), strict=True)
    }


def _build_frame(
    columns: Mapping[str, Sequence[Any]], row_count: int, index: list[Any] | None = None
) -> pd.DataFrame:
    arrays = {name: json_values_array(values) for name, values in columns.items()}
    row_index = pd.Index(index) if index is not None else pd.RangeIndex(row_count)
    return pd.DataFrame(arrays, index=row_index)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "number")


def _drop_params(document: dict[str, Any]) -> None:
    """Remove MLflow's ``params`` key when it is empty, and reject it otherwise.

    MLflow passes ``params`` to a pyfunc model's ``predict``; the models this
    server loads take no inference parameters, so any given would be ignored.
    """
    if "params" not in document:
        return
    params = document.pop("params")
    if params in (None, {}):
        return
    if isinstance(params, dict):
        named = ", ".join(repr(key) for key in sorted(params))
        raise SchemaError(
            f"the body's 'params' ({named}) would be ignored: this server's models "
            "take no inference parameters; remove 'params' or send it empty"
        )
    raise SchemaError(
        f"'params' must be a JSON object, got {type(params).__name__}; remove it "
        "or send an object"
    )


def _list_keys(keys: set[str]) -> str:
    if not keys:
        return "(none)"
    return ", ".join(repr(key) for key in sorted(keys))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
