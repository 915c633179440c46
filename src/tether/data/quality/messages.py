"""Text pieces shared by check messages: value listings, bounds and missing columns."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tether.data.profiles import json_safe

MAX_LISTED = 25
"""Values listed in a message before the rest is counted as "N more"."""


def missing_message(frame: pd.DataFrame, missing: Sequence[str]) -> str:
    """Name the missing columns, suggest a close name, and list the present ones."""
    names = [str(name) for name in frame.columns]
    present = listing(names)
    if len(missing) == 1:
        close = difflib.get_close_matches(missing[0], names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"column {missing[0]!r} is missing{hint}; present columns: {present}"
    listed = ", ".join(repr(name) for name in missing)
    return f"columns {listed} are missing; present columns: {present}"


def listing(values: Sequence[Any]) -> str:
    """Join up to :data:`MAX_LISTED` values with commas and count the rest."""
    text = ", ".join(str(json_safe(value)) for value in values[:MAX_LISTED])
    if len(values) > MAX_LISTED:
        text += f", ... ({len(values) - MAX_LISTED} more)"
    return text


def number(value: float | None) -> str:
    """Format a bound: integral floats without ``.0``, None as an empty string."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def span(low: float | None, high: float | None) -> str:
    """Format inclusive bounds as ``low..high``, leaving out a missing side."""
    return f"{number(low)}..{number(high)}"


def seen_extremes(values: np.ndarray, below: np.ndarray, above: np.ndarray) -> str:
    """Name the smallest value below and the largest value above the bounds."""
    seen = []
    if below.any():
        seen.append(f"min seen {number(float(values[below].min()))}")
    if above.any():
        seen.append(f"max seen {number(float(values[above].max()))}")
    return f" ({', '.join(seen)})" if seen else ""
