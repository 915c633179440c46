"""The penguins example end to end: every flavor tested, registered, aliased, packaged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tether
from cli_helpers import run_json
from penguins.__main__ import main as example_main
from penguins.data import FEATURES, penguin_table
from penguins.run import FlavorResult, run
from penguins.trainers import TRAINERS
from tether.cli.main import main
from tether.models.packaged import load_package

FLAVORS = list(TRAINERS)


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[FlavorResult]]:
    """One run of the example for every flavor, in a store of its own."""
    home = tmp_path_factory.mktemp("penguins")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TETHER_HOME", str(home / ".tether"))
        patch.delenv("TETHER_STORE", raising=False)
        patch.delenv("TETHER_ARTIFACTS", raising=False)
        _reset()
        results = run(FLAVORS, home / "packages")
        _reset()
    return home, results


def _reset() -> None:
    from tether.artifacts import _objects
    from tether.store import reset_store

    reset_store()
    _objects.clear()


@pytest.fixture
def store(
    built: tuple[Path, list[FlavorResult]], monkeypatch: pytest.MonkeyPatch
) -> Path:
    home, _ = built
    monkeypatch.setenv("TETHER_HOME", str(home / ".tether"))
    monkeypatch.delenv("TETHER_STORE", raising=False)
    monkeypatch.delenv("TETHER_ARTIFACTS", raising=False)
    _reset()
    yield home
    _reset()


def test_every_flavor_passes_and_serves(
    store: Path, built: tuple[Path, list[FlavorResult]]
) -> None:
    _, results = built
    assert [r.flavor for r in results] == FLAVORS
    rows = penguin_table()[FEATURES].head(40)
    for result in results:
        assert result.passed, result.flavor
        assert result.champion, result.flavor
        assert result.accuracy is not None and result.accuracy >= 0.9
        version = tether.models.get_version(
            f"models:/penguins-{result.flavor}@champion"
        )
        assert (version.uri, version.flavor) == (result.uri, result.flavor)
        registered = tether.models.load(result.uri).predict(rows)
        packaged = load_package(result.package).predict(rows)
        np.testing.assert_array_equal(packaged, registered)
        assert set(np.unique(registered)) <= {0, 1, 2}


def test_python_flavor_needed_trust(store: Path) -> None:
    record = tether.models.get_version("models:/penguins-python/1")
    assert (record.flavor, record.trusted) == ("python", True)
    trail = tether.store.get_store().audit_trail(record.uri)
    assert trail[0].details["trusted"] is True


def test_sklearn_version_has_onnx(store: Path) -> None:
    rows = penguin_table()[FEATURES].head(40)
    native = tether.models.load("models:/penguins-sklearn/1").predict(rows)
    onnx = tether.models.load("models:/penguins-sklearn/1", runtime="onnx")
    np.testing.assert_array_equal(onnx.predict(rows), native)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_cli_test_alias_package(
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flavor: str,
) -> None:
    uri = f"models:/penguins-{flavor}/1"
    result = run_json(capsys, "models", "test", uri)
    assert result["required_passed"] is True
    names = {test["name"]: test for test in result["results"]}
    assert names["accuracy"]["value"] >= 0.9
    assert names["no_regression"]["passed"] is True
    assert main(["models", "alias", f"penguins-{flavor}", "challenger", "1"]) == 0
    capsys.readouterr()
    target = tmp_path / flavor
    packaged = run_json(capsys, "models", "package", f"{uri}", str(target))
    assert Path(packaged["folder"]) == target
    document = json.loads((target / "model.json").read_text())
    assert (document["uri"], document["flavor"]) == (uri, flavor)
    shown = run_json(capsys, "models", "show", f"penguins-{flavor}")
    assert shown[0]["aliases"] == ["challenger", "champion"]
    assert shown[0]["latest_test"]["required_passed"] is True


def test_unknown_flavor_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert example_main(["--flavors", "sklearn,catboost"]) == 2
    assert "unknown flavor 'catboost'" in capsys.readouterr().err
