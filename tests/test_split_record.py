"""Split records: row-position digests, role marks, run logs and registered parts."""

from __future__ import annotations

import json
from pathlib import Path

import blake3
import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

import tether
from tether.artifacts import get_objects
from tether.data.splits import (
    SplitRule,
    kfold,
    kfold_version,
    load_version,
    part_role,
    positions_digest,
    split,
    split_version,
)
from tether.errors import ConfigError, DataError
from tether.store import get_store


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins()


def _digest_of(frame: pd.DataFrame, part: pd.DataFrame) -> str:
    positions = np.sort(frame.index.get_indexer(part.index)).astype("<i8")
    return blake3.blake3(positions.tobytes()).hexdigest()


def test_digest_is_blake3_of_positions() -> None:
    positions = np.array([7, 2, 5])
    expected = blake3.blake3(np.array([2, 5, 7], dtype="<i8").tobytes()).hexdigest()
    assert positions_digest(positions) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"by": "random"},
        {"by": "stratified", "stratify": "species"},
        {"by": "group", "group": "island"},
    ],
)
def test_digests_match_parts(penguins: pd.DataFrame, options: dict[str, str]) -> None:
    train, test, rule = split(penguins, test_size=0.3, seed=4, **options)
    assert rule.digests["train"] == _digest_of(penguins, train)
    assert rule.digests["test"] == _digest_of(penguins, test)
    assert rule.rows == {"train": len(train), "test": len(test)}


@pytest.mark.parametrize(
    "options",
    [
        {"by": "random"},
        {"by": "stratified", "stratify": "species"},
        {"by": "random", "stratify": "island"},
    ],
)
def test_same_seed_same_digest(penguins: pd.DataFrame, options: dict[str, str]) -> None:
    _, _, first = split(penguins, seed=21, **options)
    _, _, again = split(penguins, seed=21, **options)
    _, _, other = split(penguins, seed=22, **options)
    assert first.digests == again.digests
    assert first.digests["test"] != other.digests["test"]
    assert first.digests["train"] != other.digests["train"]


def test_kfold_same_seed_same_digest(penguins: pd.DataFrame) -> None:
    _, first = kfold(penguins, k=4, seed=3, stratify="species")
    _, again = kfold(penguins, k=4, seed=3, stratify="species")
    _, other = kfold(penguins, k=4, seed=4, stratify="species")
    assert first.digests == again.digests
    assert len(set(first.digests)) == 4
    assert set(first.digests).isdisjoint(other.digests)


def test_digest_ignores_index(penguins: pd.DataFrame) -> None:
    relabelled = penguins.set_axis([f"p{i}" for i in range(len(penguins))])
    _, _, plain = split(penguins, by="random", seed=1)
    _, _, labelled = split(relabelled, by="random", seed=1)
    assert plain.digests == labelled.digests


def test_parts_carry_roles(penguins: pd.DataFrame) -> None:
    train, test, rule = split(penguins, by="random", seed=1)
    assert part_role(train) == "train"
    assert part_role(test) == "test"
    assert train.attrs["tether.split"] == {
        "role": "train",
        "method": "random",
        "digest": rule.digests["train"],
        "seed": 1,
    }
    assert part_role(penguins) is None


def test_role_survives_selection(penguins: pd.DataFrame) -> None:
    _, test, _ = split(penguins, by="random", seed=1)
    assert part_role(test[["species", "island"]]) == "test"
    assert part_role(test.copy()) == "test"
    assert part_role(test.dropna()) == "test"


def test_concat_of_parts_unmarked(penguins: pd.DataFrame) -> None:
    train, test, _ = split(penguins, by="random", seed=1)
    assert part_role(pd.concat([train, test])) is None


def test_validation_holdout(penguins: pd.DataFrame) -> None:
    train, _, _ = split(penguins, by="random", seed=1)
    inner, validation, rule = split(
        train, by="random", test_size=0.25, seed=2, holdout="validation"
    )
    assert part_role(inner) == "train"
    assert part_role(validation) == "validation"
    assert set(rule.digests) == {"train", "validation"}
    assert len(validation) == 69
    assert len(inner) == 206


def test_invalid_holdout_role(penguins: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="invalid holdout role 'dev'; use one of"):
        split(penguins, by="random", holdout="dev")


def test_test_part_not_split_again(penguins: pd.DataFrame) -> None:
    _, test, _ = split(penguins, by="random", seed=1)
    with pytest.raises(
        DataError, match="this frame is the test part of a split, and splitting it"
    ):
        split(test, by="random", seed=2)
    with pytest.raises(DataError, match="this frame is the test part"):
        kfold(test, k=3)


def test_numpy_arguments_stored_as_json(
    tether_home: Path, penguins: pd.DataFrame
) -> None:
    train, _, rule = split(
        penguins, by="random", test_size=np.float32(0.25), seed=np.int64(3)
    )
    folds, kfold_rule = kfold(penguins, k=np.int64(3), seed=np.int64(3))
    assert json.loads(json.dumps(rule.to_record()))["seed"] == 3
    assert json.loads(json.dumps(kfold_rule.to_record()))["params"]["k"] == 3
    assert tether.data.register("part", train).rows == 258
    assert tether.data.register("fold", folds[0].test).rows == 115


