"""``tether data list | show | versions | diff | tag | search`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

import nyc_tables as nycflights13
import tether
from cli_helpers import one_line_error as fail
from tether.artifacts import get_objects
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.cli.main import app
from tether.cli.render import console
from tether.store import get_store


@pytest.fixture
def catalog(tether_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Weather of January and July, and the penguins made by a run."""
    monkeypatch.setattr(console, "width", 200)
    weather = nycflights13.weather
    tether.data.register("weather", weather[weather["month"] == 1])
    tether.data.register("weather", weather[weather["month"] == 7])
    with tether.start_run(experiment="birds", name="collect"):
        tether.data.register("penguins", palmerpenguins.load_penguins(), role="output")
    return tether_home


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def invoke_json(*args: str) -> object:
    return json.loads(invoke(*args, "--format", "json").output)


def test_list_shows_latest_versions(catalog: Path) -> None:
    text = invoke("data", "list").output
    assert "weather" in text
    assert "2228" in text
    listed = invoke_json("data", "list")
    assert isinstance(listed, list)
    assert [(v["name"], v["version"], v["rows"]) for v in listed] == [
        ("penguins", 1, 344),
        ("weather", 2, 2228),
    ]
    assert "profile" not in listed[0]
    assert listed[1]["uri"] == "datasets:/weather@2"


def test_versions_lists_newest_first(catalog: Path) -> None:
    tether.data.tag("weather@1", stage="prod")
    text = invoke("data", "versions", "weather").output
    assert "stage=prod" in text
    versions = invoke_json("data", "versions", "weather")
    assert isinstance(versions, list)
    assert [(v["version"], v["tags"]) for v in versions] == [
        (2, {}),
        (1, {"stage": "prod"}),
    ]


def test_show_prints_every_fact(catalog: Path) -> None:
    tether.data.tag("penguins@1", stage="prod", owner="ana")
    record = get_store().get_dataset_version("penguins", 1)
    text = invoke("data", "show", "datasets:/penguins@1").output
    assert "datasets:/penguins@1  344 rows" in text
    assert record.digest in text
    assert "owner=ana, stage=prod" in text
    assert f"{record.run_id} (collect in experiment birds)" in text
    assert "bill_length_mm" in text
    assert "top Adelie ×152" in text


