"""Content-addressed blobs, BLAKE3 digests and the materializers of Python values."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import blake3
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.artifacts import digest as digest_module
from tether.artifacts import writer
from tether.artifacts.digest import digest_bytes, digest_file
from tether.artifacts.materializers import (
    JSON,
    NPY,
    PARQUET,
    NotMaterializableError,
    from_bytes,
    load,
    save,
    to_bytes,
)
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE, Blob, ObjectStore
from tether.errors import ConfigError, DataError, NotFoundError

TEMP_EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def objects(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


def stored_files(objects: ObjectStore) -> list[Path]:
    return sorted(p for p in objects.root.rglob("*") if p.is_file())


def temp_files(objects: ObjectStore) -> list[Path]:
    return sorted(objects.root.rglob(".tmp-*"))


def blake3_hex(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
    }


# -- blobs ---------------------------------------------------------------


def test_put_bytes_returns_blob(objects: ObjectStore) -> None:
    blob = objects.put_bytes(b"hello", "text/plain")
    assert blob == Blob(blake3_hex(b"hello"), 5, "text/plain")
    assert objects.read_bytes(blob.digest) == b"hello"
    assert objects.exists(blob.digest)
    expected_path = objects.root / blob.digest[:2] / blob.digest[2:]
    assert objects.path(blob.digest) == expected_path


def test_put_file_returns_blob(objects: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"\x00\x01weights")
    blob = objects.put_file(source, "application/x-model")
    assert blob == Blob(blake3_hex(b"\x00\x01weights"), 9, "application/x-model")
    assert objects.read_bytes(blob.digest) == b"\x00\x01weights"


def test_put_file_missing_source(objects: ObjectStore, tmp_path: Path) -> None:
    missing = tmp_path / "missing.bin"
    with pytest.raises(DataError, match=r"cannot read .*missing\.bin"):
        objects.put_file(missing)


def test_empty_content_stored(objects: ObjectStore) -> None:
    blob = objects.put_bytes(b"")
    assert blob.size == 0
    assert objects.read_bytes(blob.digest) == b""


def test_identical_content_stored_once(objects: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "same.txt"
    source.write_bytes(b"same content")
    first = objects.put_bytes(b"same content")
    second = objects.put_bytes(b"same content")
    third = objects.put_file(source)
    assert first.digest == second.digest == third.digest
    assert stored_files(objects) == [objects.path(first.digest)]


def test_blobs_are_read_only(objects: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "f.txt"
    source.write_bytes(b"from a file")
    for blob in (objects.put_bytes(b"from bytes"), objects.put_file(source)):
        mode = stat.S_IMODE(objects.path(blob.digest).stat().st_mode)
        assert mode == 0o444


def test_writes_leave_no_temp_files(objects: ObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"a")
    (folder / "sub" / "b.txt").write_bytes(b"b")
    objects.put_bytes(b"x")
    objects.put_file(folder / "a.txt")
    objects.put_dir(folder)
    assert temp_files(objects) == []
    assert len(stored_files(objects)) == 4


def test_failed_copy_leaves_nothing(
    objects: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"0123456789" * 10)
    # Files above this size are copied by shutil.copyfile instead of read whole.
    monkeypatch.setattr(writer, "WHOLE_READ_MAX_BYTES", 16)

    def copy_then_fail(reader: Path, target: str) -> None:
        Path(target).write_bytes(source.read_bytes()[:40])
        raise OSError("simulated read error")

    monkeypatch.setattr(shutil, "copyfile", copy_then_fail)
    with pytest.raises(OSError, match="simulated read error"):
        objects.put_file(source)
    assert not objects.exists(digest_bytes(source.read_bytes()))
    assert temp_files(objects) == []
    assert stored_files(objects) == []


def test_failed_sync_leaves_nothing(
    objects: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_fsync(fd: int) -> None:
        raise OSError("simulated fsync error")

    monkeypatch.setattr(os, "fsync", fail_fsync)
    with pytest.raises(OSError, match="simulated fsync error"):
        objects.put_bytes(b"never stored")
    assert not objects.exists(digest_bytes(b"never stored"))
    assert temp_files(objects) == []


def test_missing_digest_not_found(objects: ObjectStore) -> None:
    missing = "0" * 64
    with pytest.raises(NotFoundError, match=rf"^object {missing} is missing from "):
        objects.read_bytes(missing)
    assert objects.exists(missing) is False


@pytest.mark.parametrize(
    "digest", ["", "abc", "a" * 63, "a" * 65, "A" * 64, "g" * 64, "../" + "a" * 61]
)
def test_invalid_digest_rejected(objects: ObjectStore, digest: str) -> None:
    with pytest.raises(ValueError, match=r"invalid object digest .*64 hex characters"):
        objects.read_bytes(digest)
    with pytest.raises(ValueError, match=r"invalid object digest"):
        objects.path(digest)


def test_remote_root_rejected() -> None:
    with pytest.raises(ConfigError, match=r"artifact store 's3://bucket/x'"):
        ObjectStore("s3://bucket/x")


def test_file_url_root(tmp_path: Path) -> None:
    store = ObjectStore(f"file://{tmp_path}/objects")
    assert store.root == tmp_path / "objects"


# -- folders -------------------------------------------------------------


def test_put_dir_manifest(objects: ObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "z.txt").write_bytes(b"zz")
    (folder / "nested" / "deeper" / "w.bin").write_bytes(b"\x00\xff\x10")
    (folder / "copy.txt").write_bytes(b"zz")
    blob = objects.put_dir(folder)
    assert blob.size == 7
    assert blob.media_type == MANIFEST_MEDIA_TYPE
    assert objects.manifest(blob.digest) == [
        {"path": "copy.txt", "digest": blake3_hex(b"zz"), "size": 2},
        {
            "path": "nested/deeper/w.bin",
            "digest": blake3_hex(b"\x00\xff\x10"),
            "size": 3,
        },
        {"path": "z.txt", "digest": blake3_hex(b"zz"), "size": 2},
    ]


def test_get_dir_rebuilds_folder(objects: ObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "root.txt").write_bytes(b"root")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "a" / "b" / "data.bin").write_bytes(bytes(range(256)))
    (folder / "a" / "ünïcode name.txt").write_text("κείμενο", encoding="utf-8")
    blob = objects.put_dir(folder)
    target = objects.get_dir(blob.digest, tmp_path / "restored")
    assert target == tmp_path / "restored"
    assert files_under(target) == files_under(folder)


def test_put_dir_same_content_same_digest(objects: ObjectStore, tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f.txt").write_bytes(b"same")
    assert objects.put_dir(tmp_path / "one") == objects.put_dir(tmp_path / "two")
    (tmp_path / "two" / "f.txt").write_bytes(b"changed")
    assert objects.put_dir(tmp_path / "one") != objects.put_dir(tmp_path / "two")


@pytest.mark.parametrize("unsafe", ["../x", "a/../../x", "ABSOLUTE"])
def test_manifest_unsafe_path_rejected(
    objects: ObjectStore, tmp_path: Path, unsafe: str
) -> None:
    escaped = tmp_path / "x"
    if unsafe == "ABSOLUTE":
        unsafe = str(escaped)
    content = objects.put_bytes(b"payload")
    manifest = {"files": [{"path": unsafe, "digest": content.digest, "size": 7}]}
    blob = objects.put_bytes(json.dumps(manifest).encode(), MANIFEST_MEDIA_TYPE)
    target = tmp_path / "deep" / "target"
    message = f"names an unsafe path {unsafe!r}"
    with pytest.raises(DataError, match=re.escape(message)):
        objects.get_dir(blob.digest, target)
    assert not escaped.exists()
    assert not (tmp_path / "deep" / "x").exists()


def test_get_dir_missing_manifest(objects: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"object f{64} is missing"):
        objects.get_dir("f" * 64, tmp_path / "target")


# -- digests -------------------------------------------------------------


@given(first=st.binary(max_size=4096), second=st.binary(max_size=4096))
@settings(max_examples=100)
def test_digest_changes_with_content(first: bytes, second: bytes) -> None:
    assert (digest_bytes(first) == digest_bytes(second)) == (first == second)
    assert digest_bytes(first) == blake3_hex(first)


@given(data=st.binary(max_size=20_000))
@TEMP_EXAMPLES
def test_digest_file_matches_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    monkeypatch.setattr(digest_module, "CHUNK_BYTES", 1024)
    path = tmp_path / "content.bin"
    path.write_bytes(data)
    assert digest_file(path) == blake3_hex(data)


@given(data=st.binary(min_size=1, max_size=2048), index=st.integers(min_value=0))
@TEMP_EXAMPLES
def test_one_byte_change_changes_digest(
    objects: ObjectStore, data: bytes, index: int
) -> None:
    position = index % len(data)
    changed = bytearray(data)
    changed[position] ^= 0x01
    assert objects.put_bytes(data).digest != objects.put_bytes(bytes(changed)).digest


def test_parallel_digest_matches_sequential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.random.default_rng(7).bytes(4 * 1024 * 1024 + 3)
    path = tmp_path / "large.bin"
    path.write_bytes(data)
    monkeypatch.setattr(digest_module, "CHUNK_BYTES", 64 * 1024)
    sequential = digest_file(path)

    calls: list[dict[str, Any]] = []

    def recording_blake3(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return blake3.blake3(*args, **kwargs)

    recording = SimpleNamespace(blake3=recording_blake3)
    recording_blake3.AUTO = blake3.blake3.AUTO  # type: ignore[attr-defined]
    monkeypatch.setattr(digest_module, "blake3", recording)
    monkeypatch.setattr(digest_module, "PARALLEL_THRESHOLD_BYTES", 1024 * 1024)
    parallel = digest_file(path)
    assert calls == [{"max_threads": blake3.blake3.AUTO}]
    assert parallel == sequential
    assert parallel == blake3_hex(data)


# -- materializers -------------------------------------------------------


def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": np.array([1, -2, 3], dtype="int64"),
            "score": [0.5, np.nan, -1.25],
            "name": ["a", "ünï", "c d"],
            "seen": pd.to_datetime(
                ["2024-01-01 00:00:00", "2024-06-30 12:00:01.123456", "1999-12-31"],
                format="ISO8601",
            ),
            "seen_utc": pd.to_datetime(
                ["2024-01-01", "2024-06-30", "1999-12-31"]
            ).tz_localize("UTC"),
            "flag": [True, False, True],
        }
    )


def test_dataframe_round_trips() -> None:
    frame = mixed_frame()
    data, kind, media_type = to_bytes(frame)
    assert (kind, media_type) == ("dataframe", PARQUET)
    pd.testing.assert_frame_equal(from_bytes(data, kind), frame)


def test_dataframe_index_round_trips() -> None:
    frame = mixed_frame().set_index("name")
    data, kind, _ = to_bytes(frame)
    pd.testing.assert_frame_equal(from_bytes(data, kind), frame)


def test_dataframe_bytes_deterministic() -> None:
    first, _, _ = to_bytes(mixed_frame())
    second, _, _ = to_bytes(mixed_frame())
    assert first == second
    assert digest_bytes(first) == digest_bytes(second)


def test_ndarray_round_trips() -> None:
    for array in (
        np.arange(12, dtype="float32").reshape(3, 4),
        np.array([1, -5, 2**40], dtype="int64"),
        np.array([True, False]),
        np.array(["ab", "ünï"]),
    ):
        data, kind, media_type = to_bytes(array)
        restored = from_bytes(data, kind)
        assert (kind, media_type) == ("ndarray", NPY)
        assert restored.dtype == array.dtype
        assert restored.shape == array.shape
        np.testing.assert_array_equal(restored, array)


def test_json_round_trips() -> None:
    value = {"name": "ünï", "layers": [64, 32], "rate": 0.001, "on": True, "x": None}
    data, kind, media_type = to_bytes(value)
    assert (kind, media_type) == ("json", JSON)
    assert from_bytes(data, kind) == value


def test_json_keeps_key_order() -> None:
    # A dict's order is observable in Python, so a stored dict keeps it and
    # two dicts with the same items in another order are different values.
    first, kind, _ = to_bytes({"b": 1, "a": 2})
    assert first != to_bytes({"a": 2, "b": 1})[0]
    assert list(from_bytes(first, kind)) == ["b", "a"]


@pytest.mark.parametrize(
    "value",
    [
        object(),
        (1, 2),
        {1: "non-string key"},
        [1, {2, 3}],
        np.array([object(), object()], dtype=object),
        pd.DataFrame({"thing": [object(), object()]}),
    ],
    ids=["object", "tuple", "int-key", "set-in-list", "object-array", "object-column"],
)
def test_unstorable_value_rejected(value: Any) -> None:
    with pytest.raises(NotMaterializableError, match=r"cannot be stored"):
        to_bytes(value)


def test_unknown_kind_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown value kind 'pickle'"):
        from_bytes(b"", "pickle")


def test_save_and_load(objects: ObjectStore) -> None:
    frame = mixed_frame()
    stored = save(objects, frame)
    assert stored.kind == "dataframe"
    assert stored.blob.media_type == PARQUET
    assert stored.blob.digest == digest_bytes(to_bytes(frame)[0])
    pd.testing.assert_frame_equal(load(objects, stored.blob.digest, "dataframe"), frame)
