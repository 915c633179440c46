"""Train, register, test, promote and package one penguin classifier per flavor."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tether
from penguins.data import FEATURES, register_splits
from penguins.trainers import TRAINERS

SUITE = Path(__file__).with_name("model-tests.yaml")
LIBRARIES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "torch"}


@dataclass
class FlavorResult:
    """The outcome of one flavor's build: its version, test result, alias and package."""

    flavor: str
    uri: str
    accuracy: float | None
    passed: bool
    champion: bool
    package: Path | None


def available_flavors(requested: list[str]) -> tuple[list[str], list[str]]:
    """Split ``requested`` into flavors whose library is installed and the others."""
    ready, missing = [], []
    for flavor in requested:
        library = LIBRARIES.get(flavor)
        if library is None or importlib.util.find_spec(library) is not None:
            ready.append(flavor)
        else:
            missing.append(flavor)
    return ready, missing


def run(flavors: list[str], output: Path) -> list[FlavorResult]:
    """Run the whole build for each flavor and return the outcomes."""
    train, test_uri = register_splits()
    results = []
    for flavor in flavors:
        results.append(build_flavor(flavor, train, test_uri, output / flavor))
    return results


def build_flavor(
    flavor: str, train: Any, test_uri: str, package_dir: Path
) -> FlavorResult:
    """Train, register, test, move ``champion`` and package one flavor's model."""
    name = f"penguins-{flavor}"
    with tether.start_run(name=f"train-{flavor}", experiment="penguins"):
        model, options = TRAINERS[flavor](train)
        version = tether.models.register_model(
            model,
            name,
            input_example=train[FEATURES].head(5),
            description=f"species from four measurements ({flavor} flavor)",
            tags={"example": "penguins"},
            **options,
        )
    tether.models.attach_suite(name, SUITE)
    result = tether.models.run_tests(version.uri, data=test_uri)
    accuracy = next((r.value for r in result.results if r.name == "accuracy"), None)
    champion = result.required_passed
    package = None
    if champion:
        tether.models.set_alias(name, "champion", version.version)
        tether.models.package(version.uri, package_dir, force=True)
        package = package_dir
    return FlavorResult(flavor, version.uri, accuracy, result.passed, champion, package)
