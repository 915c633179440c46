"""Tests for loading scikit-learn models: the skops import and the tree checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

import tether
from tether.errors import UntrustedModelError
from tether.models.flavors.sklearn import dumps_estimator, loads_estimator
from tether.models.flavors.tree_checks import check_trees

NAMES_SCRIPT = """
import json, sys
{setup}
import skops.io._trusted_types as t
print(json.dumps({{"names": t.SKLEARN_ESTIMATOR_TYPE_NAMES,
                  "all_modules": "sklearn.semi_supervised" in sys.modules}}))
"""
CACHED = (
    "from tether.models.flavors.skops_import import import_skops_io; import_skops_io()"
)


def _trusted_names(setup: str, cache: Path) -> dict[str, object]:
    env = {"TETHER_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    output = subprocess.run(
        [sys.executable, "-c", NAMES_SCRIPT.format(setup=setup)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    result: dict[str, object] = json.loads(output)
    return result


def test_cached_import_trusts_same_names(tmp_path: Path) -> None:
    plain = _trusted_names("", tmp_path)
    first = _trusted_names(CACHED, tmp_path)
    cached = _trusted_names(CACHED, tmp_path)
    assert len(plain["names"]) > 100  # type: ignore[arg-type]
    assert first["names"] == plain["names"]
    assert cached["names"] == plain["names"]
    # Without the cache, skops imports every scikit-learn module; with it, not.
    assert (plain["all_modules"], first["all_modules"]) == (True, True)
    assert cached["all_modules"] is False
    (cache_file,) = tmp_path.glob("sklearn-*-estimators.json")
    assert json.loads(cache_file.read_text()) == plain["names"]


def test_broken_cache_is_rebuilt(tmp_path: Path) -> None:
    plain = _trusted_names("", tmp_path)
    _trusted_names(CACHED, tmp_path)
    (cache_file,) = tmp_path.glob("sklearn-*-estimators.json")
    cache_file.write_text("[1, 2")
    assert _trusted_names(CACHED, tmp_path)["names"] == plain["names"]
    assert json.loads(cache_file.read_text()) == plain["names"]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    features, labels = make_classification(300, 6, random_state=0)
    return features, labels


def _forest(data: tuple[np.ndarray, np.ndarray]) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=3, random_state=0).fit(*data)


def _set_node(tree: object, field: str, index: int, value: int) -> None:
    state = tree.__getstate__()  # type: ignore[attr-defined]
    nodes = state["nodes"].copy()
    nodes[field][index] = value
    state["nodes"] = nodes
    tree.__setstate__(state)  # type: ignore[attr-defined]


def test_valid_models_pass(data: tuple[np.ndarray, np.ndarray]) -> None:
    boosted = HistGradientBoostingClassifier(max_iter=3).fit(*data)
    assert check_trees(_forest(data)) == 3
    assert check_trees(boosted) == 3
    loaded = loads_estimator(dumps_estimator(boosted))
    np.testing.assert_array_equal(loaded.predict(data[0]), boosted.predict(data[0]))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("left_child", 10**6, "child outside"),
        ("right_child", 0, "before itself"),
        ("feature", 99, "feature outside 0..5"),
        ("left_child", -1, "exactly one child"),
    ],
)
def test_crafted_tree_rejected(
    data: tuple[np.ndarray, np.ndarray], field: str, value: int, message: str
) -> None:
    forest = _forest(data)
    _set_node(forest.estimators_[1].tree_, field, 0, value)
    with pytest.raises(UntrustedModelError, match=f"malformed: .*{message}"):
        loads_estimator(dumps_estimator(forest))


def test_crafted_boosted_tree_rejected(data: tuple[np.ndarray, np.ndarray]) -> None:
    boosted = HistGradientBoostingClassifier(max_iter=2).fit(*data)
    boosted._predictors[1][0].nodes["left"][0] = 10**5
    with pytest.raises(UntrustedModelError, match="child outside"):
        loads_estimator(dumps_estimator(boosted))


def test_registry_load_checks_trees(
    tether_home: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    forest = _forest(data)
    frame = pd.DataFrame(data[0], columns=[f"x{i}" for i in range(6)])
    forest.fit(frame, data[1])
    _set_node(forest.estimators_[0].tree_, "feature", 0, 42)
    version = tether.models.register_model(forest, "crafted")
    with pytest.raises(UntrustedModelError, match="do not load it"):
        tether.models.load(version.uri)
