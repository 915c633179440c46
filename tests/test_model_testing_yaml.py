"""Tests for YAML test suites: every kind and key, and errors that name the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

import tether
from model_testing_helpers import (
    fit_classifier,
    make_frame,
    register,
    register_data,
    write_suite,
)
from tether.errors import ConfigError
from tether.models.testing import (
    ChampionComparison,
    Directional,
    Invariance,
    LatencyBudget,
    MetricThreshold,
    SliceMetric,
    load_suite,
    parse_suite,
    run_tests,
)
from tether.store import get_store

EXAMPLE_SUITE = Path(__file__).parents[1] / "examples" / "flights" / "model-tests.yaml"

EVERY_KIND = """
name: every-kind
description: one test of each kind
dataset: datasets:/holdout@1
label: late
tests:
  - name: auc
    kind: metric
    metric: roc_auc
    min: 0.6
    max: 1
  - name: beat
    kind: champion
    metric: log_loss
    alias: production
    min_improvement: -0.01
    min_relative_improvement: 0.0
    required: false
  - name: regions
    kind: slice
    column: region
    metric: accuracy
    min: 0.5
    min_size: 40
    label: late
  - name: shoes
    kind: invariance
    feature: shoe_size
    perturb: set
    value: 40
    max_changed_share: 0.05
    max_probability_change: 0.2
    seed: 3
  - name: richer
    kind: directional
    feature: income
    change: 0.5
    expect: increase
    probability_of: 1
    min_share: 0.9
    allow_equal: true
    dataset: datasets:/other@2
  - name: speed
    kind: latency
    batch_size: 32
    repeats: 4
    max_row_median_ms: 50
    max_row_p95_ms: 100
    max_batch_median_ms: 200
    max_batch_p95_ms: 400