def test_rule_record_contents(penguins: pd.DataFrame) -> None:
    _, _, rule = split(penguins, by="stratified", stratify="species", seed=8)
    record = rule.to_record()
    assert record["method"] == "stratified"
    assert record["seed"] == 8
    assert record["params"] == rule.to_dict()
    assert record["digests"] == rule.digests
    assert record["rows"] == {"train": 275, "test": 69}
    assert rule == SplitRule(by="stratified", test_size=0.2, seed=8, stratify="species")


def test_split_logged_on_run(tether_home: Path, penguins: pd.DataFrame) -> None:
    with tether.start_run(experiment="splits") as run:
        _, _, rule = split(penguins, by="random", seed=5)
    stored = get_store().get_run(run.id)
    assert stored.tags["split.method"] == "random"
    assert stored.tags["split.seed"] == "5"
    assert stored.tags["split.digest.test"] == rule.digests["test"]
    assert stored.tags["split.digest.train"] == rule.digests["train"]
    artifacts = {a.path: a for a in get_store().list_artifacts(run.id)}
    path = f"splits/random-{rule.digests['test'][:12]}.json"
    logged = json.loads(get_objects().read_bytes(artifacts[path].digest))
    assert logged == json.loads(json.dumps(rule.to_record()))


def test_kfold_logged_on_run(tether_home: Path, penguins: pd.DataFrame) -> None:
    with tether.start_run(experiment="splits") as run:
        _, rule = kfold(penguins, k=3, seed=5)
    stored = get_store().get_run(run.id)
    assert stored.tags["split.method"] == "kfold"
    assert stored.tags["split.digest.fold2"] == rule.digests[2]
    paths = [a.path for a in get_store().list_artifacts(run.id)]
    assert f"splits/kfold-{rule.digests[0][:12]}.json" in paths


def test_split_version_registers_parts(
    tether_home: Path, penguins: pd.DataFrame
) -> None:
    parent = tether.data.register("penguins", penguins)
    result = split_version(
        parent.uri, by="stratified", stratify="species", test_size=0.25, seed=2
    )
    train, test = result.versions["train"], result.versions["test"]
    assert train.uri == "datasets:/penguins-train@1"
    assert test.uri == "datasets:/penguins-test@1"
    assert train.rows == 258
    assert test.rows == 86
    assert test.source["split"] == {
        "role": "test",
        "method": "stratified",
        "params": result.rule.to_dict(),
        "seed": 2,
        "digest": result.rule.digests["test"],
        "parent": "datasets:/penguins@1",
        "parent_digest": parent.digest,
    }
    for part in (train, test):
        edges = get_store().edges_into("dataset_version", part.id)
        assert [(e.src_id, e.relation) for e in edges] == [(parent.id, "derived")]


def test_registered_part_keeps_role(tether_home: Path, penguins: pd.DataFrame) -> None:
    tether.data.register("penguins", penguins)
    result = split_version("penguins", by="random", seed=2)
    loaded = load_version(result.versions["test"])
    assert part_role(loaded) == "test"
    assert part_role(tether.data.load(result.versions["test"])) == "test"
    assert len(loaded) == 69


def test_split_version_same_seed_same_versions(
    tether_home: Path, penguins: pd.DataFrame
) -> None:
    tether.data.register("penguins", penguins)
    first = split_version("penguins", by="random", seed=2)
    again = split_version("penguins", by="random", seed=2)
    other = split_version("penguins", by="random", seed=3)
    assert again.versions["test"].uri == first.versions["test"].uri
    assert other.versions["test"].uri == "datasets:/penguins-test@2"
    assert other.rule.digests["test"] != first.rule.digests["test"]


def test_split_test_version_rejected(tether_home: Path, penguins: pd.DataFrame) -> None:
    tether.data.register("penguins", penguins)
    result = split_version("penguins", by="random", seed=2)
    with pytest.raises(DataError, match="this frame is the test part of a split"):
        split_version(result.versions["test"], by="random", seed=3)


def test_kfold_version_registers_folds(
    tether_home: Path, penguins: pd.DataFrame
) -> None:
    parent = tether.data.register("penguins", penguins)
    result = kfold_version(parent, k=3, seed=1, group="island", name="birds")
    assert sorted(result.versions) == [
        "fold0.test",
        "fold0.train",
        "fold1.test",
        "fold1.train",
        "fold2.test",
        "fold2.train",
    ]
    fold_tests = [result.versions[f"fold{i}.test"] for i in range(3)]
    assert [v.uri for v in fold_tests] == [
        "datasets:/birds-fold0-test@1",
        "datasets:/birds-fold1-test@1",
        "datasets:/birds-fold2-test@1",
    ]
    assert sum(v.rows or 0 for v in fold_tests) == 344
    assert [v.source["split"]["fold"] for v in fold_tests] == [0, 1, 2]
    assert [v.source["split"]["digest"] for v in fold_tests] == list(
        result.rule.digests
    )
