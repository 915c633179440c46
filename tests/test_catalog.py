"""Tags and search over dataset versions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import palmerpenguins
import pandas as pd
import pytest

import nyc_tables as nycflights13
import tether
from tether.data.catalog import check_tag_key, parse_tags, parse_time, version_of
from tether.errors import ConfigError, InvalidURIError, NotFoundError
from tether.store import get_store


@pytest.fixture
def catalog(store_url: str) -> dict[str, tether.data.DatasetVersion]:
    """Two penguin versions and one weather version in an empty store."""
    penguins = palmerpenguins.load_penguins()
    weather = nycflights13.weather
    return {
        "adelie": tether.data.register(
            "penguins", penguins[penguins["species"] == "Adelie"]
        ),
        "all": tether.data.register("penguins", penguins),
        "weather": tether.data.register("weather_jan", weather[weather["month"] == 1]),
    }


def test_tag_sets_and_overwrites(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    version = catalog["all"]
    tagged = tether.data.tag(version.uri, stage="candidate", owner="ana")
    assert tagged.tags == {"owner": "ana", "stage": "candidate"}
    again = tether.data.tag("penguins@2", {"stage": "prod", "reviewed-by": "lee"})
    assert again.tags == {"owner": "ana", "reviewed-by": "lee", "stage": "prod"}


def test_tags_appear_in_every_lookup(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    tether.data.tag(catalog["all"], stage="prod")
    store = get_store()
    assert store.get_dataset_version("penguins", 2).tags == {"stage": "prod"}
    assert store.get_dataset_version("penguins").tags == {"stage": "prod"}
    assert store.dataset_version_by_id(catalog["all"].id).tags == {"stage": "prod"}
    listed = {v.uri: v.tags for v in store.list_dataset_versions("penguins")}
    assert listed == {
        "datasets:/penguins@2": {"stage": "prod"},
        "datasets:/penguins@1": {},
    }
    latest = {v.uri: v.tags for v in store.list_dataset_versions()}
    assert latest["datasets:/penguins@2"] == {"stage": "prod"}
    assert store.dataset_version_tags(catalog["all"].id) == {"stage": "prod"}


def test_tag_values_become_text(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    tagged = tether.data.tag(catalog["adelie"], rows=152, checked=True, note="été ✓")
    assert tagged.tags == {"checked": "True", "note": "été ✓", "rows": "152"}


def test_untag_removes_keys(catalog: dict[str, tether.data.DatasetVersion]) -> None:
    tether.data.tag(catalog["all"], stage="prod", owner="ana", team="birds")
    left = tether.data.untag(catalog["all"], "owner", "team")
    assert left.tags == {"stage": "prod"}
    assert get_store().dataset_version_tags(catalog["all"].id) == {"stage": "prod"}


def test_untag_unknown_key_changes_nothing(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    tether.data.tag(catalog["all"], stage="prod")
    with pytest.raises(NotFoundError, match=r"tag 'owner' is not set on .*: stage"):
        tether.data.untag(catalog["all"], "stage", "owner")
    assert version_of("penguins@2").tags == {"stage": "prod"}


def test_tag_rejects_invalid_input(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    uri = catalog["all"].uri
    with pytest.raises(ConfigError, match="no tags given for datasets:/penguins@2"):
        tether.data.tag(uri)
    with pytest.raises(ConfigError, match="tag 'stage' has the value None"):
        tether.data.tag(uri, stage=None)
    with pytest.raises(ConfigError, match="may not contain '='"):
        tether.data.tag(uri, {"a=b": "c"})
    with pytest.raises(ConfigError, match="control character"):
        tether.data.tag(uri, {"a\nb": "c"})
    with pytest.raises(ConfigError, match="at most 250 characters"):
        tether.data.tag(uri, {"k" * 251: "c"})
    with pytest.raises(ConfigError, match="NUL"):
        tether.data.tag(uri, stage="a\x00b")
    assert version_of(uri).tags == {}


def test_tag_unknown_version(catalog: dict[str, tether.data.DatasetVersion]) -> None:
    with pytest.raises(NotFoundError, match="version 9 of dataset 'penguins'"):
        tether.data.tag("datasets:/penguins@9", stage="prod")
    with pytest.raises(NotFoundError, match="dataset 'nope' not found"):
        tether.data.tag("nope", stage="prod")


def test_version_of_rejects_bad_references(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    with pytest.raises(InvalidURIError, match="invalid dataset URI"):
        version_of("datasets:/two words")
    with pytest.raises(ConfigError, match=r"invalid dataset version 'prod'.*--tag"):
        version_of("datasets:/penguins@prod")
    assert version_of("penguins").version == 2
    assert version_of(" datasets:/penguins@1 ").version == 1


def test_search_by_name_pattern(catalog: dict[str, tether.data.DatasetVersion]) -> None:
    found = [v.uri for v in tether.data.search("PENG*")]
    assert found == ["datasets:/penguins@2", "datasets:/penguins@1"]
    assert [v.uri for v in tether.data.search("weather?jan")] == [
        "datasets:/weather_jan@1"
    ]
    # "_" is a literal in a name pattern, not the LIKE wildcard.
    assert tether.data.search("weather_ja?") != []
    assert tether.data.search("weatherXjan") == []
    assert tether.data.search("peng") == []


def test_search_by_tags(catalog: dict[str, tether.data.DatasetVersion]) -> None:
    tether.data.tag(catalog["adelie"], stage="candidate", owner="ana")
    tether.data.tag(catalog["all"], stage="prod")
    tether.data.tag(catalog["weather"], stage="prod", owner="lee")
    prod = [v.uri for v in tether.data.search(tags={"stage": "prod"})]
    assert prod == ["datasets:/penguins@2", "datasets:/weather_jan@1"]
    owned = [v.uri for v in tether.data.search(tags={"owner": None})]
    assert owned == ["datasets:/penguins@1", "datasets:/weather_jan@1"]
    both = tether.data.search(tags={"stage": "prod", "owner": None})
    assert [v.uri for v in both] == ["datasets:/weather_jan@1"]
    assert both[0].tags == {"owner": "lee", "stage": "prod"}


def test_search_by_column(catalog: dict[str, tether.data.DatasetVersion]) -> None:
    assert [v.uri for v in tether.data.search(column="TEMP")] == [
        "datasets:/weather_jan@1"
    ]
    bills = [v.uri for v in tether.data.search(column="bill_*_mm")]
    assert bills == ["datasets:/penguins@2", "datasets:/penguins@1"]
    assert tether.data.search(column="wingspan") == []


def test_search_by_digest_prefix(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    digest = catalog["adelie"].digest
    found = tether.data.search(digest=digest[:8].upper())
    assert [v.uri for v in found] == ["datasets:/penguins@1"]
    assert [v.uri for v in tether.data.search(digest=digest)] == [
        "datasets:/penguins@1"
    ]
    with pytest.raises(ConfigError, match=r"invalid digest prefix 'xyz'.*hex digits"):
        tether.data.search(digest="xyz")


def test_search_by_creation_time(
    catalog: dict[str, tether.data.DatasetVersion],
) -> None:
    created = catalog["all"].created_at
    everything = tether.data.search(created_after=created - timedelta(days=1))
    assert len(everything) == 3
    assert tether.data.search(created_after=created + timedelta(days=1)) == []
    since = tether.data.search("penguins", created_after=catalog["all"].created_at)
    assert [v.uri for v in since] == ["datasets:/penguins@2"]
    tomorrow = (created + timedelta(days=1)).date().isoformat()
    assert tether.data.search(created_after=tomorrow) == []


def test_search_latest_only(catalog: dict[str, tether.data.DatasetVersion]) -> None:
    tether.data.tag(catalog["adelie"], stage="prod")
    tether.data.tag(catalog["all"], stage="prod")
    newest = tether.data.search(tags={"stage": "prod"}, latest=True)
    assert [v.uri for v in newest] == ["datasets:/penguins@2"]
    older = tether.data.search(tags={"stage": "prod"}, column="island", latest=True)
    assert [v.uri for v in older] == ["datasets:/penguins@2"]


def test_unicode_columns_survive_the_store(store_url: str) -> None:
    frame = pd.DataFrame({"température °C": [20.5, 21.0], "航班": ["UA", "B6"]})
    version = tether.data.register("unicode", frame)
    stored = get_store().get_dataset_version("unicode", version.version)
    assert stored.profile["columns"]["température °C"]["mean"] == 20.75
    assert stored.profile["columns"]["航班"]["distinct"] == 2
    assert [v.uri for v in tether.data.search(column="航班")] == ["datasets:/unicode@1"]


def test_parse_tags() -> None:
    assert parse_tags(["stage=prod", "query=a=b", "empty="]) == {
        "stage": "prod",
        "query": "a=b",
        "empty": "",
    }
    assert parse_tags(["stage"], value_required=False) == {"stage": None}
    with pytest.raises(ConfigError, match="invalid tag 'stage'; write KEY=VALUE"):
        parse_tags(["stage"])
    with pytest.raises(ConfigError, match="needs a character that is not whitespace"):
        parse_tags([" =x"])


def test_parse_time_reads_dates_as_utc() -> None:
    assert parse_time("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_time(date(2024, 5, 1)) == datetime(2024, 5, 1, tzinfo=UTC)
    offset = parse_time("2024-05-01T12:00:00+02:00")
    assert offset.astimezone(UTC) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    with pytest.raises(ConfigError, match="invalid date 'last week'"):
        parse_time("last week")


def test_check_tag_key_rejects_non_text() -> None:
    with pytest.raises(ConfigError, match="a key must be a str, not int"):
        check_tag_key(3)
