"""Model signatures: the typed columns a model takes and returns.

A signature is inferred from an input example when a model is logged, stored
as JSON with the model version, and enforced on every request the scoring
server receives. The column types are ``integer``, ``float``, ``boolean``,
``string`` and ``datetime``. :func:`enforce` converts a frame to those types
when the conversion cannot change a value's meaning, and raises
:class:`~tether.errors.SchemaError` otherwise. ``docs/signatures.md`` lists
every accepted and rejected conversion.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from tether.errors import SchemaError

COLUMN_TYPES = ("integer", "float", "boolean", "string", "datetime")
"""The column types a signature can declare."""

# pandas' default string dtype from pandas 3 on. It marks missing values with
# NaN, the marker that scikit-learn's imputers and encoders treat as missing.
_STRING_DTYPE = pd.StringDtype(na_value=np.nan)
_INT64_MAX = np.iinfo(np.int64).max
_MAX_SHOWN_CHARS = 60

_HINTS = {
    "integer": "send whole numbers without quotes",
    "float": "send numbers without quotes",
    "boolean": "send true or false without quotes",
    "string": "send text in quotes",
    "datetime": "send ISO 8601 text such as '2013-01-01T05:00:00'",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One named, typed column of a signature.

    Attributes:
        name: Column name, as clients send it.
        type: One of ``COLUMN_TYPES``.
        nullable: Whether the column accepts nulls (``None`` or NaN).
    """

    name: str
    type: str
    nullable: bool

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SchemaError(
                f"invalid column name {self.name!r}; use a non-empty string",
                column=None,
            )
        if self.type not in COLUMN_TYPES:
            allowed = ", ".join(COLUMN_TYPES)
            raise SchemaError(
                f"column {self.name!r}: unknown type {self.type!r}; "
                f"use one of {allowed}",
                column=self.name,
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the column as a JSON-compatible dict."""
        return {"name": self.name, "type": self.type, "nullable": self.nullable}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnSpec:
        """Build a column from the dict that :meth:`to_dict` returns.

        Raises:
            SchemaError: If a key is missing or the type is unknown.
        """
        if not isinstance(d, Mapping):
            raise SchemaError(
                f"column entry {d!r} is not a mapping; each entry needs "
                "'name', 'type' and 'nullable'"
            )
        missing = [key for key in ("name", "type") if key not in d]
        if missing:
            raise SchemaError(
                f"column entry {dict(d)!r} has no {missing[0]!r} key; "
                "each entry needs 'name', 'type' and 'nullable'"
            )
        return cls(name=d["name"], type=d["type"], nullable=bool(d.get("nullable")))


@dataclass(frozen=True)
class Signature:
    """The input and output columns of a model.

    Attributes:
        inputs: Columns the model reads, in the order it reads them.
        outputs: Columns the model returns, such as ``prediction``.
    """

    inputs: list[ColumnSpec]
    outputs: list[ColumnSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_unique_names([spec.name for spec in self.inputs], "input")
        _check_unique_names([spec.name for spec in self.outputs], "output")

    @property
    def input_names(self) -> list[str]:
        """Input column names in signature order."""
        return [spec.name for spec in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """Return the signature as a JSON-compatible dict."""
        return {
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        """Build a signature from the dict that :meth:`to_dict` returns.

        Raises:
            SchemaError: If ``inputs`` is missing or an entry is invalid.
        """
        if "inputs" not in d:
            raise SchemaError(
                "signature has no 'inputs' key; expected "
                "{'inputs': [...], 'outputs': [...]}"
            )
        inputs = [ColumnSpec.from_dict(entry) for entry in d["inputs"]]
        outputs = [ColumnSpec.from_dict(entry) for entry in d.get("outputs", [])]
        return cls(inputs=inputs, outputs=outputs)

    def to_json(self) -> str:
        """Serialize the signature to a JSON string."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, s: str) -> Signature:
        """Parse a signature from the string that :meth:`to_json` returns.

        Raises:
            SchemaError: If the text is not valid JSON or not a signature.
        """
        try:
            data = json.loads(s)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"signature is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise SchemaError(
                f"signature JSON must be an object, got {type(data).__name__}"
            )
        return cls.from_dict(data)


