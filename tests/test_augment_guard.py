"""The split-before-augment rule: every refusal, and what is allowed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_digits

import tether
from tether.data.augmentation import augment, augment_images, augment_version
from tether.data.splits import kfold, part_role, split, split_version
from tether.errors import DataError
from tether.store import get_store

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins().dropna(subset=FEATURES)[["species", *FEATURES]]


def test_test_part_rejected(penguins: pd.DataFrame) -> None:
    _, test, _ = split(penguins, by="random", seed=0)
    with pytest.raises(
        DataError,
        match="this frame is the test part of a split, and augmenting it would put "
        "synthetic rows in the data the model is evaluated on; augment the train",
    ):
        augment(test, "oversample", target="species")


def test_test_part_rejected_with_allow_unsplit(penguins: pd.DataFrame) -> None:
    _, test, _ = split(penguins, by="random", seed=0)
    with pytest.raises(DataError, match="this frame is the test part"):
        augment(test, "oversample", target="species", allow_unsplit=True)


def test_validation_part_rejected(penguins: pd.DataFrame) -> None:
    train, _, _ = split(penguins, by="random", seed=0)
    _, validation, _ = split(train, by="random", seed=1, holdout="validation")
    with pytest.raises(DataError, match="this frame is the validation part"):
        augment(validation, "noise", target="species")


def test_fold_test_part_rejected(penguins: pd.DataFrame) -> None:
    folds, _ = kfold(penguins, k=3, seed=0)
    with pytest.raises(DataError, match="this frame is the test part"):
        augment(folds[0].test, "oversample", target="species")
    result, _ = augment(folds[0].train, "oversample", target="species")
    assert part_role(result) == "train"


def test_unsplit_frame_rejected(penguins: pd.DataFrame) -> None:
    with pytest.raises(
        DataError,
        match=r"this frame was not produced by a split, so its rows may include a "
        r"test set; split it first with tether\.data\.split\(\.\.\.\) and augment "
        r"the train part, or pass allow_unsplit=True",
    ):
        augment(penguins, "oversample", target="species")


def test_unsplit_frame_allowed(penguins: pd.DataFrame) -> None:
    result, record = augment(
        penguins, "oversample", target="species", allow_unsplit=True
    )
    assert len(result) == 3 * 151
    assert record.role is None
    assert part_role(result) is None


def test_concat_of_parts_rejected(penguins: pd.DataFrame) -> None:
    train, test, _ = split(penguins, by="random", seed=0)
    with pytest.raises(DataError, match="this frame was not produced by a split"):
        augment(pd.concat([train, test]), "oversample", target="species")


def test_split_after_augment_rejected(penguins: pd.DataFrame) -> None:
    augmented, _ = augment(penguins, "oversample", target="species", allow_unsplit=True)
    with pytest.raises(
        DataError,
        match="this frame contains rows made by oversample, so a split of it would "
        "put synthetic copies of train rows in the holdout part; split the data "
        "first, then augment the train part",
    ):
        split(augmented, by="random", seed=0)


def test_split_augmented_train_rejected(penguins: pd.DataFrame) -> None:
    train, _, _ = split(penguins, by="random", seed=0)
    augmented, _ = augment(train, "smote", target="species", seed=0)
    with pytest.raises(DataError, match="contains rows made by smote"):
        split(augmented, by="random", seed=1, holdout="validation")
    with pytest.raises(DataError, match="contains rows made by smote"):
        kfold(augmented, k=3)


def test_images_need_part() -> None:
    images = load_digits().images
    with pytest.raises(
        DataError,
        match="augment_images needs part=, the train part of a split whose rows "
        "these images are",
    ):
        augment_images(images, flips=["horizontal"])
    result, _, record = augment_images(
        images[:10], flips=["horizontal"], allow_unsplit=True
    )
    assert result.shape == (20, 8, 8)
    assert record.role is None


def test_images_of_test_part_rejected() -> None:
    digits = load_digits()
    labels = pd.DataFrame({"label": digits.target})
    _, test, _ = split(labels, by="stratified", stratify="label", seed=0)
    images = digits.images[test.index.to_numpy()]
    with pytest.raises(DataError, match="this frame is the test part"):
        augment_images(images, part=test, flips=["vertical"])


@pytest.fixture
def registered(tether_home: Path, penguins: pd.DataFrame) -> str:
    return tether.data.register("penguins", penguins).uri


def test_version_train_part_augmented(registered: str) -> None:
    parts = split_version(registered, by="stratified", stratify="species", seed=0)
    version, record = augment_version(
        parts.versions["train"], "smote", target="species", seed=0, neighbors=3
    )
    assert version.uri == "datasets:/penguins-train-smote@1"
    assert version.source["augment"] == record.to_record()
    assert version.source["split"]["role"] == "train"
    assert version.rows == 3 * 121
    edges = get_store().edges_into("dataset_version", version.id)
    assert [e.src_id for e in edges] == [parts.versions["train"].id]
    loaded = tether.data.load(version)
    assert part_role(loaded) == "train"
    assert loaded["species"].value_counts().to_dict() == {
        "Adelie": 121,
        "Gentoo": 121,
        "Chinstrap": 121,
    }


def test_version_test_part_rejected(registered: str) -> None:
    parts = split_version(registered, by="random", seed=0)
    with pytest.raises(
        DataError,
        match="datasets:/penguins-test@1 is the test part of a split of "
        "datasets:/penguins@1, and augmenting it would",
    ):
        augment_version("datasets:/penguins-test@1", "oversample", target="species")
    assert parts.versions["test"].uri == "datasets:/penguins-test@1"


def test_split_version_rejected_whole(registered: str) -> None:
    split_version(registered, by="random", seed=0)
    with pytest.raises(
        DataError,
        match="datasets:/penguins@1 was split into datasets:/penguins-test@1, so "
        "augmenting all of it would build synthetic rows from those held-out rows",
    ):
        augment_version(registered, "oversample", target="species", allow_unsplit=True)


def test_unsplit_version_rejected(registered: str) -> None:
    with pytest.raises(
        DataError,
        match="datasets:/penguins@1 was not produced by a split, so its rows may "
        "include a test set; split it first with `tether data split "
        "datasets:/penguins@1`",
    ):
        augment_version(registered, "oversample", target="species")


def test_unsplit_version_allowed(registered: str) -> None:
    version, record = augment_version(
        registered, "noise", target="species", allow_unsplit=True, seed=1
    )
    assert version.uri == "datasets:/penguins-noise@1"
    assert "split" not in version.source
    assert record.rows_out == 2 * 342
    frame = tether.data.load(version)
    with pytest.raises(DataError, match="contains rows made by noise"):
        split(frame, by="random", seed=0)
    with pytest.raises(DataError, match="contains rows made by noise"):
        split_version(version, by="random", seed=0)


def test_augmented_version_not_refused_twice(registered: str) -> None:
    parts = split_version(registered, by="random", seed=0)
    first, _ = augment_version(parts.versions["train"], "oversample", target="species")
    second, record = augment_version(first, "noise", target="species", seed=0)
    assert second.uri == "datasets:/penguins-train-oversample-noise@1"
    assert record.role == "train"
    assert np.isclose(record.params["scale"], 0.1)
