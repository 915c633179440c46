"""Resampling and noise injection on the train part of a penguins split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

import tether
from tether.artifacts import get_objects
from tether.data.augmentation import augment
from tether.data.splits import part_role, split
from tether.errors import ConfigError, DataError
from tether.store import get_store

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    """The train part of a stratified split of the complete numeric rows."""
    penguins = load_penguins().dropna(subset=FEATURES)[["species", *FEATURES]]
    part, _, _ = split(
        penguins, by="stratified", stratify="species", test_size=0.25, seed=0
    )
    return part


def test_train_class_counts(train: pd.DataFrame) -> None:
    # 151 Adelie, 123 Gentoo, 68 Chinstrap; 25% of each (rounded) is held out.
    assert train["species"].value_counts().to_dict() == {
        "Adelie": 113,
        "Gentoo": 92,
        "Chinstrap": 51,
    }


def test_smote_balances_exactly(train: pd.DataFrame) -> None:
    result, record = augment(train, "smote", target="species", seed=0)
    assert result["species"].value_counts().to_dict() == {
        "Adelie": 113,
        "Gentoo": 113,
        "Chinstrap": 113,
    }
    assert record.rows_in == 256
    assert record.rows_out == 339
    assert record.classes_out == {"Adelie": 113, "Chinstrap": 113, "Gentoo": 113}
    assert record.params == {
        "target": "species",
        "sampling_strategy": "auto",
        "neighbors": 5,
    }


def test_smote_keeps_originals_first(train: pd.DataFrame) -> None:
    result, _ = augment(train, "smote", target="species", seed=0)
    pd.testing.assert_frame_equal(
        result.iloc[:256].reset_index(drop=True),
        train.reset_index(drop=True),
        check_dtype=False,
    )
    assert list(result.columns) == ["species", *FEATURES]
    assert result["species"].dtype == train["species"].dtype


def test_smote_rows_inside_class_hull(train: pd.DataFrame) -> None:
    # A SMOTE row lies on a segment between two rows of its class, so every
    # feature stays within that class's range.
    result, _ = augment(train, "smote", target="species", seed=0)
    synthetic = result.iloc[256:]
    assert set(synthetic["species"]) == {"Gentoo", "Chinstrap"}
    for species, rows in synthetic.groupby("species"):
        real = train[train["species"] == species][FEATURES]
        assert (rows[FEATURES] >= real.min() - 1e-9).all().all(), species
        assert (rows[FEATURES] <= real.max() + 1e-9).all().all(), species


def test_smote_seed_reproducible(train: pd.DataFrame) -> None:
    first, _ = augment(train, "smote", target="species", seed=4)
    again, _ = augment(train, "smote", target="species", seed=4)
    other, _ = augment(train, "smote", target="species", seed=5)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_adasyn_near_balance(train: pd.DataFrame) -> None:
    result, record = augment(train, "adasyn", target="species", seed=0)
    counts = result["species"].value_counts()
    assert counts["Adelie"] == 113
    # ADASYN spreads the new rows by local difficulty and rounds per row, so
    # its classes end near, not exactly at, the majority count.
    for species in ("Gentoo", "Chinstrap"):
        assert abs(counts[species] - 113) <= 0.1 * 113, species
    assert record.params["neighbors"] == 5


def test_oversample_repeats_rows(train: pd.DataFrame) -> None:
    result, _ = augment(train, "oversample", target="species", seed=0)
    assert result["species"].value_counts().to_dict() == {
        "Adelie": 113,
        "Gentoo": 113,
        "Chinstrap": 113,
    }
    originals = {tuple(row) for row in train.itertuples(index=False)}
    assert {tuple(row) for row in result.itertuples(index=False)} == originals
    assert result.index.equals(pd.RangeIndex(339))


def test_undersample_drops_rows(train: pd.DataFrame) -> None:
    result, record = augment(train, "undersample", target="species", seed=0)
    assert result["species"].value_counts().to_dict() == {
        "Adelie": 51,
        "Gentoo": 51,
        "Chinstrap": 51,
    }
    originals = {tuple(row) for row in train.itertuples(index=False)}
    assert {tuple(row) for row in result.itertuples(index=False)} <= originals
    assert record.rows_out == 153


def test_oversample_keeps_text_columns() -> None:
    penguins = load_penguins()
    part, _, _ = split(penguins, by="random", seed=0)
    result, _ = augment(part, "oversample", target="species", seed=0)
    assert result["island"].dtype == part["island"].dtype
    assert result["sex"].isna().sum() >= part["sex"].isna().sum()


def test_noise_values_exact(train: pd.DataFrame) -> None:
    result, record = augment(
        train, "noise", target="species", scale=0.05, seed=3, copies=2
    )
    assert len(result) == 3 * 256
    values = train[FEATURES].to_numpy()
    deviations = train[FEATURES].std().to_numpy()
    noise = np.random.default_rng(3).normal(size=(2, 256, 4)) * (0.05 * deviations)
    for copy in range(2):
        block = result.iloc[256 * (copy + 1) : 256 * (copy + 2)]
        np.testing.assert_allclose(block[FEATURES].to_numpy(), values + noise[copy])
        assert block["species"].tolist() == train["species"].tolist()
    pd.testing.assert_frame_equal(
        result.iloc[:256].reset_index(drop=True), train.reset_index(drop=True)
    )
    assert record.params == {
        "scale": 0.05,
        "copies": 2,
        "columns": None,
        "target": "species",
    }


def test_noise_scale_relative_to_std(train: pd.DataFrame) -> None:
    result, _ = augment(train, "noise", target="species", scale=0.1, seed=1)
    added = result.iloc[256:][FEATURES].to_numpy() - train[FEATURES].to_numpy()
    ratio = added.std(axis=0) / train[FEATURES].std().to_numpy()
    # 256 draws estimate a standard deviation within about 4.4% (1 / sqrt(2n)),
    # so the ratio to the requested 0.1 stays within 15%.
    np.testing.assert_allclose(ratio, 0.1, rtol=0.15)


def test_noise_chosen_columns(train: pd.DataFrame) -> None:
    result, _ = augment(
        train, "noise", columns=["body_mass_g"], target="species", seed=0
    )
    copy = result.iloc[256:].reset_index(drop=True)
    original = train.reset_index(drop=True)
    assert copy["bill_length_mm"].equals(original["bill_length_mm"])
    assert not copy["body_mass_g"].equals(original["body_mass_g"])


def test_noise_integer_column_becomes_float() -> None:
    frame = pd.DataFrame({"count": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]})
    part, _, _ = split(frame, by="random", test_size=0.25, seed=0)
    result, _ = augment(part, "noise", target="label", seed=0)
    assert result["count"].dtype == np.float64
    assert result["count"].iloc[:3].tolist() == part["count"].astype(float).tolist()


def test_augmented_keeps_train_role(train: pd.DataFrame) -> None:
    result, _ = augment(train, "smote", target="species", seed=0)
    assert part_role(result) == "train"
    assert result.attrs["tether.augment"]["method"] == "smote"
    again, _ = augment(result, "noise", target="species", seed=0)
    steps = again.attrs["tether.augment"]["steps"]
    assert [step["method"] for step in steps] == ["smote", "noise"]


def test_augment_logged_on_run(tether_home: Path, train: pd.DataFrame) -> None:
    with tether.start_run(experiment="augment") as run:
        _, record = augment(train, "oversample", target="species", seed=2)
    stored = get_store().get_run(run.id)
    assert stored.tags["augment.method"] == "oversample"
    assert stored.tags["augment.seed"] == "2"
    artifacts = {a.path: a for a in get_store().list_artifacts(run.id)}
    logged = artifacts[f"augmentations/oversample-{record.digest[:12]}.json"]
    assert json.loads(get_objects().read_bytes(logged.digest)) == record.to_record()


def test_smote_rejects_text_features() -> None:
    penguins = load_penguins().dropna()
    part, _, _ = split(penguins, by="random", seed=0)
    with pytest.raises(
        DataError,
        match="smote interpolates between rows, so it needs numeric features, but "
        "column 'island' has dtype str; encode it",
    ):
        augment(part, "smote", target="species")


def test_smote_rejects_nulls() -> None:
    penguins = load_penguins()[["species", *FEATURES]]
    part, _, _ = split(penguins, by="random", seed=0)
    with pytest.raises(
        DataError, match="column 'bill_length_mm' has 2 nulls; impute or drop"
    ):
        augment(part, "smote", target="species")


def test_smote_class_too_small(train: pd.DataFrame) -> None:
    with pytest.raises(
        DataError,
        match="smote needs more than neighbors=60 rows of each class it oversamples, "
        "but class 'Chinstrap' has 51; set neighbors to at most 50",
    ):
        augment(train, "smote", target="species", neighbors=60)


def test_resample_needs_target(train: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="smote needs target=, the class column"):
        augment(train, "smote")


def test_resample_target_missing(train: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="target column 'kind' is missing"):
        augment(train, "oversample", target="kind")


def test_resample_single_class(train: pd.DataFrame) -> None:
    adelie = train[train["species"] == "Adelie"]
    with pytest.raises(DataError, match="target column 'species' has a single class"):
        augment(adelie, "smote", target="species")


def test_unknown_method(train: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="unknown augmentation method 'mixup'"):
        augment(train, "mixup", target="species")


@pytest.mark.parametrize("scale", [0, -0.1, float("nan"), True])
def test_noise_invalid_scale(train: pd.DataFrame, scale: object) -> None:
    with pytest.raises(ConfigError, match="scale must be a positive number"):
        augment(train, "noise", scale=scale)  # type: ignore[arg-type]


def test_noise_text_column(train: pd.DataFrame) -> None:
    with pytest.raises(
        DataError, match="column 'species' has dtype str, and noise applies to"
    ):
        augment(train, "noise", columns=["species"])