def _check_unique_names(names: list[str], role: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SchemaError(
                f"duplicate {role} column {name!r}; give each column a unique name",
                column=name,
            )
        seen.add(name)


def infer_signature(
    inputs: pd.DataFrame | np.ndarray | Mapping[str, np.ndarray],
    outputs: Any = None,
) -> Signature:
    """Infer a signature from an input example and, optionally, its outputs.

    Column types come from the dtypes: numpy and pandas nullable integer,
    float and boolean dtypes, datetime dtypes, pandas string dtypes, and object
    columns whose non-null values all share one type. A column is nullable when
    the example has a null in it or when its type is float, because a float
    column can hold NaN and numeric models accept NaN as a missing value.

    Args:
        inputs: A frame, a mapping of column name to 1-D array, or an array.
            Array columns are named ``"0"``, ``"1"``, and so on.
        outputs: Model outputs: an array or Series becomes one ``prediction``
            column (a 2-D array becomes ``prediction_0``, ``prediction_1``, ...),
            and a frame or mapping keeps its column names. ``None`` declares
            no outputs.

    Raises:
        SchemaError: If a column is empty, mixes types or has an unsupported
            dtype.
    """
    frame = _as_frame(inputs)
    return Signature(inputs=_infer_columns(frame), outputs=_infer_outputs(outputs))


def _as_frame(data: pd.DataFrame | np.ndarray | Mapping[str, Any]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        return pd.DataFrame(dict(data))
    array = np.asarray(data)
    if array.dtype.names:
        return pd.DataFrame(array)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise SchemaError(
            f"cannot infer a signature from a {array.ndim}-D array; "
            "pass a 1-D or 2-D array or a DataFrame"
        )
    return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])


def _infer_columns(frame: pd.DataFrame) -> list[ColumnSpec]:
    specs = []
    for label in frame.columns:
        column = frame[label]
        column_type = _infer_type(str(label), column)
        nullable = bool(column.isna().any()) or column_type == "float"
        specs.append(ColumnSpec(str(label), column_type, nullable))
    return specs


def _infer_outputs(outputs: Any) -> list[ColumnSpec]:
    if outputs is None:
        return []
    if isinstance(outputs, pd.DataFrame | Mapping):
        return _infer_columns(_as_frame(outputs))
    if isinstance(outputs, pd.Series):
        outputs = outputs.to_numpy()
    array = np.asarray(outputs)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim == 1:
        return _infer_columns(pd.DataFrame({"prediction": array}))
    frame = _as_frame(array)
    frame.columns = [f"prediction_{label}" for label in frame.columns]
    return _infer_columns(frame)


def _infer_type(name: str, column: pd.Series) -> str:
    dtype_kind = _dtype_kind(column.dtype)
    if dtype_kind is not None:
        return dtype_kind
    present = column.dropna().to_numpy(dtype=object)
    kinds = {_kind_of_value(value) for value in present}
    if kinds == {"integer", "float"}:
        return "float"
    if len(kinds) == 1 and next(iter(kinds)) in COLUMN_TYPES:
        return next(iter(kinds))
    if not kinds:
        raise SchemaError(
            f"column {name!r}: cannot infer a type because every value is null; "
            "pass an example with at least one value in each column",
            column=name,
        )
    found = ", ".join(sorted(kinds))
    raise SchemaError(
        f"column {name!r}: cannot infer one type from values of types {found}; "
        "convert the column to a single type before logging the model",
        column=name,
    )


def _dtype_kind(dtype: Any) -> str | None:
    """Return the column type a dtype always holds, or None for object-like."""
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_integer_dtype(dtype):
        return "integer"
    if ptypes.is_float_dtype(dtype):
        return "float"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return None


