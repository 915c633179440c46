"""Largest-triangle-three-buckets downsampling of metric histories."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tether
from tether.errors import ConfigError
from tether.tracking.downsample import lttb_indices


def reference_lttb(x: list[float], y: list[float], threshold: int) -> list[int]:
    """A direct transcription of the published algorithm, for finite values."""
    count = len(y)
    if count <= threshold:
        return list(range(count))
    every = (count - 2) / (threshold - 2)
    chosen = [0]
    previous = 0
    for bucket in range(threshold - 2):
        following_start = math.floor((bucket + 1) * every) + 1
        following_end = min(math.floor((bucket + 2) * every) + 1, count)
        span = range(following_start, following_end)
        average_x = sum(x[i] for i in span) / len(span)
        average_y = sum(y[i] for i in span) / len(span)
        best, best_area = -1, -1.0
        for i in range(math.floor(bucket * every) + 1, following_start):
            area = abs(
                (x[previous] - average_x) * (y[i] - y[previous])
                - (x[previous] - x[i]) * (average_y - y[previous])
            )
            if area > best_area:
                best, best_area = i, area
        chosen.append(best)
        previous = best
    chosen.append(count - 1)
    return chosen


def test_short_series_kept_whole() -> None:
    assert lttb_indices([0, 1, 2], [5.0, 6.0, 7.0], 10) == [0, 1, 2]


def test_keeps_ends_and_count() -> None:
    values = list(np.sin(np.linspace(0, 20, 1_000)))
    indices = lttb_indices(range(1_000), values, 50)
    assert len(indices) == 50
    assert indices[0] == 0
    assert indices[-1] == 999
    assert indices == sorted(indices)


def test_spike_survives() -> None:
    values = [0.0] * 10_000
    values[4_321] = 100.0
    assert 4_321 in lttb_indices(range(10_000), values, 100)


def test_nan_points_never_crash() -> None:
    values = [float("nan")] * 50 + [float(i) for i in range(50)] + [math.inf]
    indices = lttb_indices(range(101), values, 10)
    assert len(indices) == 10
    assert indices[0] == 0


def test_too_few_points_rejected() -> None:
    with pytest.raises(ConfigError, match="max_points must be at least 3, got 2"):
        lttb_indices([0, 1, 2, 3], [0.0, 1.0, 2.0, 3.0], 2)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=300),
    st.integers(3, 60),
)
def test_matches_reference_algorithm(values: list[float], threshold: int) -> None:
    steps = [float(i) for i in range(len(values))]
    assert lttb_indices(steps, values, threshold) == reference_lttb(
        steps, values, threshold
    )


def test_run_history_downsampled(tether_home: Path) -> None:
    with tether.start_run(experiment="long") as run:
        for step in range(5_000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    view = tether.get_run(run.id)
    full = view.metric_history("loss")
    reduced = view.metric_history("loss", max_points=200)
    assert len(full) == 5_000
    assert len(reduced) == 200
    assert reduced[0].step == 0
    assert reduced[-1].step == 4_999
