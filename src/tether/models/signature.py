"""Model signatures: the typed inputs a model takes and the outputs it returns.

A signature is inferred from an input example when a model is logged, stored
as JSON with the model version, and enforced by :func:`enforce` on every call
of a loaded model and on every request the scoring server receives. Tabular
inputs are columns (:class:`ColumnSpec`) of the types in ``COLUMN_TYPES``.
Arrays of three or more dimensions are tensors (:class:`TensorSpec`) with a
NumPy dtype and a shape. :func:`enforce` converts a value only when the
conversion cannot change its meaning, and raises
:class:`~tether.errors.SchemaError` otherwise. The section "Signatures" of
``docs/models.md`` lists every rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, overload

import numpy as np
import pandas as pd

from tether.errors import SchemaError
from tether.models.signature_arrays import (
    convert_frame_values,
    convert_values,
    json_values_array,
)
from tether.models.signature_columns import (
    convert_column,
    dtype_kind,
    kind_of_value,
)
from tether.models.signature_tensors import enforce_tensors

COLUMN_TYPES = ("integer", "float", "boolean", "string", "datetime", "category")
"""The column types a signature can declare."""

UNSEEN_POLICIES = ("error", "null")
"""The policies for a category value outside the declared levels."""

# pandas dtypes that exist to hold missing values, so a column of one of them
# is nullable even when the example has no null. pandas 3's default "str"
# dtype is not among them, because every text column has it.
_NULLABLE_DTYPES = frozenset(
    {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
    | {"Float32", "Float64", "boolean", "string"}
)
_COLUMN_KEYS = "'name', 'type' and 'nullable'"


@dataclass(frozen=True)
class ColumnSpec:
    """One named, typed column of a signature.

    Attributes:
        name: Column name, as clients send it.
        type: One of ``COLUMN_TYPES``.
        nullable: Whether the column accepts nulls (``None``, NaN, ``pd.NA``).
        levels: The categories of a ``category`` column, in order: all
            strings or all integers. None for the other types.
        ordered: Whether the categories have an order, as in
            ``pd.CategoricalDtype(ordered=True)``.
        unseen: The policy for a value outside ``levels``. ``"error"``
            raises :class:`SchemaError`, and ``"null"`` makes the value
            missing, which needs ``nullable``.
    """

    name: str
    type: str
    nullable: bool
    levels: tuple[str, ...] | tuple[int, ...] | None = None
    ordered: bool = False
    unseen: str = "error"

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
        if self.type == "category":
            levels = _checked_levels(self.name, self.levels)
            object.__setattr__(self, "levels", levels)
            _check_unseen(self.name, self.unseen, self.nullable)
        elif self.levels is not None or self.ordered or self.unseen != "error":
            raise SchemaError(
                f"column {self.name!r}: 'levels', 'ordered' and 'unseen' apply only "
                "to category columns; remove them or declare the type 'category'",
                column=self.name,
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the column as a JSON-compatible dict."""
        entry: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "nullable": self.nullable,
        }
        if self.type == "category":
            entry["levels"] = list(self.levels or ())
            entry["ordered"] = self.ordered
            entry["unseen"] = self.unseen
        return entry

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnSpec:
        """Build a column from the dict that :meth:`to_dict` returns.

        ``nullable`` defaults to false, ``ordered`` to false and ``unseen`` to
        ``"error"``.

        Raises:
            SchemaError: If a key is missing or a value is invalid.
        """
        if not isinstance(d, Mapping):
            raise SchemaError(
                f"column entry {d!r} is not a mapping; each entry needs {_COLUMN_KEYS}"
            )
        missing = [key for key in ("name", "type") if key not in d]
        if missing:
            raise SchemaError(
                f"column entry {dict(d)!r} has no {missing[0]!r} key; "
                f"each entry needs {_COLUMN_KEYS}"
            )
        levels = d.get("levels")
        if levels is not None and not isinstance(levels, list | tuple):
            raise SchemaError(
                f"column {d['name']!r}: 'levels' must be a list, got {levels!r}; "
                'send the categories in order, such as ["JFK", "LGA"]',
                column=d["name"],
            )
        return cls(
            name=d["name"],
            type=d["type"],
            nullable=bool(d.get("nullable")),
            levels=tuple(levels) if levels is not None else None,
            ordered=bool(d.get("ordered", False)),
            unseen=d.get("unseen", "error"),
        )