def _kind_of_value(value: Any) -> str:
    """Return the column type of one non-null value, or its Python type name."""
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | np.integer):
        return "integer"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.date | np.datetime64):
        return "datetime"
    return type(value).__name__


def extra_columns(signature: Signature, frame: pd.DataFrame) -> list[str]:
    """Return the frame's columns that the signature does not declare.

    :func:`enforce` drops these columns from the model input. The scoring
    server reports them to the client and logs them with the prediction.
    """
    expected = set(signature.input_names)
    return [str(label) for label in frame.columns if str(label) not in expected]


def enforce(signature: Signature, frame: pd.DataFrame) -> pd.DataFrame:
    """Convert a frame to the signature's input columns and types.

    The result has exactly the signature's input columns, in signature order,
    with the frame's index. Extra columns are dropped (see
    :func:`extra_columns`). Conversions that keep every value's meaning are
    applied, such as integer to float, whole floats to integer and ISO 8601
    text to datetime. Anything else is rejected. ``None`` and NaN both count
    as null. The input frame is not modified.

    Args:
        signature: The model's signature.
        frame: Input rows, for example parsed from a request.

    Returns:
        A new frame with dtypes ``int64`` (``Int64`` when nulls are present),
        ``float64``, ``bool`` (``boolean`` when nulls are present), pandas'
        NaN-backed string dtype, or ``datetime64[ns]``.

    Raises:
        SchemaError: If a column is missing, a non-nullable column has a
            null, or a value cannot be converted safely. The message is one
            line that names the column, the value, the row and the fix.
    """
    by_name = _columns_by_name(frame)
    _check_required(signature, by_name)
    arrays = {
        spec.name: _convert_column(spec, frame[by_name[spec.name]])
        for spec in signature.inputs
    }
    return pd.DataFrame(arrays, index=frame.index)


def _columns_by_name(frame: pd.DataFrame) -> dict[str, Any]:
    by_name: dict[str, Any] = {}
    for label in frame.columns:
        name = str(label)
        if name in by_name:
            raise SchemaError(
                f"duplicate column {name!r} in the input; send each column once",
                column=name,
            )
        by_name[name] = label
    return by_name


def _check_required(signature: Signature, by_name: Mapping[str, Any]) -> None:
    missing = [name for name in signature.input_names if name not in by_name]
    if not missing:
        return
    noun = "column" if len(missing) == 1 else "columns"
    listed = ", ".join(repr(name) for name in missing)
    expected = ", ".join(repr(name) for name in signature.input_names)
    raise SchemaError(
        f"missing input {noun} {listed}; expected columns: {expected}; "
        "add the missing columns to the request",
        column=missing[0],
    )


def _convert_column(spec: ColumnSpec, column: pd.Series) -> Any:
    missing = column.isna().to_numpy(dtype=bool)
    if missing.any() and not spec.nullable:
        row = column.index[int(missing.argmax())]
        raise SchemaError(
            f"column {spec.name!r}: expected {spec.type}, got a missing or null "
            f"value at row {_show(row)}, but the column is not nullable; "
            "send a value in every row",
            column=spec.name,
        )
    return _CONVERTERS[spec.type](spec, column, missing)


def _to_integer(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"integer", "float"})
    has_nulls = bool(missing.any())
    if ptypes.is_integer_dtype(column.dtype):
        _check_int64_range(spec, column, missing)
        return column.astype("Int64" if has_nulls else "int64").array
    # NOTE: an object column of Python ints passes through float64 here, so
    # integers above 2**53 in such a column lose precision.
    numbers = column.to_numpy(dtype="float64", na_value=np.nan)
    _check_whole(spec, column, numbers, missing)
    if has_nulls:
        return pd.array(numbers, dtype="Int64")
    return numbers.astype(np.int64)


def _to_float(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"integer", "float"})
    return column.to_numpy(dtype="float64", na_value=np.nan)


def _to_boolean(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"boolean"})
    if missing.any():
        return column.astype("boolean").array
    return column.to_numpy(dtype=bool)


