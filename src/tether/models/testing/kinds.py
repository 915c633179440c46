"""The kinds of model tests, by the name a YAML suite gives in ``kind``."""

from __future__ import annotations

from tether.models.testing.base import ModelTest
from tether.models.testing.champion import ChampionComparison
from tether.models.testing.directional import Directional
from tether.models.testing.fairness_check import FairnessTest
from tether.models.testing.invariance import Invariance
from tether.models.testing.latency import LatencyBudget
from tether.models.testing.slices import SliceMetric
from tether.models.testing.threshold import MetricThreshold

TEST_KINDS: dict[str, type[ModelTest]] = {
    cls.KIND: cls
    for cls in (
        MetricThreshold,
        ChampionComparison,
        SliceMetric,
        Invariance,
        Directional,
        LatencyBudget,
        FairnessTest,
    )
}
"""Test classes by kind: metric, champion, slice, invariance, directional, latency, fairness."""