def _checked_levels(name: str, levels: Any) -> tuple[str, ...] | tuple[int, ...]:
    if not levels:
        raise SchemaError(
            f"column {name!r}: a category column needs 'levels', a non-empty list "
            'of its categories in order, such as ["JFK", "LGA"]',
            column=name,
        )
    values = tuple(
        int(level) if isinstance(level, np.integer) else level for level in levels
    )
    is_text = all(isinstance(level, str) for level in values)
    is_integer = all(
        isinstance(level, int) and not isinstance(level, bool) for level in values
    )
    if not (is_text or is_integer):
        found = ", ".join(sorted({kind_of_value(level) for level in values}))
        raise SchemaError(
            f"column {name!r}: category levels must be all strings or all "
            f"integers, got {found}; convert the categories to strings, for "
            "example with .cat.rename_categories(str)",
            column=name,
        )
    if len(set(values)) != len(values):
        duplicate = next(level for level in values if values.count(level) > 1)
        raise SchemaError(
            f"column {name!r}: duplicate category level {duplicate!r}; "
            "list each level once",
            column=name,
        )
    return values


def _check_unseen(name: str, unseen: str, nullable: bool) -> None:
    if unseen not in UNSEEN_POLICIES:
        raise SchemaError(
            f"column {name!r}: invalid value {unseen!r} for 'unseen'; "
            "use 'error' or 'null'",
            column=name,
        )
    if unseen == "null" and not nullable:
        raise SchemaError(
            f"column {name!r}: 'unseen': 'null' turns unseen categories into "
            "missing values, so the column must be nullable; set 'nullable' to true",
            column=name,
        )


