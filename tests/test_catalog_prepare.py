"""``tether.data.derive``: versions made from parent versions, with parents and code in lineage."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any

import blake3
import pandas as pd
import pytest

import nyc_tables as nycflights13
import tether
from tether.artifacts import get_objects
from tether.data.prepare import code_reference
from tether.errors import ConfigError, DataError, NotFoundError
from tether.lineage.resolve import upstream_of
from tether.store import get_store
from tether.store.records import Edge


def weather_at_departure(
    flights: pd.DataFrame, weather: pd.DataFrame, min_delay: float = 0.0
) -> pd.DataFrame:
    """Join each flight to the weather at its origin at the scheduled hour."""
    late = flights[flights["dep_delay"] >= min_delay]
    joined = late.merge(
        weather[["origin", "time_hour", "temp", "visib"]],
        on=["origin", "time_hour"],
        how="left",
    )
    return joined.assign(cold=joined["temp"] < 32)


@pytest.fixture
def parents(store_url: str) -> tuple[tether.data.DatasetVersion, ...]:
    flights = nycflights13.flights
    weather = nycflights13.weather
    return (
        tether.data.register("flights-jan", flights[flights["month"] == 1]),
        tether.data.register("weather-jan", weather[weather["month"] == 1]),
    )


def _expected(min_delay: float) -> pd.DataFrame:
    flights = nycflights13.flights
    weather = nycflights13.weather
    return weather_at_departure(
        flights[flights["month"] == 1], weather[weather["month"] == 1], min_delay
    )


def test_derive_registers_joined_frame(
    parents: tuple[tether.data.DatasetVersion, ...],
) -> None:
    flights, _ = parents
    version = tether.data.derive(
        "late-departures",
        weather_at_departure,
        flights.uri,
        "weather-jan@1",
        params={"min_delay": 60},
    )
    expected = _expected(60)
    assert version.uri == "datasets:/late-departures@1"
    assert version.rows == len(expected)
    assert version.rows == 1852
    loaded = tether.data.load(version)
    assert list(loaded.columns) == list(expected.columns)
    assert int(loaded["cold"].sum()) == int(expected["cold"].sum())
    assert version.profile["columns"]["dep_delay"]["min"] == 60.0


def test_derive_records_code_and_parents(
    parents: tuple[tether.data.DatasetVersion, ...],
) -> None:
    flights, weather = parents
    version = tether.data.derive(
        "late-departures",
        weather_at_departure,
        flights,
        weather,
        params={"min_delay": 60},
    )
    source_text = inspect.getsource(weather_at_departure)
    digest = blake3.blake3(source_text.encode()).hexdigest()
    assert version.source == {
        "type": "derived",
        "function": f"{__name__}.weather_at_departure",
        "code_digest": digest,
        "parents": ["datasets:/flights-jan@1", "datasets:/weather-jan@1"],
        "params": {"min_delay": 60},
    }
    assert get_objects().read_bytes(digest).decode() == source_text
    edges = get_store().edges_into("dataset_version", version.id)
    assert edges == [
        Edge("dataset_version", flights.id, "dataset_version", version.id, "derived"),
        Edge("dataset_version", weather.id, "dataset_version", version.id, "derived"),
        Edge("artifact", digest, "dataset_version", version.id, "code"),
    ]


def test_lineage_tree_names_parents_and_code(
    parents: tuple[tether.data.DatasetVersion, ...],
) -> None:
    flights, weather = parents
    version = tether.data.derive(
        "late-departures", weather_at_departure, flights, weather
    )
    tree = upstream_of(version.uri)
    children = {(child.relation, child.label) for child in tree.children}
    assert ("derived", "datasets:/flights-jan@1") in children
    assert ("derived", "datasets:/weather-jan@1") in children
    code = [child for child in tree.children if child.relation == "code"]
    assert len(code) == 1
    assert code[0].kind == "artifact"
    assert code[0].id == version.source["code_digest"]


def test_derive_inside_run_links_run(
    parents: tuple[tether.data.DatasetVersion, ...],
) -> None:
    flights, weather = parents
    with tether.start_run(experiment="prepare", name="join") as run:
        version = tether.data.derive(
            "late-departures", weather_at_departure, flights, weather
        )
    assert version.run_id == run.id
    store = get_store()
    into_run = store.edges_into("run", run.id)
    assert {(edge.src_id, edge.relation) for edge in into_run} == {
        (flights.id, "input"),
        (weather.id, "input"),
    }
    into_version = store.edges_into("dataset_version", version.id)
    assert Edge("run", run.id, "dataset_version", version.id, "output") in into_version
    tree = upstream_of(version.uri)
    runs = tree.find("run")
    assert runs[0].details["name"] == "join"
    assert {child.label for child in runs[0].children} == {
        "datasets:/flights-jan@1",
        "datasets:/weather-jan@1",
    }


def test_derive_again_reuses_version(
    parents: tuple[tether.data.DatasetVersion, ...],
) -> None:
    flights, weather = parents
    first = tether.data.derive(
        "late-departures", weather_at_departure, flights, weather
    )
    second = tether.data.derive(
        "late-departures", weather_at_departure, flights, weather
    )
    assert second.id == first.id
    assert second.version == 1
    changed = tether.data.derive(
        "late-departures",
        weather_at_departure,
        flights,
        weather,
        params={"min_delay": 15},
    )
    assert changed.version == 2
    assert changed.source["params"] == {"min_delay": 15}


def test_derive_records_partial_arguments(
    parents: tuple[tether.data.DatasetVersion, ...],
) -> None:
    flights, weather = parents
    bound = functools.partial(weather_at_departure, min_delay=120)
    version = tether.data.derive("very-late", bound, flights, weather)
    assert version.source["function"] == f"{__name__}.weather_at_departure"
    assert version.source["bound"] == {"keywords": {"min_delay": 120}}
    assert version.rows == len(_expected(120))


def test_derive_rejects_bad_functions(
    parents: tuple[tether.data.DatasetVersion, ...],
) -> None:
    flights, _ = parents

    def count_rows(frame: pd.DataFrame) -> int:
        return len(frame)

    with pytest.raises(
        DataError, match=r"count_rows returned int, not a pandas DataFrame"
    ):
        tether.data.derive("counted", count_rows, flights)
    namespace: dict[str, Any] = {}
    exec("def typed_in(frame):\n    return frame\n", namespace)
    with pytest.raises(ConfigError, match=r"cannot read the source of .*typed_in"):
        tether.data.derive("typed", namespace["typed_in"], flights)
    assert get_store().latest_dataset_version("counted") is None
    assert get_store().latest_dataset_version("typed") is None


def test_derive_needs_existing_parents(store_url: str) -> None:
    with pytest.raises(ConfigError, match="needs at least one parent version"):
        tether.data.derive("orphan", weather_at_departure)
    with pytest.raises(NotFoundError, match="dataset 'flights-jan' not found"):
        tether.data.derive("orphan", weather_at_departure, "flights-jan@1")


def test_code_reference_of_nested_function(tmp_path: Path) -> None:
    def add_one(frame: pd.DataFrame) -> pd.DataFrame:
        return frame + 1

    reference = code_reference(add_one)
    assert reference.name.endswith(
        "test_code_reference_of_nested_function.<locals>.add_one"
    )
    assert reference.source.lstrip().startswith("def add_one")
    assert reference.digest == blake3.blake3(reference.source.encode()).hexdigest()