"""


def test_every_kind_and_key_parses() -> None:
    suite = parse_suite(textwrap.dedent(EVERY_KIND), source="every.yaml")
    assert suite.name == "every-kind"
    assert suite.description == "one test of each kind"
    assert suite.dataset == "datasets:/holdout@1"
    assert suite.label == "late"
    assert list(suite.tests) == [
        MetricThreshold("auc", metric="roc_auc", min=0.6, max=1),
        ChampionComparison(
            "beat",
            metric="log_loss",
            alias="production",
            min_improvement=-0.01,
            min_relative_improvement=0.0,
            required=False,
        ),
        SliceMetric(
            "regions",
            column="region",
            metric="accuracy",
            min=0.5,
            min_size=40,
            label="late",
        ),
        Invariance(
            "shoes",
            feature="shoe_size",
            perturb="set",
            value=40,
            max_changed_share=0.05,
            max_probability_change=0.2,
            seed=3,
        ),
        Directional(
            "richer",
            feature="income",
            change=0.5,
            expect="increase",
            probability_of=1,
            min_share=0.9,
            allow_equal=True,
            dataset="datasets:/other@2",
        ),
        LatencyBudget(
            "speed",
            batch_size=32,
            repeats=4,
            max_row_median_ms=50,
            max_row_p95_ms=100,
            max_batch_median_ms=200,
            max_batch_p95_ms=400,
        ),
    ]
    assert suite.tests[2].where("column") == "every.yaml, line 21"


def test_defaults_of_optional_keys() -> None:
    suite = parse_suite(
        "tests:\n  - name: speed\n    kind: latency\n    max_row_p95_ms: 10\n",
        default_name="fallback",
    )
    assert suite.name == "fallback"
    assert suite.dataset is None
    assert suite.label is None
    [speed] = suite.tests
    assert speed == LatencyBudget("speed", max_row_p95_ms=10)
    assert speed.required
    assert speed.batch_size == 100
    assert speed.repeats == 20


def test_flights_example_suite_loads() -> None:
    suite = load_suite(EXAMPLE_SUITE)
    assert suite.name == "flight-delay-promotion"
    assert suite.label == "late"
    assert [(t.name, t.KIND, t.required) for t in suite.tests] == [
        ("min_auc", "metric", True),
        ("no_regression", "champion", True),
        ("auc_by_carrier", "slice", False),
        ("temp_noise", "invariance", True),
    ]


BAD_SUITES = [
    (
        "unknown kind",
        """
        tests:
          - name: auc
            kind: metrik
        """,
        "suite.yaml, line 3: test 1: unknown kind 'metrik'; did you mean 'metric'?",
    ),
    (
        "missing key",
        """
        tests:
          - name: auc
            kind: metric
            min: 0.5
        """,
        "suite.yaml, line 2: test 'auc' (metric) is missing the key(s) metric; "
        "add 'metric: ...'",
    ),
    (
        "missing name",
        """
        tests:
          - kind: latency
            max_row_p95_ms: 10
        """,
        "suite.yaml, line 2: test 1 is missing the key(s) name; add 'name: ...'",
    ),
    (
        "wrong type",
        """
        tests:
          - name: auc
            kind: metric
            metric: roc_auc
            min: high
        """,
        "suite.yaml, line 5: test 'auc' (metric): min must be a number, got 'high'",
    ),
    (
        "unknown metric",
        """
        tests:
          - name: auc
            kind: metric
            metric: auroc
            min: 0.5
        """,
        "suite.yaml, line 4: test 'auc' (metric): unknown metric 'auroc'; use one of:",
    ),
    (
        "unknown key",
        """
        tests:
          - name: auc
            kind: metric
            metric: roc_auc
            minimum: 0.5
        """,
        "suite.yaml, line 5: test 'auc' (metric): unknown key 'minimum'; "
        "did you mean 'min'?",
    ),
    (
        "unknown suite key",
        """
        name: s
        test: []
        """,
        "suite.yaml, line 2: unknown suite key 'test'; did you mean 'tests'?",
    ),
    (
        "tests not a list",
        """
        tests:
          name: auc
        """,
        "suite.yaml, line 1: 'tests' must be a list of tests, got dict",
    ),
    (
        "duplicate test name",
        """
        tests:
          - name: speed
            kind: latency
            max_row_p95_ms: 10
          - name: speed
            kind: latency
            max_row_p95_ms: 20
        """,
        "suite.yaml, line 5: test 'speed' (latency): another test of the suite is "
        "called 'speed'",
    ),
    (
        "duplicate key",
        """
        tests:
          - name: speed
            kind: latency
            max_row_p95_ms: 10
            max_row_p95_ms: 20
        """,
        "suite.yaml, line 5: key 'max_row_p95_ms' appears twice (first on line 4)",
    ),
    (
        "invalid YAML",
        """
        tests:
          - name: speed
           kind: latency
        """,
        "suite.yaml, line 3, column 4: invalid YAML:",
    ),
    (
        "not a mapping",
        """
        - name: speed
        """,
        "suite.yaml, line 1: a suite file must be a mapping with 'name' and 'tests'",
    ),
    (
        "bad dataset URI",
        """
        dataset: flights-test
        tests:
          - name: speed
            kind: latency
            max_row_p95_ms: 10
        """,
        "suite.yaml, line 1: suite: invalid dataset URI 'flights-test'",
    ),
    (
        "scale without noise",
        """
        tests:
          - name: shoes
            kind: invariance
            feature: shoe_size
            perturb: shuffle
            scale: 2
            max_changed_share: 0.1
        """,
        "suite.yaml, line 6: test 'shoes' (invariance): scale applies to perturb: "
        "noise only; remove it",
    ),
    (
        "required not a bool",
        """
        tests:
          - name: speed
            kind: latency
            max_row_p95_ms: 10
            required: sometimes
        """,
        "suite.yaml, line 5: test 'speed' (latency): required must be true or false",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [(text, message) for _, text, message in BAD_SUITES],
    ids=[case for case, _, _ in BAD_SUITES],
)
def test_bad_suite_names_line(tmp_path: Path, text: str, message: str) -> None:
    path = write_suite(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_suite(path)
    assert str(raised.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(raised.value)


def test_missing_file_names_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"suite file '.*nope\.yaml' not found"):
        load_suite(tmp_path / "nope.yaml")


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def model_name(tether_home: Path, frame: pd.DataFrame) -> str:
    """A registered classifier and its holdout data, ``datasets:/holdout@1``."""
    register(fit_classifier(frame), frame)
    register_data(frame)
    return "m"


ATTACH_ERRORS = [
    (
        "dataset not found",
        """
        dataset: datasets:/holdout@7
        label: late
        tests:
          - name: auc
            kind: metric
            metric: roc_auc
            min: 0.5
        """,
        "suite.yaml, line 1: suite: version 7 of dataset 'holdout' not found",
    ),
    (
        "test dataset not found",
        """
        label: late
        tests:
          - name: auc
            kind: metric
            metric: roc_auc
            min: 0.5
            dataset: datasets:/missing
        """,
        "suite.yaml, line 7: test 'auc' (metric): dataset 'missing' not found",
    ),
    (
        "unknown column",
        """
        dataset: datasets:/holdout@1
        label: late
        tests:
          - name: regions
            kind: slice
            column: regoin
            metric: accuracy
            min: 0.5
        """,
        "suite.yaml, line 6: test 'regions' (slice): column 'regoin' is not in "
        "datasets:/holdout@1; did you mean 'region'?",
    ),
    (
        "unknown suite label",
        """
        dataset: datasets:/holdout@1
        label: is_late
        tests:
          - name: auc
            kind: metric
            metric: roc_auc
            min: 0.5
        """,
        "suite.yaml, line 2: suite: test 'auc' (metric): column 'is_late' is not in "
        "datasets:/holdout@1",
    ),
    (
        "regressor metric on text labels",
        """
        dataset: datasets:/holdout@1
        label: region
        tests:
          - name: error
            kind: metric
            metric: rmse
            max: 1.0
        """,
        "suite.yaml, line 6: test 'error' (metric): rmse is a regressor metric, but "
        "the label column 'region' contains text; use one of accuracy, f1, roc_auc, "
        "log_loss for a classifier",
    ),
    (
        "no label",
        """
        dataset: datasets:/holdout@1
        tests:
          - name: auc
            kind: metric
            metric: roc_auc
            min: 0.5
        """,
        "suite.yaml, line 3: test 'auc' (metric): no label column; set 'label' in the "
        "suite or the test",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [(text, message) for _, text, message in ATTACH_ERRORS],
    ids=[case for case, _, _ in ATTACH_ERRORS],
)
def test_attach_checks_data(
    tmp_path: Path, model_name: str, text: str, message: str
) -> None:
    path = write_suite(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        tether.models.attach_suite(model_name, path)
    assert str(raised.value).startswith(f"{tmp_path}/{message}")
    assert get_store().test_suite(model_name) is None


def test_run_checks_data_before_tests(
    tmp_path: Path, model_name: str, frame: pd.DataFrame
) -> None:
    path = write_suite(
        tmp_path,
        """
        label: late
        tests:
          - name: auc
            kind: metric
            metric: roc_auc
            min: 0.5
        """,
    )
    with pytest.raises(ConfigError, match="no dataset to run on"):
        run_tests("models:/m/1", path)
    # Attaching accepts it, because a run can pass the data.
    tether.models.attach_suite(model_name, path)
    result = run_tests("models:/m/1", data="datasets:/holdout@1")
    assert result.results[0].passed
    without_region = register_data(frame.drop(columns=["region"]), "no-region")
    slices = write_suite(
        tmp_path,
        """
        label: late
        tests:
          - name: regions
            kind: slice
            column: region
            metric: accuracy
            min: 0.5
        """,
        name="slices.yaml",
    )
    with pytest.raises(
        ConfigError,
        match=r"slices.yaml, line 5: test 'regions' \(slice\): column 'region' is "
        r"not in datasets:/no-region@1",
    ):
        run_tests("models:/m/1", slices, data=without_region)
    assert len(get_store().test_results("m", 1)) == 1