def _to_string(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"string"})
    values = column.to_numpy(dtype=object, copy=True)
    values[missing] = None
    return pd.array(values, dtype=_STRING_DTYPE)


def _to_datetime(spec: ColumnSpec, column: pd.Series, missing: np.ndarray) -> Any:
    _check_kinds(spec, column, missing, {"datetime", "string"})
    if ptypes.is_datetime64_any_dtype(column.dtype):
        parsed = column
        if getattr(column.dtype, "tz", None) is not None:
            parsed = column.dt.tz_convert("UTC")
    else:
        parsed = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
        unparsed = parsed.isna().to_numpy(dtype=bool) & ~missing
        if unparsed.any():
            _raise_mismatch(spec, column, int(unparsed.argmax()), "string")
    if getattr(parsed.dtype, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    try:
        return parsed.astype("datetime64[ns]").array
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as exc:
        raise SchemaError(
            f"column {spec.name!r}: a datetime is outside the supported range "
            f"1677-09-21 to 2262-04-11 ({exc}); send dates inside that range",
            column=spec.name,
        ) from exc


_CONVERTERS: dict[str, Callable[[ColumnSpec, pd.Series, np.ndarray], Any]] = {
    "integer": _to_integer,
    "float": _to_float,
    "boolean": _to_boolean,
    "string": _to_string,
    "datetime": _to_datetime,
}


def _check_kinds(
    spec: ColumnSpec, column: pd.Series, missing: np.ndarray, allowed: set[str]
) -> None:
    """Raise on the first non-null value whose type is not in ``allowed``."""
    dtype_kind = _dtype_kind(column.dtype)
    if dtype_kind in allowed:
        return
    if dtype_kind is not None:
        present = np.flatnonzero(~missing)
        if present.size:
            _raise_mismatch(spec, column, int(present[0]), dtype_kind)
        return
    values = column.to_numpy(dtype=object)
    for position in np.flatnonzero(~missing):
        kind = _kind_of_value(values[position])
        if kind not in allowed:
            _raise_mismatch(spec, column, int(position), kind)


def _check_whole(
    spec: ColumnSpec, column: pd.Series, numbers: np.ndarray, missing: np.ndarray
) -> None:
    with np.errstate(invalid="ignore"):
        fits = (
            np.isfinite(numbers)
            & (numbers == np.floor(numbers))
            & (np.abs(numbers) < 2.0**63)
        )
    bad = ~fits & ~missing
    if not bad.any():
        return
    position = int(bad.argmax())
    row = column.index[position]
    raise SchemaError(
        f"column {spec.name!r}: expected integer, got float value "
        f"{_show(numbers[position])} at row {_show(row)}; "
        "send whole numbers that fit in 64 bits",
        column=spec.name,
    )


def _check_int64_range(
    spec: ColumnSpec, column: pd.Series, missing: np.ndarray
) -> None:
    if column.dtype.kind != "u" and str(column.dtype) != "UInt64":
        return
    too_large = (column > _INT64_MAX).to_numpy(dtype=bool, na_value=False) & ~missing
    if too_large.any():
        position = int(too_large.argmax())
        raise SchemaError(
            f"column {spec.name!r}: integer value {_show(column.iloc[position])} at "
            f"row {_show(column.index[position])} does not fit in a signed 64-bit "
            f"integer; send values up to {_INT64_MAX}",
            column=spec.name,
        )


def _raise_mismatch(
    spec: ColumnSpec, column: pd.Series, position: int, kind: str
) -> None:
    value = column.iloc[position]
    row = column.index[position]
    hint = _HINTS[spec.type]
    if spec.type in ("integer", "float") and kind == "boolean":
        hint = "send numbers, because true and false are not converted to numbers"
    raise SchemaError(
        f"column {spec.name!r}: expected {spec.type}, got {kind} value "
        f"{_show(value)} at row {_show(row)}; {hint}",
        column=spec.name,
    )


def _show(value: Any) -> str:
    """Return a short repr of a value for an error message."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 3] + "..."
    return text
