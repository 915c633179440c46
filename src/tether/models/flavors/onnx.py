"""ONNX copies of scikit-learn models: convert with skl2onnx, check, run on onnxruntime.

The ONNX graph has one input per signature column, named after the column,
of shape ``[rows, 1]``: float columns as float32, integer columns as int64,
boolean columns as bool and string columns as strings. skl2onnx computes in
float32, so its outputs can differ from scikit-learn's in the last digits;
:func:`check_onnx_model` rejects a conversion whose classes differ from
scikit-learn's on the input example, or whose probabilities or regression
values differ by more than ``TOLERANCE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tether.errors import ConfigError, SchemaError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.signature import Signature

ONNX_FILE = "model.onnx"
PACKAGES = ("skl2onnx", "onnx", "onnxruntime")
TOLERANCE = 1e-5
"""Largest difference allowed between onnxruntime's and scikit-learn's
probabilities (absolute) and regression values (absolute and relative)."""

_CONCATENATED_INPUT = "tether_features"
_NUMERIC_TYPES = ("float", "integer", "boolean")


class OnnxConversionError(Exception):
    """skl2onnx cannot convert the model; the version is stored without ONNX."""


def convert_to_onnx(model: Any, signature: Signature) -> bytes:
    """Return the ONNX model of a fitted scikit-learn ``model``, serialized.

    skl2onnx first gets one input per column, which a ``ColumnTransformer``
    or a first step such as ``StandardScaler`` consumes. An estimator that
    takes a single matrix instead gets the columns cast to float32 and
    concatenated in signature order in front of its graph.

    Raises:
        OnnxConversionError: skl2onnx cannot convert the model or a column type.
    """
    from skl2onnx import convert_sklearn

    inputs = [
        (spec.name, _tensor_type(_column_type(spec))) for spec in signature.inputs
    ]
    options = _converter_options(model)
    try:
        converted = convert_sklearn(model, initial_types=inputs, options=options)
    # skl2onnx raises many types (MissingShapeCalculator, NameError, ValueError,
    # RuntimeError...) for a model it cannot convert, and each means the same here.
    except Exception as exc:
        if any(spec.type not in _NUMERIC_TYPES for spec in signature.inputs):
            raise OnnxConversionError(_reason(exc)) from exc
        converted = _convert_concatenated(model, signature, options)
    return bytes(converted.SerializeToString())


def _column_type(spec: Any) -> str:
    """Return a column's type, with a category as the type of its levels."""
    if spec.type != "category":
        return str(spec.type)
    levels = getattr(spec, "levels", None) or ()
    return "integer" if all(isinstance(level, int) for level in levels) else "string"


def _tensor_type(column_type: str) -> Any:
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    types = {
        "float": FloatTensorType,
        "integer": Int64TensorType,
        "boolean": BooleanTensorType,
        "string": StringTensorType,
    }
    if column_type not in types:
        raise OnnxConversionError(
            f"ONNX inputs cannot be of signature type {column_type!r}"
        )
    return types[column_type]([None, 1])


def _converter_options(model: Any) -> dict[int, dict[str, Any]]:
    """Turn off ZipMap, so that a classifier returns probabilities as a matrix."""
    from sklearn.base import is_classifier

    final = model
    while hasattr(final, "steps"):
        final = final.steps[-1][1]
    return {id(final): {"zipmap": False}} if is_classifier(final) else {}


def _convert_concatenated(
    model: Any, signature: Signature, options: dict[int, dict[str, Any]]
) -> Any:
    """Convert ``model`` on one float matrix and feed it the concatenated columns."""
    from onnx import TensorProto, checker, helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    width = len(signature.inputs)
    try:
        converted = convert_sklearn(
            model,
            initial_types=[(_CONCATENATED_INPUT, FloatTensorType([None, width]))],
            options=options,
        )
    except Exception as exc:  # see convert_to_onnx
        raise OnnxConversionError(_reason(exc)) from exc
    elements = {
        "float": TensorProto.FLOAT,
        "integer": TensorProto.INT64,
        "boolean": TensorProto.BOOL,
    }
    graph = converted.graph
    inputs = []
    prefix = []
    floats = []
    for position, spec in enumerate(signature.inputs):
        element = elements[spec.type]
        inputs.append(helper.make_tensor_value_info(spec.name, element, [None, 1]))
        if element == TensorProto.FLOAT:
            floats.append(spec.name)
            continue
        cast = f"{_CONCATENATED_INPUT}_cast_{position}"
        prefix.append(
            helper.make_node("Cast", [spec.name], [cast], to=TensorProto.FLOAT)
        )
        floats.append(cast)
    prefix.append(helper.make_node("Concat", floats, [_CONCATENATED_INPUT], axis=1))
    nodes = [*prefix, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.extend(inputs)
    try:
        checker.check_model(converted)
    except checker.ValidationError as exc:
        raise OnnxConversionError(_reason(exc)) from exc
    return converted


def _reason(exc: BaseException) -> str:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


class OnnxModel:
    """An ONNX model on onnxruntime, called like a scikit-learn estimator.

    Attributes:
        session: The onnxruntime ``InferenceSession`` (CPU).
    """

    def __init__(self, data: bytes) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [(node.name, node.type) for node in self.session.get_inputs()]
        self._outputs = [node.name for node in self.session.get_outputs()]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the first output: class labels, or the regression values."""
        import numpy as np

        (values,) = self.session.run(self._outputs[:1], self._feeds(frame))
        array = np.asarray(values)
        if array.ndim == 2 and array.shape[1] == 1:
            return array.ravel()
        return array

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Return the probabilities of a classifier, one column per class, or None."""
        import numpy as np

        if len(self._outputs) < 2:
            return None
        (values,) = self.session.run(self._outputs[1:2], self._feeds(frame))
        return np.asarray(values)

    def _feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            name: _column_array(frame, name, tensor_type)
            for name, tensor_type in self._inputs
        }