def test_show_counts_file_list(catalog: Path, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for index in range(3):
        (folder / f"note {index}.txt").write_text(f"{index}\n")
    tether.data.acquire("notes", folder)
    text = invoke("data", "show", "notes").output
    assert "files=[3 entries]" in text
    assert "note 0.txt" not in text
    shown = invoke_json("data", "show", "notes")
    assert isinstance(shown, dict)
    assert len(shown["source"]["files"]) == 3


def test_show_json_has_profile_tags_and_run(catalog: Path) -> None:
    tether.data.tag("penguins@1", stage="prod")
    record_data = invoke_json("data", "show", "penguins")
    assert isinstance(record_data, dict)
    assert record_data["uri"] == "datasets:/penguins@1"
    assert record_data["tags"] == {"stage": "prod"}
    assert record_data["run"]["name"] == "collect"
    assert record_data["run"]["experiment"] == "birds"
    assert record_data["run"]["status"] == "FINISHED"
    mass = record_data["profile"]["columns"]["body_mass_g"]
    assert mass["nulls"] == 2
    assert mass["min"] == 2700.0
    assert mass["max"] == 6300.0
    assert sum(mass["histogram"]["counts"]) == 342
    assert record_data["schema"][0] == {
        "name": "species",
        "type": "string",
        "dtype": "str",
    }


def test_diff_ranks_temperature_first(catalog: Path) -> None:
    text = invoke(
        "data", "diff", "weather@1", "datasets:/weather@2", "--top", "3"
    ).output
    assert "rows     2226 -> 2228 (+2" in text
    assert "schema   unchanged" in text
    assert "columns by shift (3 of 15)" in text
    assert "temp" in text
    assert "humid" not in text
    data = invoke_json("data", "diff", "weather@1", "weather@2")
    assert isinstance(data, dict)
    names = [column["name"] for column in data["columns"]]
    assert names[:3] == ["month", "temp", "dewp"]
    assert len(names) == 15
    assert data["columns"][1]["distance"] == pytest.approx(0.9995, abs=1e-4)


def test_diff_prints_schema_changes(catalog: Path) -> None:
    penguins = palmerpenguins.load_penguins()
    tether.data.register(
        "penguins",
        penguins.drop(columns=["sex"]).assign(year=penguins["year"] * 1.0, tag=1),
    )
    text = invoke("data", "diff", "penguins@1", "penguins@2", "--top", "0").output
    assert "+ tag (integer)" in text
    assert "- sex (string)" in text
    assert "~ year integer -> float" in text
    assert "columns by shift (7 of 7)" in text


def test_diff_of_file_sets(catalog: Path, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    for name in ("images", "images"):
        blob = get_objects().put_dir(folder)
        get_store().add_dataset_version(
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
        (folder / "b.txt").write_text("b")
    text = invoke("data", "diff", "images@1", "images@2").output
    assert "files added: 1" in text
    assert "b.txt" in text
    assert "files removed: 0" in text


def test_tag_sets_and_removes(catalog: Path) -> None:
    text = invoke("data", "tag", "weather@2", "stage=prod", "owner=ana").output
    assert "datasets:/weather@2  owner=ana, stage=prod" in text
    tagged = invoke_json("data", "tag", "weather@2", "--remove", "owner", "note=a=b")
    assert tagged == {
        "uri": "datasets:/weather@2",
        "tags": {"note": "a=b", "stage": "prod"},
    }
    assert get_store().get_dataset_version("weather", 2).tags == {
        "note": "a=b",
        "stage": "prod",
    }


def test_search_filters(catalog: Path) -> None:
    tether.data.tag("weather@1", stage="prod")
    tether.data.tag("penguins@1", stage="prod", owner="ana")
    found = invoke_json("data", "search", "--tag", "stage=prod", "--tag", "owner")
    assert isinstance(found, list)
    assert [v["uri"] for v in found] == ["datasets:/penguins@1"]
    by_column = invoke_json("data", "search", "--column", "*_mm")
    assert isinstance(by_column, list)
    assert [v["uri"] for v in by_column] == ["datasets:/penguins@1"]
    by_name = invoke_json("data", "search", "WEATHER", "--latest")
    assert isinstance(by_name, list)
    assert [v["uri"] for v in by_name] == ["datasets:/weather@2"]
    digest = get_store().get_dataset_version("weather", 1).digest
    by_digest = invoke_json("data", "search", "--digest", digest[:10])
    assert isinstance(by_digest, list)
    assert [v["uri"] for v in by_digest] == ["datasets:/weather@1"]
    assert invoke_json("data", "search", "--created-after", "2999-01-01") == []
    text = invoke("data", "search", "--tag", "stage=prod").output
    assert "2 matching versions" in text
    one = invoke("data", "search", "--tag", "owner=ana").output
    assert one.splitlines()[0].strip() == "1 matching version"


def hot_days(weather: pd.DataFrame, *more: pd.DataFrame) -> pd.DataFrame:
    frame = pd.concat([weather, *more])
    return frame[frame["temp"] > 80]


def test_lineage_of_derived_version(catalog: Path) -> None:
    derived = tether.data.derive("hot-days", hot_days, "weather@2", "weather@1")
    tree = invoke_json("lineage", derived.uri)
    assert isinstance(tree, dict)
    assert tree["label"] == "datasets:/hot-days@1"
    parents = [c["label"] for c in tree["children"] if c["relation"] == "derived"]
    assert parents == ["datasets:/weather@2", "datasets:/weather@1"]
    text = invoke("lineage", derived.uri).output
    assert "derived: datasets:/weather@2" in text
    assert f"function={hot_days.__module__}.hot_days" in text


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ("data", "show", "datasets:/nope@1"),
            ("dataset 'nope' not found", "tether data list"),
        ),
        (
            ("data", "show", "weather@7"),
            ("version 7 of dataset 'weather'", "tether data versions weather"),
        ),
        (
            ("data", "show", "datasets:/two words"),
            ("invalid dataset URI", "datasets:/NAME@VERSION"),
        ),
        (
            ("data", "show", "weather@prod"),
            ("invalid dataset version 'prod'", "--tag KEY=VALUE"),
        ),
        (("data", "versions", "nope"), ("dataset 'nope' not found",)),
        (("data", "diff", "weather@1", "nope@1"), ("dataset 'nope' not found",)),
        (
            ("data", "diff", "weather@1", "weather@3"),
            ("version 3 of dataset 'weather'",),
        ),
        (("data", "tag", "weather@1", "stage"), ("invalid tag 'stage'", "KEY=VALUE")),
        (("data", "tag", "weather@1"), ("KEY=VALUE", "--remove KEY")),
        (
            ("data", "tag", "weather@1", "--remove", "owner"),
            ("tag 'owner' is not set on datasets:/weather@1",),
        ),
        (
            ("data", "tag", "weather@1", "a\tb=c"),
            ("invalid tag key", "control character"),
        ),
        (("data", "search", "--digest", "xyz"), ("invalid digest prefix 'xyz'",)),
        (
            ("data", "search", "--created-after", "soon"),
            ("invalid date 'soon'", "2024-05-01"),
        ),
        (("data", "diff", "weather@1", "weather@2", "--top", "-1"), ("--top",)),
        (("data", "list", "--format", "yaml"), ("invalid format 'yaml'", "text, json")),
    ],
)
def test_bad_input_is_one_line(
    catalog: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    fragments: tuple[str, ...],
) -> None:
    line = fail(capsys, *args)
    for fragment in fragments:
        assert fragment in line


def test_diff_of_files_against_table_is_one_line(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("a")
    blob = get_objects().put_dir(tmp_path)
    get_store().add_dataset_version(
        "images",
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
    line = fail(capsys, "data", "diff", "images@1", "weather@1")
    assert "cannot diff datasets:/images@1 (a set of files)" in line
    assert "datasets:/weather@1 (a table)" in line
    assert "pick two versions of the same kind" in line
