"""Model test suites: declared tests of a model version, run and stored with it.

A suite is declared in YAML or built in Python, attached to a model name with
:func:`attach_suite`, and run with :func:`run_tests` (``tether models test``).
The kinds of tests are metric thresholds, champion comparison, slice
metrics, invariance, directional expectations and latency budgets; see
``docs/model-testing.md``.
"""

from tether.models.testing.base import ModelTest, Origin
from tether.models.testing.champion import ChampionComparison
from tether.models.testing.directional import Directional
from tether.models.testing.invariance import Invariance
from tether.models.testing.kinds import TEST_KINDS
from tether.models.testing.latency import LatencyBudget
from tether.models.testing.metrics import METRICS
from tether.models.testing.report import ModelTestResult, SuiteResult
from tether.models.testing.runner import run_tests
from tether.models.testing.slices import SliceMetric
from tether.models.testing.sources import attach_suite, attached_suite
from tether.models.testing.suite import Suite
from tether.models.testing.threshold import MetricThreshold
from tether.models.testing.yaml_suite import load_suite, parse_suite

__all__ = [
    "METRICS",
    "TEST_KINDS",
    "ChampionComparison",
    "Directional",
    "Invariance",
    "LatencyBudget",
    "MetricThreshold",
    "ModelTest",
    "ModelTestResult",
    "Origin",
    "SliceMetric",
    "Suite",
    "SuiteResult",
    "attach_suite",
    "attached_suite",
    "load_suite",
    "parse_suite",
    "run_tests",
]
