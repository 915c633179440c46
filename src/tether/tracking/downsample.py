"""Downsample a metric series for charts: largest-triangle-three-buckets.

The algorithm is from Sveinn Steinarsson, "Downsampling Time Series for
Visual Representation", University of Iceland, 2013. It keeps the first and
last points. From each of ``n - 2`` equal buckets in between it keeps the
point that forms the largest triangle with the point kept before it and the
mean of the next bucket. Peaks and dips survive, which plain striding loses. One pass,
O(number of points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tether.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

MIN_POINTS = 3


def lttb_indices(x: Sequence[float], y: Sequence[float], max_points: int) -> list[int]:
    """Return the indices of at most ``max_points`` points that keep the series' shape.

    ``x`` must be sorted. Points whose ``y`` is NaN or infinite are never
    preferred over finite ones, but a bucket of only such points keeps its
    first point, so gaps in a series stay visible.
    """
    if max_points < MIN_POINTS:
        raise ConfigError(
            f"max_points must be at least {MIN_POINTS}, got {max_points}",
            setting="max_points",
            value=max_points,
        )
    count = len(y)
    if count <= max_points:
        return list(range(count))
    import numpy as np

    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    width = (count - 2) / (max_points - 2)
    chosen = [0]
    for bucket in range(max_points - 2):
        start = math.floor(bucket * width) + 1
        end = math.floor((bucket + 1) * width) + 1
        following = slice(end, min(math.floor((bucket + 2) * width) + 1, count))
        chosen.append(_pick(xs, ys, chosen[-1], start, end, following))
    chosen.append(count - 1)
    return chosen


def _pick(
    xs: np.ndarray,
    ys: np.ndarray,
    previous: int,
    start: int,
    end: int,
    following: slice,
) -> int:
    """Return the index in [start, end) with the largest triangle area."""
    import numpy as np

    next_x = float(np.mean(xs[following]))
    finite_next = ys[following][np.isfinite(ys[following])]
    next_y = float(np.mean(finite_next)) if finite_next.size else float(ys[previous])
    area = np.abs(
        (xs[previous] - next_x) * (ys[start:end] - ys[previous])
        - (xs[previous] - xs[start:end]) * (next_y - ys[previous])
    )
    finite = np.isfinite(area)
    if not finite.any():
        return start
    return start + int(np.argmax(np.where(finite, area, -1.0)))
