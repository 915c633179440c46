"""Shared data, models and suites of the model testing tests."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import tether
from tether.store.records import ModelVersionRecord

FEATURES = ["age", "income", "shoe_size"]
"""Model inputs; the label depends on age and income, not on shoe_size."""


def make_frame(rows: int = 300, seed: int = 3) -> pd.DataFrame:
    """Return seeded rows with features, a region, a 0/1 label and a numeric target.

    About a tenth of the rows are in region ``east``, so a slice test with
    ``min_size: 50`` leaves that slice unjudged.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, size=rows).astype("int64")
    income = rng.normal(1.0, 1.5, size=rows)
    score = income + age / 40 + rng.normal(0.0, 0.5, size=rows)
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "shoe_size": rng.normal(42.0, 2.0, size=rows),
            "region": rng.choice(
                ["north", "south", "east"], size=rows, p=[0.5, 0.4, 0.1]
            ),
            "late": (score > 2.0).astype("int64"),
            "spend": 3.0 * income + 0.1 * age + rng.normal(0.0, 0.3, size=rows),
        }
    )


def fit_classifier(frame: pd.DataFrame, columns: Sequence[str] = FEATURES) -> Pipeline:
    """Fit a scaled logistic regression of ``late`` on ``columns``."""
    model = make_pipeline(StandardScaler(), LogisticRegression())
    return model.fit(frame[list(columns)], frame["late"])


def fit_regressor(frame: pd.DataFrame) -> LinearRegression:
    """Fit a linear regression of ``spend`` on the features."""
    return LinearRegression().fit(frame[FEATURES], frame["spend"])


def register(
    model: object,
    frame: pd.DataFrame,
    name: str = "m",
    columns: Sequence[str] = FEATURES,
) -> ModelVersionRecord:
    """Register ``model`` as the next version of ``name`` with an input example."""
    with tether.start_run():
        return tether.models.register_model(
            model, name, input_example=frame[list(columns)].head(5)
        )


def register_data(frame: pd.DataFrame, name: str = "holdout") -> str:
    """Register ``frame`` as a dataset version and return its URI."""
    return tether.data.register(name, frame).uri


def write_suite(folder: Path, text: str, name: str = "suite.yaml") -> Path:
    """Write a YAML suite (dedented) into ``folder`` and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path
