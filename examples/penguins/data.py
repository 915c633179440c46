"""The Palmer penguins as two registered dataset versions: train and test."""

from __future__ import annotations

import pandas as pd
from palmerpenguins import load_penguins

import tether

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species_id"
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
"""The classes, in the order of their integer label."""


def penguin_table() -> pd.DataFrame:
    """Return the 342 penguins with all four measurements and an integer label.

    Every flavor predicts the same integer label, so one test suite fits all.
    """
    table = load_penguins().dropna(subset=FEATURES).reset_index(drop=True)
    table[LABEL] = table["species"].map(SPECIES.index).astype("int64")
    return table[["island", *FEATURES, LABEL]]


def register_splits(seed: int = 7) -> tuple[pd.DataFrame, str]:
    """Register the table and a seeded 70/30 split; return the training rows and the test URI."""
    table = penguin_table()
    test = table.sample(frac=0.3, random_state=seed)
    train = table.drop(index=test.index)
    with tether.start_run(name="penguin-data", experiment="penguins"):
        tether.data.register("penguins", table)
        tether.data.register("penguins-train", train.reset_index(drop=True))
        test_version = tether.data.register(
            "penguins-test", test.reset_index(drop=True)
        )
    return train.reset_index(drop=True), test_version.uri