def _column_array(frame: pd.DataFrame, name: str, tensor_type: str) -> np.ndarray:
    """Return column ``name`` as the ``[rows, 1]`` array of an ONNX input type."""
    import numpy as np

    column = frame[name]
    if tensor_type in ("tensor(float)", "tensor(double)"):
        dtype = np.float32 if tensor_type == "tensor(float)" else np.float64
        return column.to_numpy(dtype=dtype, na_value=np.nan).reshape(-1, 1)
    if column.isna().any():
        raise SchemaError(
            f"column {name!r} has a missing value, which the ONNX input of type "
            f"{tensor_type} cannot hold; send a value in every row or load the "
            "model with runtime='native'",
            column=name,
        )
    dtypes = {
        "tensor(int64)": np.int64,
        "tensor(bool)": np.bool_,
        "tensor(string)": object,
    }
    if tensor_type not in dtypes:
        raise SchemaError(
            f"the ONNX model's input {name!r} has type {tensor_type}, which Tether "
            "cannot feed; load the model with runtime='native'",
            column=name,
        )
    return column.to_numpy(dtype=dtypes[tensor_type]).reshape(-1, 1)


def check_onnx_model(model: Any, data: bytes, example: pd.DataFrame) -> None:
    """Raise unless onnxruntime predicts like scikit-learn on ``example``.

    A classifier must return the same class on every row, and probabilities
    within ``TOLERANCE``; a regressor values within ``TOLERANCE`` (absolute
    and relative).

    Raises:
        ConfigError: the predictions differ; the message names the first row.
    """
    import numpy as np
    from sklearn.base import is_classifier

    runtime = OnnxModel(data)
    expected = np.asarray(model.predict(example))
    predicted = runtime.predict(example)
    if is_classifier(model):
        _check_classes(model, expected, predicted)
        if hasattr(model, "predict_proba"):
            probabilities = runtime.predict_proba(example)
            if probabilities is not None:
                expected_proba = np.asarray(model.predict_proba(example))
                _check_close(model, "probabilities", expected_proba, probabilities)
        return
    _check_close(model, "predictions", expected, predicted)


def _check_classes(model: Any, expected: np.ndarray, predicted: np.ndarray) -> None:
    import numpy as np

    if expected.shape != predicted.shape:
        _raise_mismatch(
            model, f"it returns shape {predicted.shape} instead of {expected.shape}"
        )
    differ = np.flatnonzero(expected.astype(object) != predicted.astype(object))
    if differ.size:
        row = int(differ[0])
        _raise_mismatch(
            model,
            f"{differ.size} of {expected.size} rows get another class, first row "
            f"{row}: {_plain(predicted[row])!r} instead of {_plain(expected[row])!r}",
        )


def _plain(value: Any) -> Any:
    """Return a NumPy scalar as the Python value, so that its repr is short."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def _check_close(
    model: Any, quantity: str, expected: np.ndarray, predicted: np.ndarray
) -> None:
    import numpy as np

    expected = np.asarray(expected, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if expected.shape != predicted.shape:
        _raise_mismatch(
            model,
            f"its {quantity} have shape {predicted.shape} instead of {expected.shape}",
        )
    difference = np.abs(predicted - expected)
    allowed = TOLERANCE
    if quantity != "probabilities":
        allowed = TOLERANCE + TOLERANCE * np.abs(expected)
    close = difference <= allowed
    if not close.all():
        position = np.unravel_index(int(np.argmin(close)), close.shape)
        largest = float(np.max(difference))
        _raise_mismatch(
            model,
            f"its {quantity} differ by up to {largest:.3g} (allowed: {TOLERANCE}), "
            f"first at row {int(position[0])}: {float(predicted[position])!r} "
            f"instead of {float(expected[position])!r}",
        )


def _raise_mismatch(model: Any, detail: str) -> None:
    raise ConfigError(
        f"the ONNX conversion of the {type(model).__qualname__} does not predict "
        f"like scikit-learn on the input example: {detail}; the ONNX file was not "
        "stored, so register the model without onnx=True",
        setting="onnx",
        value=True,
    )
