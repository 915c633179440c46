"""Validation of declared check fields, run when a check is built.

A declaration that cannot work raises :class:`~tether.errors.ConfigError`
here, so a YAML suite with a wrong field fails when it is loaded instead of
when it first runs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from tether.errors import ConfigError


def is_number(value: Any) -> bool:
    """Return whether ``value`` is a real number other than bool and NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(value)


def require_text(check: str, field: str, value: Any) -> str:
    """Return ``value`` when it is a non-empty str, else raise ConfigError."""
    if isinstance(value, str) and value:
        return value
    raise ConfigError(
        f"{check}: {field} must be a non-empty string, got {value!r}",
        setting=field,
        value=value,
    )


def require_names(check: str, field: str, value: Any) -> tuple[str, ...]:
    """Return one or more column names as a tuple; a single str is one name."""
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Iterable) or isinstance(names, bytes | dict):
        raise ConfigError(
            f"{check}: {field} must be a column name or a list of them, got {value!r}",
            setting=field,
            value=value,
        )
    result = tuple(names)
    if not result:
        raise ConfigError(
            f"{check} needs at least one column name", setting=field, value=value
        )
    for name in result:
        require_text(check, field, name)
    return result


def validate_bounds(check: str, low: Any, high: Any) -> None:
    """Raise ConfigError unless the bounds are numbers with ``low <= high``."""
    if low is None and high is None:
        raise ConfigError(f"{check} needs min, max or both")
    for bound in (low, high):
        if bound is not None and not is_number(bound):
            raise ConfigError(
                f"{check} bounds must be numbers, got {bound!r}", value=bound
            )
    if low is not None and high is not None and low > high:
        raise ConfigError(
            f"{check} min {low!r} is greater than max {high!r}; swap them",
            value=(low, high),
        )


def validate_share(check: str, field: str, value: Any) -> None:
    """Raise ConfigError unless ``value`` is a number from 0 to 1."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"{check}: {field} must be a number between 0 and 1, got {value!r}",
            setting=field,
            value=value,
        )
