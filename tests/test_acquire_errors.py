"""Bad local input: each case raises a TetherError naming the value and the fix,
and leaves no version behind."""

from __future__ import annotations

import io
import os
import re
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from tether.artifacts import get_objects
from tether.data.acquisition import acquire, registration
from tether.data.acquisition.hash_cache import FileHashCache
from tether.errors import ConfigError, DataError
from tether.store import get_store


def penguins_csv() -> Path:
    relative = "palmerpenguins/data/penguins.csv"
    return Path(str(metadata.distribution("palmerpenguins").locate_file(relative)))


def assert_nothing_registered(name: str) -> None:
    assert get_store().latest_dataset_version(name) is None


def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(penguins_csv()).to_parquet(buffer)
    return buffer.getvalue()


def test_truncated_parquet(tether_home: Path, tmp_path: Path) -> None:
    data = parquet_bytes()
    path = tmp_path / "penguins.parquet"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as caught:
        acquire("penguins", path)
    message = str(caught.value)
    assert f"cannot parse {path} as application/vnd.apache.parquet" in message
    assert "check that the file is complete" in message
    assert_nothing_registered("penguins")


def test_csv_with_broken_quote(tether_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text('species,island\nAdelie,"Torgersen\nGentoo,Biscoe\n')
    with pytest.raises(DataError, match="EOF inside string") as caught:
        acquire("broken", path)
    assert str(path) in str(caught.value)
    assert_nothing_registered("broken")


def test_empty_file(tether_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError) as caught:
        acquire("empty", path)
    assert str(caught.value) == (
        f"{path} is empty (0 bytes); check that it was written completely, "
        "then acquire it again"
    )
    assert_nothing_registered("empty")


def test_one_bad_file_in_glob(tether_home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(penguins_csv().read_bytes())
    (tmp_path / "b.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"b\.csv is empty"):
        acquire("penguins", str(tmp_path / "*.csv"))
    assert_nothing_registered("penguins")


def test_missing_path(tether_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "missing file.csv"
    with pytest.raises(DataError) as caught:
        acquire("missing", path)
    assert str(caught.value) == (
        f"{path} does not exist; check the path or download the data first"
    )


def test_broken_symlink(tether_home: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "gone.csv")
    with pytest.raises(DataError, match="is a broken symbolic link") as caught:
        acquire("link", link)
    assert str(tmp_path / "gone.csv") in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of mode")
def test_unreadable_file(tether_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "secret.csv"
    path.write_bytes(penguins_csv().read_bytes())
    path.chmod(0)
    with pytest.raises(DataError, match="permission denied; fix its permissions"):
        acquire("secret", path)
    assert_nothing_registered("secret")


def test_glob_without_matches(tether_home: Path, tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.parquet")
    with pytest.raises(DataError) as caught:
        acquire("nothing", pattern)
    assert str(caught.value) == (
        f"no files match {pattern}; check the pattern, and quote it so that the "
        "shell does not expand it"
    )


def test_empty_folder(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "empty folder"
    folder.mkdir()
    with pytest.raises(DataError, match="contains no files; check the path"):
        acquire("nothing", folder)


def test_invalid_format(tether_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        acquire("penguins", penguins_csv(), format="xlsx")
    assert str(caught.value) == (
        "invalid source format 'xlsx'; use one of: csv, parquet, json, jsonl, files"
    )


def test_unsupported_scheme(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match=r"unsupported source scheme ftp://"):
        acquire("remote", "ftp://127.0.0.1/data.csv")


def test_option_for_other_source(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match="storage_options apply to s3:// sources"):
        acquire("penguins", penguins_csv(), storage_options={"anon": True})


def test_table_changed_while_read(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "penguins.csv"
    path.write_bytes(penguins_csv().read_bytes())
    read = registration.read_bytes

    def append_then_read(file: registration.SourceFile) -> bytes:
        with path.open("a") as handle:
            handle.write("Adelie,Dream,40.0,18.0,190,3800,male,2009\n")
        return read(file)

    monkeypatch.setattr(registration, "read_bytes", append_then_read)
    with pytest.raises(DataError) as caught:
        acquire("penguins", path)
    message = str(caught.value)
    assert message.startswith(f"{path} changed while it was being read (size ")
    assert "nothing was registered. Acquire it again once no program writes to it" in (
        message
    )
    assert_nothing_registered("penguins")
    with FileHashCache() as cache:
        assert cache.lookup(str(path), path.stat()) is None


def test_file_set_changed_while_read(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a" * 100)
    (folder / "b.bin").write_bytes(b"b" * 100)
    objects = get_objects()
    put_files = objects.put_files

    def grow_then_store(sources: list[Path]) -> object:
        # b.bin grows after it was listed and before the batch is stored.
        with (folder / "b.bin").open("ab") as handle:
            handle.write(b"more")
        return put_files(sources)

    monkeypatch.setattr(objects, "put_files", grow_then_store)
    with pytest.raises(DataError, match=r"b\.bin changed while it was being read"):
        acquire("images", folder)
    assert_nothing_registered("images")


def test_file_removed_while_read(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "penguins.csv"
    path.write_bytes(penguins_csv().read_bytes())
    read = registration.read_bytes

    def read_then_remove(file: registration.SourceFile) -> bytes:
        data = read(file)
        path.unlink()
        return data

    monkeypatch.setattr(registration, "read_bytes", read_then_remove)
    with pytest.raises(
        DataError, match=r"changed while it was being read \(it was removed\)"
    ):
        acquire("penguins", path)
    assert_nothing_registered("penguins")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "a name needs at least one letter or digit"),
        ("  ", "a name needs at least one letter or digit"),
        ("a@b", "'@' and '/' separate the parts"),
        ("bad/name", "'@' and '/' separate the parts"),
        ("x\ny", "can only address names of ASCII letters"),
    ],
)
def test_unaddressable_dataset_name_rejected(
    tether_home: Path, tmp_path: Path, name: str, rule: str
) -> None:
    path = tmp_path / "penguins.csv"
    path.write_bytes(penguins_csv().read_bytes())
    with pytest.raises(ConfigError, match=re.escape(rule)):
        acquire(name, path)
    assert get_store().list_dataset_versions() == []
