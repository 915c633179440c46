"""Conversion of single values, such as group labels and grid points, to JSON types."""

from __future__ import annotations

from typing import Any

from tether.monitoring.drift_detection import json_safe


def plain_value(value: Any) -> Any:
    """Return ``value`` as a JSON type: NumPy scalars as Python ones, others as text.

    NaN and ±inf become None, as in :func:`json_safe`. A value of any other
    type, such as a timestamp, becomes its ``str``.
    """
    converted = json_safe(value)
    if converted is None or isinstance(converted, (bool, int, float, str)):
        return converted
    return str(converted)
