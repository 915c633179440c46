"""Group splits on real data: penguins by island, flights by aircraft."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

from nyc_tables import flights as nyc_flights
from tether.data.splits import split
from tether.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins()


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    return nyc_flights.copy()


def test_island_never_on_both_sides(penguins: pd.DataFrame) -> None:
    for seed in range(5):
        train, test, _ = split(penguins, by="group", group="island", seed=seed)
        assert set(train["island"]).isdisjoint(test["island"])
        assert len(train) + len(test) == 344


def test_island_split_takes_best_fit(penguins: pd.DataFrame) -> None:
    # Islands: Biscoe 168, Dream 124, Torgersen 52 rows. A target of
    # round(344 * 0.15) = 52 rows fits Torgersen exactly.
    _, test, rule = split(penguins, by="group", group="island", test_size=0.15)
    assert test["island"].unique().tolist() == ["Torgersen"]
    assert rule.rows == {"train": 292, "test": 52}
    assert rule.group == "island"


def test_island_split_tops_up(penguins: pd.DataFrame) -> None:
    # The 103-row target (0.3) fits only Torgersen (52 rows). Adding Dream
    # (124 rows) would end 73 rows over, further than the 51 rows short.
    _, test, _ = split(penguins, by="group", group="island", test_size=0.3)
    assert test["island"].unique().tolist() == ["Torgersen"]
    # The 172-row target (0.5): whichever island comes first in the seeded
    # order, the result is Biscoe alone (168 rows) or Dream plus the top-up
    # Torgersen (176 rows), the two subsets nearest the target.
    sizes = {
        len(split(penguins, by="group", group="island", test_size=0.5, seed=s)[1])
        for s in range(10)
    }
    assert sizes == {168, 176}


def test_tailnum_split_hits_row_target(flights: pd.DataFrame) -> None:
    train, test, rule = split(
        flights, by="group", group="tailnum", test_size=0.2, seed=0
    )
    assert len(test) == round(len(flights) * 0.2)
    assert set(train["tailnum"].dropna()).isdisjoint(test["tailnum"].dropna())
    # Rows without a tail number form one group, so they all fall on one side.
    assert min(train["tailnum"].isna().sum(), test["tailnum"].isna().sum()) == 0
    assert rule.rows["train"] + rule.rows["test"] == len(flights)


def test_tailnum_split_seeds_differ(flights: pd.DataFrame) -> None:
    _, _, first = split(flights, by="group", group="tailnum", seed=1)
    _, _, again = split(flights, by="group", group="tailnum", seed=1)
    _, _, other = split(flights, by="group", group="tailnum", seed=2)
    assert first.digests == again.digests
    assert first.digests["test"] != other.digests["test"]


def test_stratified_group_keeps_shares(flights: pd.DataFrame) -> None:
    train, test, _ = split(
        flights,
        by="group",
        group="tailnum",
        stratify="origin",
        test_size=0.2,
        seed=0,
    )
    assert set(train["tailnum"].dropna()).isdisjoint(test["tailnum"].dropna())
    shares = test["origin"].value_counts() / flights["origin"].value_counts()
    for origin, share in shares.items():
        assert abs(share - 0.2) < 0.005, origin
    assert abs(len(test) / len(flights) - 0.2) < 0.005


def test_group_split_logs_null_group(
    flights: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tether.data.splits"):
        split(flights, by="group", group="tailnum", seed=0)
    assert "2512 rows with a null 'tailnum' form one group" in caplog.text


def test_group_split_keeps_index(penguins: pd.DataFrame) -> None:
    frame = penguins.set_axis(np.arange(344) * 10)
    train, test, _ = split(frame, by="group", group="island", test_size=0.15)
    assert (
        test.index.tolist()
        == (np.flatnonzero(penguins["island"] == "Torgersen") * 10).tolist()
    )
    assert train.index.is_monotonic_increasing


def test_group_column_missing(penguins: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match="group column 'colony' is missing from the frame; present columns: "
        "species, island",
    ):
        split(penguins, by="group", group="colony")


def test_group_split_needs_group(penguins: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="a group split needs group="):
        split(penguins, by="group")


def test_group_only_for_group_split(penguins: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="group does not apply to random splits"):
        split(penguins, by="random", group="island")


def test_single_group_rejected(penguins: pd.DataFrame) -> None:
    frame = penguins.assign(colony="one")
    with pytest.raises(DataError, match="group column 'colony' has a single value"):
        split(frame, by="group", group="colony")


def test_groups_too_large_for_target(penguins: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match=r"test_size 0\.05 leaves the test part empty: it targets 17 rows, and "
        r"the smallest group of 'island' has 52 rows",
    ):
        split(penguins, by="group", group="island", test_size=0.05)


def test_all_groups_in_test(penguins: pd.DataFrame) -> None:
    frame = penguins.assign(pair=np.arange(344) % 2)
    with pytest.raises(ConfigError, match="puts all 2 groups of 'pair' in the test"):
        split(frame, by="group", group="pair", test_size=0.9)
