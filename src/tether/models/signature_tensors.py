"""Shape and dtype checks of tensor inputs, the N-dimensional half of ``enforce``.

A tensor spec declares a NumPy dtype and a shape in which -1 marks a
dimension of any size. :func:`enforce_tensors` checks each array's number of
dimensions and fixed sizes, then converts it to the declared dtype when every
value fits: integers and whole floats to an integer dtype whose range
contains them, and integers and floats to any float dtype whose range
contains them. A conversion to a float dtype rounds to the nearest value of
that dtype, as the parsing of a JSON decimal already does. Booleans convert
only to booleans, and strings and objects never convert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tether.errors import SchemaError

if TYPE_CHECKING:
    from tether.models.signature import TensorSpec

_NUMERIC_KINDS = "iuf"


def enforce_tensors(
    specs: Sequence[TensorSpec], data: Any
) -> np.ndarray | dict[str, np.ndarray]:
    """Check and convert arrays against tensor specs.

    Args:
        specs: The signature's tensor inputs.
        data: One array (or nested lists) when the signature has one tensor,
            or a mapping of tensor name to array. Names the signature does
            not declare are dropped.

    Returns:
        One array when ``data`` is not a mapping, else a dict with one
        array per declared tensor, in signature order.

    Raises:
        SchemaError: If a tensor is missing, has the wrong number of
            dimensions or a wrong fixed size, or contains a value outside
            the declared dtype's range.
    """
    names = ", ".join(repr(spec.name) for spec in specs)
    if isinstance(data, pd.DataFrame):
        raise SchemaError(
            f"the signature declares the tensor inputs {names}, but the input is "
            "a DataFrame; pass a NumPy array, or a dict that maps each tensor "
            "name to an array"
        )
    if not isinstance(data, Mapping):
        if len(specs) != 1:
            raise SchemaError(
                f"the signature declares the tensor inputs {names}; pass a dict "
                "that maps each tensor name to an array"
            )
        return convert_tensor(specs[0], data)
    missing = [spec.name for spec in specs if spec.name not in data]
    if missing:
        noun = "tensor" if len(missing) == 1 else "tensors"
        listed = ", ".join(repr(name) for name in missing)
        raise SchemaError(
            f"missing input {noun} {listed}; expected tensors: {names}; "
            "add the missing tensors to the input",
            column=missing[0],
        )
    return {spec.name: convert_tensor(spec, data[spec.name]) for spec in specs}


def convert_tensor(spec: TensorSpec, value: Any) -> np.ndarray:
    """Check one array's shape, then convert it to the declared dtype.

    Raises:
        SchemaError: If the value is not a rectangular array, its shape does
            not match, or a value does not fit the declared dtype.
    """
    try:
        array = np.asarray(value)
    except ValueError as exc:
        raise SchemaError(
            f"tensor {spec.name!r}: the value is not a rectangular array ({exc}); "
            f"send an array of shape {_shape_text(spec.shape)}",
            column=spec.name,
        ) from exc
    _check_shape(spec, array)
    return _converted(spec, array)


def _check_shape(spec: TensorSpec, array: np.ndarray) -> None:
    expected = _shape_text(spec.shape)
    if array.ndim != len(spec.shape):
        raise SchemaError(
            f"tensor {spec.name!r}: expected {len(spec.shape)} dimensions with "
            f"shape {expected}, got {array.ndim} dimensions with shape "
            f"{_shape_text(array.shape)}; send an array of shape {expected}, "
            "where -1 is any size",
            column=spec.name,
        )
    for axis, (size, actual) in enumerate(zip(spec.shape, array.shape, strict=True)):
        if size not in (-1, actual):
            raise SchemaError(
                f"tensor {spec.name!r}: dimension {axis} has size {actual}, but "
                f"the shape is {expected}; send an array of shape {expected}, "
                "where -1 is any size",
                column=spec.name,
            )


def _converted(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    target = np.dtype(spec.dtype)
    source = array.dtype
    if source == target:
        return array
    if target.kind == "b" or source.kind not in _NUMERIC_KINDS:
        hint = "true or false" if target.kind == "b" else "numbers"
        raise SchemaError(
            f"tensor {spec.name!r}: expected {target.name} values, got "
            f"{source.name} values; send {hint}",
            column=spec.name,
        )
    if target.kind == "f":
        return _to_float(spec, array, target)
    return _to_integer(spec, array, target)


def _to_float(spec: TensorSpec, array: np.ndarray, target: np.dtype[Any]) -> np.ndarray:
    with np.errstate(over="ignore"):
        converted = array.astype(target)
    overflow = np.isfinite(array) & ~np.isfinite(converted)
    if overflow.any():
        index = _first_index(overflow)
        limit = float(np.finfo(target).max)
        raise SchemaError(
            f"tensor {spec.name!r}: value {array[index].item()!r} at index "
            f"{index} does not fit in {target.name}; send values of magnitude "
            f"up to {limit:g}",
            column=spec.name,
        )
    return converted


def _to_integer(
    spec: TensorSpec, array: np.ndarray, target: np.dtype[Any]
) -> np.ndarray:
    info = np.iinfo(target)
    if array.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(array) & (array == np.floor(array))
        if not whole.all():
            index = _first_index(~whole)
            raise SchemaError(
                f"tensor {spec.name!r}: expected {target.name}, got the non-whole "
                f"value {array[index].item()!r} at index {index}; send whole numbers",
                column=spec.name,
            )
        # The exclusive upper bound is a power of two, which float64 represents exactly.
        outside = (array < float(info.min)) | (array >= float(info.max) + 1.0)
    else:
        outside = _integers_outside(array, int(info.min), int(info.max))
    if outside.any():
        index = _first_index(outside)
        raise SchemaError(
            f"tensor {spec.name!r}: value {array[index].item()!r} at index {index} "
            f"does not fit in {target.name}; send values from {info.min} to "
            f"{info.max}",
            column=spec.name,
        )
    return array.astype(target)


def _integers_outside(array: np.ndarray, low: int, high: int) -> np.ndarray:
    """Mark integers outside ``[low, high]``, comparing without a lossy cast."""
    source = np.iinfo(array.dtype)
    outside = np.zeros(array.shape, dtype=bool)
    if int(source.min) < low:
        outside |= array < np.array(low).astype(array.dtype)
    if int(source.max) > high:
        outside |= array > np.array(high).astype(array.dtype)
    return outside


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    flat = int(np.flatnonzero(mask)[0])
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"
