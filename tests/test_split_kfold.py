"""K-fold splits: plain, stratified and group folds on penguins and flights."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

from nyc_tables import flights as nyc_flights
from tether.data.splits import KFoldRule, kfold, part_role
from tether.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins()


def _fold_positions(frame: pd.DataFrame, folds: list) -> list[np.ndarray]:
    return [frame.index.get_indexer(fold.test.index) for fold in folds]


def test_plain_folds_partition_rows(penguins: pd.DataFrame) -> None:
    folds, rule = kfold(penguins, k=5, seed=0)
    fold_positions = _fold_positions(penguins, folds)
    assert sorted(np.concatenate(fold_positions).tolist()) == list(range(344))
    assert [len(p) for p in fold_positions] == [69, 69, 69, 69, 68]
    assert rule.rows == (69, 69, 69, 69, 68)
    for fold in folds:
        assert len(fold.train) + len(fold.test) == 344
        assert set(fold.train.index).isdisjoint(fold.test.index)
        assert fold.test.index.is_monotonic_increasing


def test_fold_parts_carry_roles(penguins: pd.DataFrame) -> None:
    folds, rule = kfold(penguins, k=3, seed=0, holdout="validation")
    assert part_role(folds[1].train) == "train"
    assert part_role(folds[1].test) == "validation"
    assert folds[1].test.attrs["tether.split"]["fold"] == 1
    assert folds[1].test.attrs["tether.split"]["digest"] == rule.digests[1]


def test_stratified_folds_balance_classes(penguins: pd.DataFrame) -> None:
    folds, _ = kfold(penguins, k=5, seed=7, stratify="species")
    totals = penguins["species"].value_counts()
    for fold in folds:
        counts = fold.test["species"].value_counts()
        for species, total in totals.items():
            assert counts[species] in (total // 5, total // 5 + 1), species
    sizes = sorted(len(fold.test) for fold in folds)
    assert sizes[-1] - sizes[0] <= 1


def test_group_folds_keep_islands(penguins: pd.DataFrame) -> None:
    folds, rule = kfold(penguins, k=3, seed=0, group="island")
    islands = [sorted(fold.test["island"].unique()) for fold in folds]
    assert sorted(map(tuple, islands)) == [("Biscoe",), ("Dream",), ("Torgersen",)]
    assert sorted(rule.rows) == [52, 124, 168]


def test_group_folds_on_flights() -> None:
    flights = nyc_flights.copy()
    carriers = flights["carrier"].to_numpy()
    folds, rule = kfold(flights, k=4, seed=1, group="carrier")
    seen: set[str] = set()
    for fold in folds:
        in_fold = set(carriers[fold.test_positions])
        assert in_fold.isdisjoint(seen)
        assert in_fold.isdisjoint(carriers[fold.train_positions])
        seen |= in_fold
    assert len(seen) == 16
    assert sum(rule.rows) == len(flights)
    assert folds[0].test["carrier"].isin(carriers[folds[0].test_positions]).all()
    # The largest carrier (UA, 58,665 flights) is below a quarter of the
    # flights, so greedy filling keeps every fold within 20% of a quarter.
    for rows in rule.rows:
        assert abs(rows - len(flights) / 4) < 0.2 * len(flights) / 4


def test_stratified_group_folds(penguins: pd.DataFrame) -> None:
    frame = penguins.assign(nest=np.arange(344) // 4)
    folds, _ = kfold(frame, k=4, seed=2, group="nest", stratify="species")
    totals = frame["species"].value_counts()
    for fold in folds:
        assert set(fold.test["nest"]).isdisjoint(fold.train["nest"])
        shares = fold.test["species"].value_counts() / totals
        for species, share in shares.items():
            assert abs(share - 0.25) < 0.05, species


def test_rule_repeats_folds(penguins: pd.DataFrame) -> None:
    first, rule = kfold(penguins, k=4, seed=9, stratify="island")
    again, _ = kfold(penguins, **rule.to_dict())
    for a, b in zip(first, again, strict=True):
        assert a.test.index.equals(b.test.index)
    assert rule == KFoldRule(k=4, seed=9, stratify="island")
    assert rule.to_dict() == {
        "k": 4,
        "seed": 9,
        "stratify": "island",
        "group": None,
        "holdout": "test",
    }


def test_k_larger_than_rows(penguins: pd.DataFrame) -> None:
    with pytest.raises(
        DataError, match=r"k=10 is larger than the 6 rows.*choose k of at most 6"
    ):
        kfold(penguins.head(6), k=10)


def test_k_larger_than_groups(penguins: pd.DataFrame) -> None:
    with pytest.raises(
        DataError, match=r"k=4 is larger than the 3 groups of 'island'.*at most 3"
    ):
        kfold(penguins, k=4, group="island")


@pytest.mark.parametrize("k", [1, 0, 2.5, True, "3"])
def test_invalid_k(penguins: pd.DataFrame, k: object) -> None:
    with pytest.raises(ConfigError, match="k must be an integer of at least 2"):
        kfold(penguins, k=k)  # type: ignore[arg-type]


def test_kfold_class_of_one(penguins: pd.DataFrame) -> None:
    frame = penguins.copy()
    frame.loc[0, "species"] = "Emperor"
    with pytest.raises(
        DataError,
        match=r"stratify column 'species' has a class with a single row "
        r"\('Emperor'\); a stratified split needs at least 2 rows",
    ):
        kfold(frame, k=3, stratify="species")


def test_small_class_warns(
    penguins: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    frame = penguins.copy()
    frame.loc[[0, 1], "species"] = "Emperor"
    with caplog.at_level(logging.WARNING, logger="tether.data.splits"):
        folds, _ = kfold(frame, k=3, stratify="species")
    assert "1 of the classes of 'species' have fewer than k=3 rows" in caplog.text
    emperors = [int((fold.test["species"] == "Emperor").sum()) for fold in folds]
    assert sorted(emperors) == [0, 1, 1]


def test_kfold_group_missing(penguins: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="group column 'colony' is missing"):
        kfold(penguins, k=3, group="colony")


def test_kfold_empty_frame(penguins: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="cannot split a frame without rows"):
        kfold(penguins.head(0), k=3)
