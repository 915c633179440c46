"""Tests for model test suites run from the SDK: each kind of test, storage and gating."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

import tether
from model_testing_helpers import (
    FEATURES,
    fit_classifier,
    fit_regressor,
    make_frame,
    register,
    register_data,
)
from pipeline_helpers import ModuleWriter
from registry_helpers import record_passing_tests
from tether.errors import ConfigError, PromotionError
from tether.models.testing import (
    ChampionComparison,
    Directional,
    Invariance,
    LatencyBudget,
    MetricThreshold,
    ModelTest,
    SliceMetric,
    Suite,
    run_tests,
)
from tether.store import get_store


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def holdout(tether_home: Path, frame: pd.DataFrame) -> str:
    """The URI of ``frame`` registered as a dataset version."""
    return register_data(frame)


def _suite(holdout: str, *tests: ModelTest, label: str | None = "late") -> Suite:
    return Suite(name="checks", tests=list(tests), dataset=holdout, label=label)


def _probabilities(frame: pd.DataFrame, model: Pipeline) -> np.ndarray:
    return model.predict_proba(frame[FEATURES])[:, 1]


def _fit_with_region(frame: pd.DataFrame) -> Pipeline:
    """Fit a classifier that also reads the string column ``region``."""
    encode = make_column_transformer(
        (OneHotEncoder(), ["region"]), (StandardScaler(), FEATURES)
    )
    model = make_pipeline(encode, LogisticRegression())
    return model.fit(frame[[*FEATURES, "region"]], frame["late"])


def test_metric_threshold_stores_value(holdout: str, frame: pd.DataFrame) -> None:
    model = fit_classifier(frame)
    version = register(model, frame)
    suite = _suite(holdout, MetricThreshold("auc", metric="roc_auc", min=0.5))

    result = run_tests(version.uri, suite)

    expected = roc_auc_score(frame["late"], _probabilities(frame, model))
    [auc] = result.results
    assert auc.passed
    assert auc.value == pytest.approx(expected)
    assert auc.values == {"roc_auc": pytest.approx(expected), "rows": len(frame)}
    assert auc.thresholds == {"min": 0.5, "max": None}
    assert auc.dataset == "datasets:/holdout@1"
    assert auc.message.startswith(f"roc_auc = {expected:.4g} on datasets:/holdout@1")
    stored = get_store().test_results("m", 1)
    assert len(stored) == 1
    assert stored[0].suite == "checks"
    assert stored[0].id == result.test_id
    assert stored[0].results == [auc.to_dict()]
    assert stored[0].required_passed


def test_metric_threshold_fails_outside_bounds(
    holdout: str, frame: pd.DataFrame
) -> None:
    version = register(fit_classifier(frame), frame)
    suite = _suite(
        holdout,
        MetricThreshold("too_high", metric="accuracy", min=0.999),
        MetricThreshold("too_low", metric="accuracy", max=0.1),
    )
    result = run_tests(version.uri, suite)
    assert [r.passed for r in result.results] == [False, False]
    assert "below the minimum 0.999" in result.results[0].message
    assert "above the maximum 0.1" in result.results[1].message
    assert not result.required_passed
    with pytest.raises(PromotionError, match="too_high, too_low"):
        tether.models.set_alias("m", "champion", 1)


def test_classifier_metrics_match_sklearn(holdout: str, frame: pd.DataFrame) -> None:
    model = fit_classifier(frame)
    version = register(model, frame)
    metrics = ("accuracy", "f1", "roc_auc", "log_loss")
    suite = _suite(holdout, *(MetricThreshold(m, metric=m, min=-1.0) for m in metrics))
    values = {r.name: r.value for r in run_tests(version.uri, suite).results}
    labels = model.predict(frame[FEATURES])
    scores = model.predict_proba(frame[FEATURES])
    assert values["accuracy"] == pytest.approx(accuracy_score(frame["late"], labels))
    assert values["f1"] == pytest.approx(f1_score(frame["late"], labels))
    assert values["roc_auc"] == pytest.approx(
        roc_auc_score(frame["late"], scores[:, 1])
    )
    assert values["log_loss"] == pytest.approx(log_loss(frame["late"], scores))


def test_regressor_metrics_match_sklearn(holdout: str, frame: pd.DataFrame) -> None:
    model = fit_regressor(frame)
    version = register(model, frame, name="spend")
    suite = _suite(
        holdout,
        *(MetricThreshold(m, metric=m, min=-100.0) for m in ("rmse", "mae", "r2")),
        label="spend",
    )
    values = {r.name: r.value for r in run_tests(version.uri, suite).results}
    predicted = model.predict(frame[FEATURES])
    rmse = math.sqrt(mean_squared_error(frame["spend"], predicted))
    assert values["rmse"] == pytest.approx(rmse)
    assert values["mae"] == pytest.approx(
        mean_absolute_error(frame["spend"], predicted)
    )
    assert values["r2"] == pytest.approx(r2_score(frame["spend"], predicted))


def test_missing_labels_are_left_out(tether_home: Path, frame: pd.DataFrame) -> None:
    model = fit_classifier(frame)
    version = register(model, frame)
    with_gaps = frame.astype({"late": "float64"})
    with_gaps.loc[with_gaps.index[:40], "late"] = np.nan
    suite = _suite(
        register_data(with_gaps), MetricThreshold("acc", metric="accuracy", min=0.0)
    )
    [accuracy] = run_tests(version.uri, suite).results
    labelled = frame.iloc[40:]
    expected = accuracy_score(labelled["late"], model.predict(labelled[FEATURES]))
    assert accuracy.value == pytest.approx(expected)
    assert accuracy.values["rows"] == len(frame) - 40


def test_champion_absent_passes(holdout: str, frame: pd.DataFrame) -> None:
    version = register(fit_classifier(frame), frame)
    suite = _suite(
        holdout, ChampionComparison("beat", metric="roc_auc", min_improvement=0.5)
    )
    [beat] = run_tests(version.uri, suite).results
    assert beat.passed
    assert beat.value is None
    assert "has no alias 'champion', so the test passes" in beat.message


def test_champion_itself_passes(holdout: str, frame: pd.DataFrame) -> None:
    version = register(fit_classifier(frame), frame)
    record_passing_tests("m", 1)
    tether.models.set_alias("m", "champion", 1)
    suite = _suite(
        holdout, ChampionComparison("beat", metric="roc_auc", min_improvement=0.5)
    )
    [beat] = run_tests(version.uri, suite).results
    assert beat.passed
    assert "models:/m/1 is @champion itself" in beat.message
    assert beat.values == {"champion_version": 1}


def test_champion_comparison_measures_improvement(
    holdout: str, frame: pd.DataFrame
) -> None:
    weak = fit_classifier(frame, ["shoe_size"])
    register(weak, frame, columns=["shoe_size"])
    record_passing_tests("m", 1)
    tether.models.set_alias("m", "champion", 1)
    strong = fit_classifier(frame)
    candidate = register(strong, frame)
    suite = _suite(
        holdout,
        ChampionComparison("auc", metric="roc_auc", min_improvement=0.1),
        ChampionComparison("loss", metric="log_loss", min_relative_improvement=0.1),
        ChampionComparison("strict", metric="roc_auc", min_improvement=1.0),
    )

    auc, loss, strict = run_tests(candidate.uri, suite).results

    strong_auc = roc_auc_score(frame["late"], _probabilities(frame, strong))
    weak_auc = roc_auc_score(
        frame["late"], weak.predict_proba(frame[["shoe_size"]])[:, 1]
    )
    assert auc.passed
    assert auc.values["candidate"] == pytest.approx(strong_auc)
    assert auc.values["champion"] == pytest.approx(weak_auc)
    assert auc.values["champion_version"] == 1
    assert auc.value == pytest.approx(strong_auc - weak_auc)
    assert auc.values["relative_improvement"] == pytest.approx(
        (strong_auc - weak_auc) / weak_auc
    )
    assert auc.message.endswith("at least the minimum improvement 0.1")
    strong_loss = log_loss(frame["late"], strong.predict_proba(frame[FEATURES]))
    weak_loss = log_loss(frame["late"], weak.predict_proba(frame[["shoe_size"]]))
    # Lower is better for log loss, so the improvement is champion minus candidate.
    assert loss.value == pytest.approx(weak_loss - strong_loss)
    assert loss.passed
    assert loss.message.endswith("at least the minimum relative improvement +10.00%")
    assert not strict.passed
    assert "below the minimum improvement 1" in strict.message


def test_champion_better_fails_candidate(holdout: str, frame: pd.DataFrame) -> None:
    register(fit_classifier(frame), frame)
    record_passing_tests("m", 1)
    tether.models.set_alias("m", "champion", 1)
    weak = register(fit_classifier(frame, ["shoe_size"]), frame, columns=["shoe_size"])
    suite = _suite(
        holdout, ChampionComparison("auc", metric="roc_auc", min_improvement=0.0)
    )
    [auc] = run_tests(weak.uri, suite).results
    assert not auc.passed
    assert auc.value is not None
    assert auc.value < 0
    with pytest.raises(PromotionError, match="auc"):
        tether.models.set_alias("m", "champion", 2)


def test_champion_alias_is_configurable(holdout: str, frame: pd.DataFrame) -> None:
    register(fit_classifier(frame, ["shoe_size"]), frame, columns=["shoe_size"])
    tether.models.set_alias("m", "baseline", 1)
    candidate = register(fit_classifier(frame), frame)
    suite = _suite(
        holdout,
        ChampionComparison(
            "auc", metric="roc_auc", alias="baseline", min_improvement=0.0
        ),
    )
    [auc] = run_tests(candidate.uri, suite).results
    assert auc.passed
    assert auc.values["champion_version"] == 1
    assert "(@baseline)" in auc.message


def test_slice_metric_judges_large_slices(holdout: str, frame: pd.DataFrame) -> None:
    model = fit_classifier(frame)
    version = register(model, frame)
    predicted = pd.Series(model.predict(frame[FEATURES]), index=frame.index)
    expected = {
        region: accuracy_score(frame.loc[rows, "late"], predicted[rows])
        for region, rows in frame.groupby("region").groups.items()
    }
    worst_large = min(expected["north"], expected["south"])
    suite = _suite(
        holdout,
        SliceMetric(
            "regions",
            column="region",
            metric="accuracy",
            min=worst_large + 1e-9,
            min_size=50,
            required=False,
        ),
    )

    result = run_tests(version.uri, suite)

    [regions] = result.results
    slices = {entry["slice"]: entry for entry in regions.values["slices"]}
    assert set(slices) == {"north", "south", "east"}
    for region, value in expected.items():
        assert slices[region]["value"] == pytest.approx(value)
        assert slices[region]["rows"] == int((frame["region"] == region).sum())
    assert slices["east"]["rows"] < 50
    assert not slices["east"]["judged"]
    assert "passed" not in slices["east"]
    assert regions.values["judged"] == 2
    assert regions.value == pytest.approx(worst_large)
    assert not regions.passed
    assert "1 of 2 judged slices are not at least" in regions.message
    assert "1 slice not judged (under 50 labelled rows" in regions.message
    # Not required: the suite fails, but the champion gate is open.
    assert not result.passed
    assert result.required_passed
    assert tether.models.set_alias("m", "champion", 1).aliases == ("champion",)


def test_slice_missing_values_form_slice(
    tether_home: Path, frame: pd.DataFrame
) -> None:
    version = register(fit_classifier(frame), frame)
    gaps = frame.astype({"region": object})
    gaps.loc[gaps.index[:60], "region"] = None
    suite = _suite(
        register_data(gaps),
        SliceMetric("regions", column="region", metric="accuracy", min=0.0),
    )
    [regions] = run_tests(version.uri, suite).results
    slices = {entry["slice"]: entry["rows"] for entry in regions.values["slices"]}
    assert slices["(missing)"] == 60
    assert sum(slices.values()) == len(frame)


def test_invariance_shuffle_irrelevant_feature(
    holdout: str, frame: pd.DataFrame
) -> None:
    model = fit_classifier(frame)
    version = register(model, frame)
    suite = _suite(
        holdout,
        Invariance(
            "shoes",
            feature="shoe_size",
            perturb="shuffle",
            seed=5,
            max_changed_share=0.1,
            max_probability_change=0.9,
        ),
    )
    [shoes] = run_tests(version.uri, suite).results

    shuffled = frame[FEATURES].copy()
    order = np.random.default_rng(5).permutation(len(frame))
    shuffled["shoe_size"] = frame["shoe_size"].to_numpy()[order]
    changed = np.mean(model.predict(shuffled) != model.predict(frame[FEATURES]))
    largest = np.abs(
        model.predict_proba(shuffled) - model.predict_proba(frame[FEATURES])
    ).max()
    assert shoes.values["changed_share"] == pytest.approx(changed)
    assert shoes.values["probability_change"] == pytest.approx(largest)
    assert shoes.value == pytest.approx(changed)
    assert shoes.passed
    assert shoes.thresholds == {
        "max_changed_share": 0.1,
        "max_probability_change": 0.9,
    }


def test_invariance_set_relevant_feature_fails(
    holdout: str, frame: pd.DataFrame
) -> None:
    model = fit_classifier(frame)
    version = register(model, frame)
    suite = _suite(
        holdout,
        Invariance(
            "income",
            feature="income",
            perturb="set",
            value=10.0,
            max_changed_share=0.05,
        ),
    )
    [income] = run_tests(version.uri, suite).results
    flat = frame[FEATURES].assign(income=10.0)
    changed = np.mean(model.predict(flat) != model.predict(frame[FEATURES]))
    assert changed > 0.05
    assert income.value == pytest.approx(changed)
    assert not income.passed
    assert "changed share" in income.message
    assert "is above 0.05" in income.message


def test_invariance_noise_rounds_integers(holdout: str, frame: pd.DataFrame) -> None:
    model = fit_regressor(frame)
    version = register(model, frame, name="spend")
    suite = _suite(
        holdout,
        Invariance(
            "age", feature="age", perturb="noise", scale=2.0, max_prediction_change=5.0
        ),
        label=None,
    )
    [age] = run_tests(version.uri, suite).results
    noisy = frame[FEATURES].copy()
    noise = np.random.default_rng(0).normal(0.0, 2.0, size=len(frame))
    noisy["age"] = np.round(frame["age"].to_numpy(dtype=float) + noise)
    largest = np.abs(model.predict(noisy) - model.predict(frame[FEATURES])).max()
    assert age.values["prediction_change"] == pytest.approx(largest)
    assert age.passed


def test_directional_probability_of_class(holdout: str, frame: pd.DataFrame) -> None:
    version = register(fit_classifier(frame), frame)
    suite = _suite(
        holdout,
        Directional(
            "richer",
            feature="income",
            change=1.0,
            expect="increase",
            probability_of=1,
            min_share=0.99,
        ),
        Directional(
            "poorer_wrong_way",
            feature="income",
            change=-1.0,
            expect="increase",
            probability_of=1,
            min_share=0.5,
            required=False,
        ),
    )
    richer, wrong = run_tests(version.uri, suite).results
    assert richer.passed
    assert richer.value == 1.0
    assert richer.values == {
        "share": 1.0,
        "rows": len(frame),
        "increased": len(frame),
        "decreased": 0,
        "unchanged": 0,
    }
    assert not wrong.passed
    assert wrong.value == 0.0
    assert wrong.values["decreased"] == len(frame)


def test_directional_regression_prediction(holdout: str, frame: pd.DataFrame) -> None:
    model = fit_regressor(frame)
    version = register(model, frame, name="spend")
    suite = _suite(
        holdout,
        Directional("older", feature="age", change=5, expect="increase", min_share=1.0),
        label=None,
    )
    [older] = run_tests(version.uri, suite).results
    assert model.coef_[0] > 0
    assert older.passed
    assert older.values["increased"] == len(frame)


def test_directional_allow_equal_counts_unchanged(
    holdout: str, frame: pd.DataFrame
) -> None:
    version = register(fit_classifier(frame), frame)
    suite = _suite(
        holdout,
        Directional(
            "labels",
            feature="income",
            change=0.01,
            expect="increase",
            probability_of=1,
            min_share=1.0,
            allow_equal=True,
        ),
    )
    [labels] = run_tests(version.uri, suite).results
    assert labels.passed
    assert "increase or unchanged" in labels.message


def test_latency_budgets(holdout: str, frame: pd.DataFrame) -> None:
    version = register(fit_classifier(frame), frame)
    suite = _suite(
        holdout,
        LatencyBudget(
            "generous",
            batch_size=64,
            repeats=5,
            max_row_median_ms=60_000,
            max_row_p95_ms=60_000,
            max_batch_median_ms=60_000,
            max_batch_p95_ms=60_000,
        ),
        LatencyBudget("impossible", repeats=3, max_batch_p95_ms=0),
    )
    generous, impossible = run_tests(version.uri, suite).results
    assert generous.passed
    for key in ("row_median_ms", "row_p95_ms", "batch_median_ms", "batch_p95_ms"):
        assert isinstance(generous.values[key], float)
        assert generous.values[key] > 0
    assert generous.values["batch_size"] == 64
    assert generous.values["repeats"] == 5
    assert not impossible.passed
    assert impossible.values["batch_p95_ms"] > 0
    assert "row_median_ms" not in impossible.values
    assert "is above 0" in impossible.message


def test_latency_uses_input_example(tether_home: Path, frame: pd.DataFrame) -> None:
    version = register(fit_classifier(frame), frame)
    suite = Suite(
        name="speed",
        tests=[LatencyBudget("rows", repeats=2, batch_size=8, max_row_p95_ms=60_000)],
    )
    [rows] = run_tests(version.uri, suite).results
    assert rows.passed
    assert rows.dataset == "the input example of models:/m/1"
    assert rows.values["row_p95_ms"] > 0


def test_run_uses_attached_suite(holdout: str, frame: pd.DataFrame) -> None:
    version = register(fit_classifier(frame), frame)
    suite_file = Path("suite.yaml")
    suite_file.write_text(
        f"name: attached\ndataset: {holdout}\nlabel: late\ntests:\n"
        "  - name: auc\n    kind: metric\n    metric: roc_auc\n    min: 0.5\n"
    )
    attached = tether.models.attach_suite("m", suite_file)
    assert attached.name == "attached"
    assert get_store().test_suite("m") == {"yaml": suite_file.read_text()}
    suite_file.unlink()

    result = tether.models.run_tests(version.uri)

    assert result.suite == "attached"
    assert [r.name for r in result.results] == ["auc"]
    assert result.required_passed


def test_run_without_suite_raises(holdout: str, frame: pd.DataFrame) -> None:
    version = register(fit_classifier(frame), frame)
    with pytest.raises(ConfigError, match="model 'm' has no test suite attached"):
        run_tests(version.uri)


def test_data_overrides_suite_dataset(holdout: str, frame: pd.DataFrame) -> None:
    model = fit_classifier(frame)
    version = register(model, frame)
    suite = _suite(holdout, MetricThreshold("acc", metric="accuracy", min=0.0))
    part = frame.iloc[:100]
    [from_frame] = run_tests(version.uri, suite, data=part).results
    assert from_frame.dataset == "a DataFrame of 100 rows"
    expected = accuracy_score(part["late"], model.predict(part[FEATURES]))
    assert from_frame.value == pytest.approx(expected)
    other = register_data(part, "first-hundred")
    [from_uri] = run_tests(version.uri, suite, data=other).results
    assert from_uri.dataset == "datasets:/first-hundred@1"
    assert from_uri.value == pytest.approx(expected)


def test_python_suite_attached_by_reference(
    holdout: str, frame: pd.DataFrame, write_module: ModuleWriter
) -> None:
    version = register(fit_classifier(frame), frame)
    module = write_module(
        "team_suites",
        f"""
        from tether.models.testing import MetricThreshold, Suite

        SUITE = Suite(
            name="python-suite",
            dataset="{holdout}",
            label="late",
            tests=[MetricThreshold("auc", metric="roc_auc", min=0.5)],
        )


        def build_suite():
            return SUITE
        """,
    )
    tether.models.attach_suite("m", module.SUITE)
    assert get_store().test_suite("m") == {"python": "team_suites:SUITE"}
    assert run_tests(version.uri).suite == "python-suite"
    tether.models.attach_suite("m", module.build_suite)
    assert get_store().test_suite("m") == {"python": "team_suites:build_suite"}
    tether.models.attach_suite("m", "team_suites:SUITE")
    assert run_tests(version.uri).results[0].passed


def test_local_python_suite_cannot_attach(holdout: str, frame: pd.DataFrame) -> None:
    register(fit_classifier(frame), frame)
    local = _suite(holdout, MetricThreshold("auc", metric="roc_auc", min=0.5))
    with pytest.raises(ConfigError, match="not a module-level name"):
        tether.models.attach_suite("m", local)
    assert get_store().test_suite("m") is None


def test_error_fails_only_its_test(holdout: str, frame: pd.DataFrame) -> None:
    # The champion reads a column that the holdout lacks, so scoring it fails.
    wide = frame.assign(extra=1.0)
    champion = fit_classifier(wide, [*FEATURES, "extra"])
    register(champion, wide, columns=[*FEATURES, "extra"])
    record_passing_tests("m", 1)
    tether.models.set_alias("m", "champion", 1)
    candidate = register(fit_classifier(frame), frame)
    suite = _suite(
        holdout,
        ChampionComparison("beat", metric="roc_auc", min_improvement=0.0),
        MetricThreshold("auc", metric="roc_auc", min=0.5),
    )
    beat, auc = run_tests(candidate.uri, suite).results
    assert not beat.passed
    assert beat.message.startswith("error: missing input column 'extra'")
    assert auc.passed


def test_unknown_feature_rejected(holdout: str, frame: pd.DataFrame) -> None:
    version = register(
        fit_classifier(frame, ["age", "income"]), frame, columns=["age", "income"]
    )
    suite = _suite(
        holdout,
        Invariance(
            "shoes", feature="shoe_size", perturb="shuffle", max_changed_share=0.1
        ),
    )
    with pytest.raises(ConfigError, match="'shoe_size' is not an input of models:/m/1"):
        run_tests(version.uri, suite)
    assert get_store().test_results("m", 1) == []


def test_probability_metric_needs_predict_proba(
    holdout: str, frame: pd.DataFrame
) -> None:
    svm = make_pipeline(StandardScaler(), LinearSVC()).fit(
        frame[FEATURES], frame["late"]
    )
    version = register(svm, frame)
    suite = _suite(holdout, MetricThreshold("auc", metric="roc_auc", min=0.5))
    with pytest.raises(ConfigError, match="roc_auc needs class probabilities"):
        run_tests(version.uri, suite)


def test_noise_needs_numeric_feature(tether_home: Path, frame: pd.DataFrame) -> None:
    version = register(_fit_with_region(frame), frame, columns=[*FEATURES, "region"])
    suite = _suite(
        register_data(frame),
        Invariance(
            "region",
            feature="region",
            perturb="noise",
            scale=1.0,
            max_changed_share=0.1,
        ),
    )
    with pytest.raises(ConfigError, match="noise needs a numeric feature"):
        run_tests(version.uri, suite)


def test_override_changes_one_test(holdout: str) -> None:
    suite = _suite(
        holdout,
        MetricThreshold("auc", metric="roc_auc", min=0.5),
        MetricThreshold("acc", metric="accuracy", min=0.5),
    )
    changed = suite.override("auc", min=0.9)
    assert changed.test("auc") == MetricThreshold("auc", metric="roc_auc", min=0.9)
    assert changed.test("acc") is suite.test("acc")
    assert suite.test("auc") == MetricThreshold("auc", metric="roc_auc", min=0.5)
    with pytest.raises(ConfigError, match="has no field 'minimum'"):
        suite.override("auc", minimum=0.9)
    with pytest.raises(ConfigError, match="min must be a number"):
        suite.override("auc", min="high")
    with pytest.raises(ConfigError, match="has no test 'f1'; its tests are auc, acc"):
        suite.override("f1", min=0.5)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: MetricThreshold("x", metric="auc", min=0.5),
            "unknown metric 'auc'; use one of: accuracy, f1, roc_auc",
        ),
        (lambda: MetricThreshold("x", metric="f1"), "needs min, max or both"),
        (
            lambda: MetricThreshold("x", metric="f1", min=0.9, max=0.1),
            "min 0.9 is greater than max 0.1",
        ),
        (
            lambda: ChampionComparison("x", metric="f1"),
            "needs at least one of min_improvement, min_relative_improvement",
        ),
        (
            lambda: SliceMetric("x", column="c", metric="f1", min=0.5, min_size=0),
            "min_size must be a whole number of at least 1",
        ),
        (
            lambda: Invariance("x", feature="f", perturb="swap", max_changed_share=0.1),
            "unknown perturb 'swap'",
        ),
        (
            lambda: Invariance(
                "x", feature="f", perturb="noise", max_changed_share=0.1
            ),
            "noise needs a positive 'scale'",
        ),
        (
            lambda: Invariance(
                "x", feature="f", perturb="shuffle", max_changed_share=2
            ),
            "max_changed_share must be a number from 0 to 1",
        ),
        (
            lambda: Invariance("x", feature="f", perturb="shuffle"),
            "needs at least one of max_changed_share",
        ),
        (
            lambda: Directional(
                "x", feature="f", change=0, expect="increase", min_share=1
            ),
            "change must be a number other than 0",
        ),
        (
            lambda: Directional("x", feature="f", change=1, expect="up", min_share=1),
            "unknown expect 'up'; use one of: increase, decrease",
        ),
        (lambda: LatencyBudget("x"), "needs at least one of max_row_median_ms"),
        (
            lambda: LatencyBudget("x", repeats=0, max_row_p95_ms=1),
            "repeats must be a whole number of at least 1",
        ),
        (
            lambda: MetricThreshold("", metric="f1", min=0.5),
            "name must be a non-empty string",
        ),
        (
            lambda: MetricThreshold("x", metric="f1", min=0.5, required="yes"),
            "required must be true or false",
        ),
        (
            lambda: MetricThreshold("x", metric="f1", min=0.5, dataset="flights"),
            "invalid dataset URI 'flights'",
        ),
    ],
)
def test_invalid_test_fields(build: Callable[[], ModelTest], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build()
    assert message in str(raised.value)


def test_suite_rejects_duplicate_names() -> None:
    tests = [
        MetricThreshold("auc", metric="roc_auc", min=0.5),
        MetricThreshold("auc", metric="accuracy", min=0.5),
    ]
    with pytest.raises(ConfigError, match="another test of the suite is called 'auc'"):
        Suite(name="s", tests=tests)
    with pytest.raises(ConfigError, match="the suite has no tests"):
        Suite(name="s", tests=[])


def test_fairness_test_bounds_a_disparity(holdout: str, frame: pd.DataFrame) -> None:
    from tether.models.testing.fairness_check import FairnessTest

    model = fit_classifier(frame)
    version = register(model, frame)
    predicted = model.predict(frame[FEATURES])
    rates = pd.Series(predicted, index=frame.index).groupby(frame["region"]).mean()
    expected = float(rates.max() - rates.min())
    suite = _suite(
        holdout,
        FairnessTest(
            "parity by region",
            column="region",
            metric="demographic_parity_difference",
            max=expected - 1e-9,
            required=False,
        ),
        FairnessTest(
            "odds by region",
            column="region",
            metric="equalized_odds_difference",
            max=1.0,
        ),
    )
    result = run_tests(version.uri, suite)
    parity, odds = result.results
    assert parity.value == pytest.approx(expected)
    assert not parity.passed
    assert "demographic_parity_difference by region" in parity.message
    assert "above the maximum" in parity.message
    assert odds.passed and 0.0 <= odds.value <= 1.0
    with pytest.raises(ConfigError, match="metric"):
        FairnessTest("bad", column="region", metric="parity")
