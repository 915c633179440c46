"""Validation of the declared fields of model tests, run when a test is built.

Each function raises :class:`~tether.errors.ConfigError` with ``setting`` set
to the field's name, so the YAML reader can add the line of that field to
the message.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from tether.errors import ConfigError


def invalid(field: str, message: str, *, value: Any = None) -> ConfigError:
    """Return a ConfigError about ``field``, for a test's own validation."""
    return ConfigError(message, setting=field, value=value)


def is_number(value: Any) -> bool:
    """Return whether ``value`` is a finite real number other than a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(value)


def require_text(field: str, value: Any) -> str:
    """Return ``value`` when it is a non-empty string, else raise ConfigError."""
    if isinstance(value, str) and value.strip():
        return value
    raise ConfigError(
        f"{field} must be a non-empty string, got {value!r}",
        setting=field,
        value=value,
    )


def optional_text(field: str, value: Any) -> str | None:
    """Return ``value`` when it is None or a non-empty string, else raise ConfigError."""
    return None if value is None else require_text(field, value)


def require_bool(field: str, value: Any) -> bool:
    """Return ``value`` when it is a bool, else raise ConfigError."""
    if isinstance(value, bool):
        return value
    raise ConfigError(
        f"{field} must be true or false, got {value!r}",
        setting=field,
        value=value,
    )


def optional_number(field: str, value: Any) -> float | None:
    """Return ``value`` as a float when it is a finite number, None for None."""
    if value is None:
        return None
    if not is_number(value):
        raise ConfigError(
            f"{field} must be a number, got {value!r}",
            setting=field,
            value=value,
        )
    return float(value)


def require_positive_int(field: str, value: Any) -> int:
    """Return ``value`` when it is an integer of at least 1, else raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(
            f"{field} must be a whole number of at least 1, got {value!r}",
            setting=field,
            value=value,
        )
    return int(value)


def require_int(field: str, value: Any) -> int:
    """Return ``value`` when it is an integer, else raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(
            f"{field} must be a whole number, got {value!r}",
            setting=field,
            value=value,
        )
    return int(value)


def require_share(field: str, value: Any) -> float:
    """Return ``value`` when it is a number from 0 to 1, else raise ConfigError."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"{field} must be a number from 0 to 1, got {value!r}",
            setting=field,
            value=value,
        )
    return float(value)


def require_choice(field: str, value: Any, choices: Sequence[str]) -> str:
    """Return ``value`` when it is one of ``choices``, else raise ConfigError."""
    if isinstance(value, str) and value in choices:
        return value
    raise ConfigError(
        f"unknown {field} {value!r}; use one of: {', '.join(choices)}",
        setting=field,
        value=value,
    )


def require_bounds(
    low: float | None, high: float | None, names: tuple[str, str] = ("min", "max")
) -> None:
    """Raise ConfigError unless at least one bound is set and ``low <= high``."""
    low_name, high_name = names
    if low is None and high is None:
        raise ConfigError(
            f"needs {low_name}, {high_name} or both; add '{low_name}: ...'",
            setting=low_name,
        )
    if low is not None and high is not None and low > high:
        raise ConfigError(
            f"{low_name} {low!r} is greater than {high_name} {high!r}; swap them",
            setting=low_name,
            value=low,
        )


def require_any(values: dict[str, Any]) -> None:
    """Raise ConfigError when every value in ``values`` (field name to value) is None."""
    if all(value is None for value in values.values()):
        names = ", ".join(values)
        first = next(iter(values))
        raise ConfigError(
            f"needs at least one of {names}; add '{first}: ...'",
            setting=first,
        )