@dataclass(frozen=True)
class TensorSpec:
    """One named N-dimensional array that a model takes or returns.

    Attributes:
        name: Tensor name. A single array is named ``input`` (inputs) or
            ``prediction`` (outputs).
        dtype: NumPy dtype name of a boolean, integer or float dtype, such
            as ``float32``.
        shape: Size of each dimension, with -1 for a dimension of any size.
            Inferred shapes have -1 first, for the number of rows.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    type: ClassVar[str] = "tensor"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SchemaError(
                f"invalid tensor name {self.name!r}; use a non-empty string"
            )
        object.__setattr__(self, "dtype", _checked_dtype(self.name, self.dtype))
        object.__setattr__(self, "shape", _checked_shape(self.name, self.shape))

    def to_dict(self) -> dict[str, Any]:
        """Return the tensor as a JSON-compatible dict."""
        return {
            "name": self.name,
            "type": "tensor",
            "dtype": self.dtype,
            "shape": list(self.shape),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSpec:
        """Build a tensor from the dict that :meth:`to_dict` returns.

        Raises:
            SchemaError: If a key is missing or a value is invalid.
        """
        missing = [key for key in ("name", "dtype", "shape") if key not in d]
        if missing:
            raise SchemaError(
                f"tensor entry {dict(d)!r} has no {missing[0]!r} key; each tensor "
                "entry needs 'name', 'type': 'tensor', 'dtype' and 'shape'"
            )
        return cls(name=d["name"], dtype=d["dtype"], shape=d["shape"])


def _checked_dtype(name: str, dtype: Any) -> str:
    try:
        numpy_dtype = np.dtype(dtype)
    except TypeError as exc:
        raise SchemaError(
            f"tensor {name!r}: unknown dtype {dtype!r}; use a NumPy dtype name "
            "such as 'float32'"
        ) from exc
    if numpy_dtype.kind not in "biuf":
        raise SchemaError(
            f"tensor {name!r}: dtype {numpy_dtype.name!r} is not supported; use a "
            "boolean, integer or float dtype"
        )
    return str(numpy_dtype.name)


def _checked_shape(name: str, shape: Any) -> tuple[int, ...]:
    sizes = tuple(shape) if isinstance(shape, list | tuple) else ()
    valid = all(
        isinstance(size, int | np.integer)
        and not isinstance(size, bool)
        and (size == -1 or size > 0)
        for size in sizes
    )
    if not sizes or not valid:
        raise SchemaError(
            f"tensor {name!r}: invalid shape {shape!r}; use a list of positive "
            "sizes, with -1 for a dimension of any size, such as [-1, 28, 28]"
        )
    return tuple(int(size) for size in sizes)


Spec = ColumnSpec | TensorSpec
"""One input or output of a signature."""


@dataclass(frozen=True)
class Signature:
    """The inputs and outputs of a model.

    The inputs are either all columns or all tensors, and so are the outputs.

    Attributes:
        inputs: The columns or tensors the model reads, in the order it
            reads them.
        outputs: The columns or tensors the model returns, such as a
            ``prediction`` column.
    """

    inputs: Sequence[Spec]
    outputs: Sequence[Spec] = field(default_factory=list)

    def __post_init__(self) -> None:
        for role, specs in (("input", self.inputs), ("output", self.outputs)):
            _check_unique_names([spec.name for spec in specs], role)
            if len({isinstance(spec, TensorSpec) for spec in specs}) > 1:
                raise SchemaError(
                    f"the {role}s mix columns and tensors; declare either columns "
                    "or tensors"
                )

    @property
    def input_names(self) -> list[str]:
        """Input names in signature order."""
        return [spec.name for spec in self.inputs]

    @property
    def inputs_are_tensors(self) -> bool:
        """True when the inputs are tensors rather than columns."""
        return any(isinstance(spec, TensorSpec) for spec in self.inputs)

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
        inputs = [_spec_from_dict(entry) for entry in d["inputs"]]
        outputs = [_spec_from_dict(entry) for entry in d.get("outputs", [])]
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


def _spec_from_dict(entry: Any) -> Spec:
    if isinstance(entry, Mapping) and entry.get("type") == "tensor":
        return TensorSpec.from_dict(entry)
    return ColumnSpec.from_dict(entry)


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
    inputs: pd.DataFrame | np.ndarray | Mapping[str, Any],
    outputs: Any = None,
) -> Signature:
    """Infer a signature from an input example and, optionally, its outputs.

    A frame, a 1-D or 2-D array (columns ``"0"``, ``"1"``, ...) and a
    mapping of 1-D arrays give columns. An array of three or more dimensions
    gives one tensor named ``input``, and a mapping that contains an array of
    two or more dimensions gives one tensor per key. A tensor's shape is the
    example's shape with -1 for the first dimension, the number of rows.

    Column types come from the dtypes: numpy and pandas nullable integer,
    float and boolean dtypes, datetime dtypes, pandas string dtypes,
    ``category`` (with the categories as levels, in order), and object columns
    whose non-null values all share one type. A column is nullable when the
    example has a null in it, when its type is float (a float column can hold
    NaN, which numeric models accept as a missing value), or when its dtype
    is a pandas nullable dtype such as ``Int64``, ``boolean`` or ``string``.

    Args:
        inputs: A frame, an array, or a mapping of name to array.
        outputs: Model outputs: a 1-D array or a Series becomes one
            ``prediction`` column, a 2-D array becomes ``prediction_0``,
            ``prediction_1``, ..., a larger array becomes a ``prediction``
            tensor, and a frame or mapping keeps its names. ``None`` declares
            no outputs.

    Raises:
        SchemaError: If a column is empty, mixes types or has an unsupported
            dtype, or an array has no dimensions.
    """
    return Signature(
        inputs=_infer_specs(inputs, "input"), outputs=_infer_outputs(outputs)
    )


def _infer_specs(data: Any, tensor_name: str) -> list[Spec]:
    if isinstance(data, pd.DataFrame):
        return list(_infer_columns(data))
    if isinstance(data, Mapping):
        if all(np.ndim(values) == 1 for values in data.values()):
            return list(_infer_columns(pd.DataFrame(dict(data))))
        return [_infer_tensor(str(name), values) for name, values in data.items()]
    array = np.asarray(data)
    if array.ndim > 2:
        return [_infer_tensor(tensor_name, array)]
    return list(_infer_columns(_array_frame(array)))


def _infer_tensor(name: str, values: Any) -> TensorSpec:
    array = np.asarray(values)
    if array.ndim == 0:
        raise SchemaError(
            f"cannot infer a tensor {name!r} from a single value; pass an array "
            "with one entry per row"
        )
    return TensorSpec(name, array.dtype.name, (-1, *array.shape[1:]))


def _array_frame(array: np.ndarray) -> pd.DataFrame:
    if array.dtype.names:
        return pd.DataFrame(array)
    if array.ndim == 0:
        raise SchemaError(
            "cannot infer a signature from a single value; pass a 1-D or 2-D "
            "array or a DataFrame"
        )
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])


def _infer_columns(frame: pd.DataFrame) -> list[ColumnSpec]:
    return [_infer_column(str(label), frame[label]) for label in frame.columns]


def _infer_column(name: str, column: pd.Series) -> ColumnSpec:
    has_nulls = bool(column.isna().any())
    if isinstance(column.dtype, pd.CategoricalDtype):
        return ColumnSpec(
            name,
            "category",
            has_nulls,
            levels=tuple(column.dtype.categories.tolist()),
            ordered=bool(column.dtype.ordered),
        )
    column_type = _infer_type(name, column)
    nullable = (
        has_nulls or column_type == "float" or str(column.dtype) in _NULLABLE_DTYPES
    )
    return ColumnSpec(name, column_type, nullable)


def _infer_outputs(outputs: Any) -> list[Spec]:
    if outputs is None:
        return []
    if isinstance(outputs, pd.DataFrame | Mapping):
        return _infer_specs(outputs, "prediction")
    if isinstance(outputs, pd.Series):
        return list(_infer_columns(pd.DataFrame({"prediction": outputs.array})))
    array = np.asarray(outputs)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim == 1:
        return list(_infer_columns(pd.DataFrame({"prediction": array})))
    if array.ndim > 2:
        return [_infer_tensor("prediction", array)]
    frame = _array_frame(array)
    frame.columns = [f"prediction_{label}" for label in frame.columns]
    return list(_infer_columns(frame))


def _infer_type(name: str, column: pd.Series) -> str:
    kind = dtype_kind(column.dtype)
    if kind is not None:
        return kind
    present = column.dropna().to_numpy(dtype=object)
    kinds = {kind_of_value(value) for value in present}
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


def extra_columns(
    signature: Signature, frame: pd.DataFrame | np.ndarray | Mapping[str, Any]
) -> list[str]:
    """Return the input's column or tensor names that the signature does not declare.

    :func:`enforce` drops these from the model input. The scoring server
    reports them to the client and logs them with the prediction. An array
    has no names, so the list is empty for an array.
    """
    if isinstance(frame, pd.DataFrame):
        names = [str(label) for label in frame.columns]
    elif isinstance(frame, Mapping):
        names = [str(key) for key in frame]
    else:
        return []
    expected = set(signature.input_names)
    return [name for name in names if name not in expected]


@overload
def enforce(
    signature: Signature, frame: pd.DataFrame, *, arrays: bool = False
) -> pd.DataFrame: ...


@overload
def enforce(
    signature: Signature, frame: np.ndarray | Mapping[str, Any], *, arrays: bool = False
) -> pd.DataFrame | np.ndarray | dict[str, np.ndarray]: ...


def enforce(
    signature: Signature,
    frame: pd.DataFrame | np.ndarray | Mapping[str, Any],
    *,
    arrays: bool = False,
) -> pd.DataFrame | np.ndarray | dict[str, np.ndarray]:
    """Convert an input to the signature's inputs and types.

    For columns, the result is a new frame with exactly the signature's
    input columns, in signature order, with the input's index. Columns are
    matched by name, so their order in the input does not matter, and extra
    columns are dropped (see :func:`extra_columns`). A 2-D array's columns
    are matched by position. Conversions that keep every value's meaning are
    applied, such as integer to float, whole floats to integer, ISO 8601 text
    to datetime and text to a category level. Anything else is rejected.
    ``None``, NaN, ``pd.NA`` and NaT all count as null. The input is not
    modified.

    For tensors, each array's shape and dtype are checked, and the result is
    one array or a dict of arrays, as the input was.

    With ``arrays=True``, columns come as a mapping of name to a list of
    values (or a 1-D array), and the result is a dict of NumPy arrays in
    signature order, built without a DataFrame (see
    :func:`tether.models.signature_arrays.convert_values`). The same rules
    apply, and the row in a message is the position in the list.

    Args:
        signature: The model's signature.
        frame: Input rows: a frame (for example parsed from a request), an
            array, or a mapping of name to array.
        arrays: Return one NumPy array per column instead of a frame. It
            needs a mapping and has no effect on tensors.

    Returns:
        For columns, a frame whose dtypes depend only on the signature:
        ``int64`` (``Int64`` when nullable), ``float64``, ``bool``
        (``boolean`` when nullable), pandas' NaN-backed string dtype,
        ``datetime64[ns]``, or ``category`` with the declared levels.

    Raises:
        SchemaError: If a column is missing, a non-nullable column has a
            null, a value cannot be converted safely, or a tensor has the
            wrong shape or dtype. The message is one line that names the
            column or tensor, the value, its row or index, and the fix.
    """
    if signature.inputs_are_tensors:
        tensors = [spec for spec in signature.inputs if isinstance(spec, TensorSpec)]
        return enforce_tensors(tensors, frame)
    columns = [spec for spec in signature.inputs if isinstance(spec, ColumnSpec)]
    if arrays:
        return _enforce_arrays(signature, columns, frame)
    data = _input_frame(columns, frame)
    by_name = _columns_by_name(data)
    _check_required(signature, by_name)
    converted = {
        spec.name: convert_column(spec, data[by_name[spec.name]]) for spec in columns
    }
    return pd.DataFrame(converted, index=data.index)


def enforce_json_columns(
    signature: Signature, columns: Mapping[str, Sequence[Any]], rows: int
) -> pd.DataFrame:
    """Convert columns of JSON values to the frame that :func:`enforce` returns.

    The result, and any error message, is that of ``enforce`` on a frame
    with a ``RangeIndex`` whose columns are
    :func:`~tether.models.signature_arrays.json_values_array` of the lists,
    as the scoring server parses JSON bodies. Valid columns skip that frame
    (see :func:`~tether.models.signature_arrays.convert_frame_values`).

    Args:
        signature: The model's signature.
        columns: Column name to its values, one per row, as JSON typed them.
        rows: Number of rows, the length of every list.
    """
    index = pd.RangeIndex(rows)
    if signature.inputs_are_tensors:
        raw = {name: json_values_array(values) for name, values in columns.items()}
        return enforce(signature, pd.DataFrame(raw, index=index))
    specs = [spec for spec in signature.inputs if isinstance(spec, ColumnSpec)]
    by_name = {str(name): name for name in columns}
    _check_required(signature, by_name)
    converted = {
        spec.name: convert_frame_values(spec, columns[by_name[spec.name]])
        for spec in specs
    }
    return pd.DataFrame(converted, index=index)


def _enforce_arrays(
    signature: Signature, columns: list[ColumnSpec], data: Any
) -> dict[str, np.ndarray]:
    if not isinstance(data, Mapping):
        raise SchemaError(
            f"enforce(..., arrays=True) needs a mapping of column name to values, "
            f"got {type(data).__name__}; pass a dict such as {{'x': [1, 2]}}"
        )
    lengths = {len(values) for values in data.values()}
    if len(lengths) > 1:
        raise SchemaError(
            f"the columns have lengths {sorted(lengths)}; pass columns of equal "
            "length, one value per row"
        )
    by_name = {str(name): name for name in data}
    _check_required(signature, by_name)
    return {
        spec.name: convert_values(spec, data[by_name[spec.name]]) for spec in columns
    }


def _input_frame(
    columns: list[ColumnSpec], data: pd.DataFrame | np.ndarray | Mapping[str, Any]
) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except ValueError as exc:
            raise SchemaError(
                f"cannot read the mapping as columns ({exc}); pass 1-D arrays of "
                "equal length, one per column"
            ) from exc
    array = np.asarray(data)
    if array.dtype.names:
        return pd.DataFrame(array)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    names = [spec.name for spec in columns]
    if array.ndim != 2:
        raise SchemaError(
            f"the signature declares columns, but the input is a {array.ndim}-D "
            "array; pass a DataFrame or a 2-D array with one column per input"
        )
    if array.shape[1] != len(names):
        listed = ", ".join(repr(name) for name in names)
        raise SchemaError(
            f"the input array has {array.shape[1]} columns, but the signature "
            f"declares {len(names)} inputs ({listed}); pass one column per "
            "input, in signature order"
        )
    return pd.DataFrame(array, columns=names)


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
