"""Reservoir sampling of the flights CSV read in chunks, and of small sources."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import tether
from nyc_tables import flights as nyc_flights
from tether.artifacts import get_objects
from tether.data.sampling import read_chunks, reservoir_sample, sample_source
from tether.data.splits import positions_digest
from tether.errors import ConfigError, DataError
from tether.store import get_store

SAMPLE_ROWS = 5000
COLUMNS = ["year", "month", "day", "dep_delay", "distance", "carrier", "tailnum"]


@pytest.fixture(scope="module")
def flights_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flights") / "flights.csv"
    nyc_flights[COLUMNS].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    return nyc_flights[COLUMNS]


def _csv_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    with pd.read_csv(path, chunksize=rows) as reader:
        yield from reader


def test_sample_size_exact(flights_csv: Path) -> None:
    sample, record = reservoir_sample(
        _csv_chunks(flights_csv, 50_000), SAMPLE_ROWS, seed=3
    )
    assert len(sample) == SAMPLE_ROWS
    assert record.k == SAMPLE_ROWS
    assert record.rows_seen == 336_776
    assert sample.index.is_unique
    assert sample.index.is_monotonic_increasing


def test_sample_rows_match_source(flights_csv: Path, flights: pd.DataFrame) -> None:
    sample, record = reservoir_sample(
        _csv_chunks(flights_csv, 50_000), SAMPLE_ROWS, seed=3
    )
    source = flights.iloc[sample.index.to_numpy()].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        sample[["month", "day", "distance"]].reset_index(drop=True),
        source[["month", "day", "distance"]],
    )
    assert record.digest == positions_digest(sample.index.to_numpy())


def test_sample_seed_reproducible(flights_csv: Path) -> None:
    _, first = reservoir_sample(_csv_chunks(flights_csv, 50_000), 1000, seed=11)
    _, again = reservoir_sample(_csv_chunks(flights_csv, 50_000), 1000, seed=11)
    _, other = reservoir_sample(_csv_chunks(flights_csv, 50_000), 1000, seed=12)
    assert first.digest == again.digest
    assert first.digest != other.digest


def test_sample_ignores_chunk_size(flights: pd.DataFrame) -> None:
    # 700-row chunks make the first 1000 rows span two chunks.
    digests = set()
    for rows in (700, 7_919, len(flights)):
        chunks = (flights.iloc[i : i + rows] for i in range(0, len(flights), rows))
        digests.add(reservoir_sample(chunks, 1000, seed=5)[1].digest)
    assert len(digests) == 1


def test_sample_mean_close_to_full(flights_csv: Path, flights: pd.DataFrame) -> None:
    sample, _ = reservoir_sample(_csv_chunks(flights_csv, 50_000), SAMPLE_ROWS, seed=3)
    population = flights["distance"]
    rows = len(population)
    # Standard error of the mean of a simple random sample without
    # replacement: sigma / sqrt(k) * sqrt(1 - k / N), about 10.3 miles here.
    # With the seed fixed the test is deterministic, and under the normal
    # approximation a uniform sampler misses 4 standard errors for about 6 in
    # 100,000 seeds, while a biased one (say, only the first months) misses by far.
    error = (
        population.std() / math.sqrt(SAMPLE_ROWS) * math.sqrt(1 - SAMPLE_ROWS / rows)
    )
    assert abs(sample["distance"].mean() - population.mean()) < 4 * error
    assert sample["month"].nunique() == 12


def test_inclusion_is_uniform() -> None:
    # Each of 20 rows should be drawn in k / n = 25% of 1000 seeded samples.
    # The count per row is binomial with sd sqrt(1000 * 0.25 * 0.75) = 13.7,
    # so 5 sd (68) bounds every row without depending on luck.
    frame = pd.DataFrame({"row": np.arange(20)})
    counts = np.zeros(20, dtype=int)
    for seed in range(1000):
        chunks = (frame.iloc[start : start + 6] for start in range(0, 20, 6))
        sample, _ = reservoir_sample(chunks, 5, seed=seed)
        counts[sample["row"].to_numpy()] += 1
    assert counts.sum() == 5000
    assert np.all(np.abs(counts - 250) < 68), counts.tolist()


def test_parquet_batches_same_rows(
    flights_csv: Path, flights: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "flights.parquet"
    flights.to_parquet(path)
    batches = pq.ParquetFile(path).iter_batches(batch_size=30_000)
    _, from_parquet = reservoir_sample(batches, 1000, seed=2)
    _, from_csv = reservoir_sample(_csv_chunks(flights_csv, 50_000), 1000, seed=2)
    assert from_parquet.digest == from_csv.digest


def test_k_equal_to_rows() -> None:
    frame = pd.DataFrame({"v": np.arange(10)})
    sample, _ = reservoir_sample([frame.iloc[:4], frame.iloc[4:]], 10, seed=0)
    assert sample["v"].tolist() == list(range(10))


def test_k_larger_than_data() -> None:
    frame = pd.DataFrame({"v": np.arange(10)})
    with pytest.raises(
        DataError, match="k=11 is larger than the 10 rows of the source; choose k"
    ):
        reservoir_sample([frame], 11)


@pytest.mark.parametrize("k", [0, -1, 2.0, True])
def test_invalid_k(k: object) -> None:
    with pytest.raises(ConfigError, match="k must be an integer of at least 1"):
        reservoir_sample([pd.DataFrame({"v": [1]})], k)  # type: ignore[arg-type]


def test_invalid_seed() -> None:
    with pytest.raises(ConfigError, match=r"needs an integer seed .* got 1\.5"):
        reservoir_sample([pd.DataFrame({"v": [1]})], 1, seed=1.5)  # type: ignore[arg-type]


def test_chunk_not_a_table() -> None:
    with pytest.raises(DataError, match="a chunk of type list is not a table"):
        reservoir_sample([[1, 2, 3]], 1)


def test_read_chunks_json_array(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"v": 1}, {"v": 2}]))
    with pytest.raises(DataError, match="is a JSON array, which cannot be read in"):
        list(read_chunks(path))


def test_read_chunks_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"v": v}) + "\n" for v in range(7)))
    chunks = list(read_chunks(path, chunk_rows=3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]


def test_read_chunks_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist; check the path"):
        list(read_chunks(tmp_path / "none.csv"))


def test_sample_logged_on_run(tether_home: Path) -> None:
    frame = pd.DataFrame({"v": np.arange(100)})
    with tether.start_run(experiment="samples") as run:
        _, record = reservoir_sample([frame], 10, seed=4)
    stored = get_store().get_run(run.id)
    assert stored.tags["sample.method"] == "reservoir"
    assert stored.tags["sample.k"] == "10"
    artifacts = {a.path: a for a in get_store().list_artifacts(run.id)}
    logged = artifacts[f"samples/reservoir-{record.digest[:12]}.json"]
    assert json.loads(get_objects().read_bytes(logged.digest)) == record.to_record()


def test_sample_source_registers_file(tether_home: Path, flights_csv: Path) -> None:
    version, record = sample_source(flights_csv, 500, seed=1, chunk_rows=100_000)
    assert version.uri == "datasets:/flights-sample@1"
    assert version.rows == 500
    assert version.source["sample"]["digest"] == record.digest
    assert version.source["sample"]["from"] == str(flights_csv)


def test_sample_source_of_version(tether_home: Path) -> None:
    parent = tether.data.register("numbers", pd.DataFrame({"v": np.arange(1000)}))
    version, record = sample_source(parent.uri, 50, seed=9, name="few")
    assert version.uri == "datasets:/few@1"
    loaded = tether.data.load(version)
    assert len(loaded) == 50
    assert loaded["v"].is_unique
    assert record.rows_seen == 1000
    edges = get_store().edges_into("dataset_version", version.id)
    assert [(e.src_id, e.relation) for e in edges] == [(parent.id, "derived")]
