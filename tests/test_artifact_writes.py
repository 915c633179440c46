"""How blobs reach the disk: temporaries, one flush per folder, renames, leftovers."""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import blake3
import pytest

import tether
from tether.artifacts import durability, writer
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE, Blob, ObjectStore
from tether.errors import DataError

MANY_FILES = writer.SYNCFS_MIN_BLOBS * 3


@pytest.fixture
def objects(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


@pytest.fixture
def no_syncfs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the path of a system without syncfs (macOS): fsync each file."""
    monkeypatch.setattr(durability, "find_syncfs", lambda: None)


def blake3_hex(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob(f"{writer.TEMPORARY_PREFIX}*"))


def blob_files(root: Path) -> list[Path]:
    """Every file at a final blob name (not a temporary)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(writer.TEMPORARY_PREFIX)
    )


def make_folder(folder: Path, count: int) -> dict[str, bytes]:
    """Write ``count`` files of distinct content in nested folders; return them."""
    contents: dict[str, bytes] = {}
    for index in range(count):
        relative = f"level{index % 3}/sub{index % 5}/file{index:03d}.bin"
        data = f"content {index} ".encode() * (index + 1)
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
        contents[relative] = data
    return contents


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
    }


def record_syncfs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the inode number of each descriptor given to syncfs; the real syncfs runs."""
    real = durability.find_syncfs()
    if real is None:
        pytest.skip("this system has no syncfs")
    calls: list[int] = []

    def recording(descriptor: int) -> None:
        calls.append(os.fstat(descriptor).st_ino)
        real(descriptor)

    monkeypatch.setattr(durability, "find_syncfs", lambda: recording)
    return calls


def record_fsync(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the inode number of each file or folder fsynced; the real fsync still runs."""
    calls: list[int] = []
    real = os.fsync

    def recording(descriptor: int) -> None:
        calls.append(os.fstat(descriptor).st_ino)
        real(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    return calls


# -- folders -------------------------------------------------------------


@pytest.mark.parametrize("count", [3, MANY_FILES], ids=["few", "many"])
def test_folder_round_trip(objects: ObjectStore, tmp_path: Path, count: int) -> None:
    folder = tmp_path / "folder"
    contents = make_folder(folder, count)
    blob = objects.put_dir(folder)
    assert blob.media_type == MANIFEST_MEDIA_TYPE
    assert blob.size == sum(len(data) for data in contents.values())
    manifest = objects.manifest(blob.digest)
    assert [entry["path"] for entry in manifest] == sorted(contents)
    for entry in manifest:
        assert entry["digest"] == blake3_hex(contents[entry["path"]])
        assert objects.read_bytes(entry["digest"]) == contents[entry["path"]]
    restored = objects.get_dir(blob.digest, tmp_path / "restored")
    assert files_under(restored) == contents


@pytest.mark.parametrize("count", [3, MANY_FILES], ids=["few", "many"])
def test_put_dir_leaves_no_temporaries(
    objects: ObjectStore, tmp_path: Path, count: int
) -> None:
    make_folder(tmp_path / "folder", count)
    objects.put_dir(tmp_path / "folder")
    assert temp_files(objects.root) == []
    assert len(blob_files(objects.root)) == count + 1


def test_put_dir_blobs_read_only(objects: ObjectStore, tmp_path: Path) -> None:
    make_folder(tmp_path / "folder", MANY_FILES)
    objects.put_dir(tmp_path / "folder")
    modes = {stat.S_IMODE(p.stat().st_mode) for p in blob_files(objects.root)}
    assert modes == {0o444}


def test_put_dir_stores_duplicates_once(objects: ObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_bytes(b"same bytes")
    blob = objects.put_dir(folder)
    digests = {entry["digest"] for entry in objects.manifest(blob.digest)}
    assert digests == {blake3_hex(b"same bytes")}
    assert len(blob_files(objects.root)) == 2


def test_manifest_order_is_part_by_part(objects: ObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    names = ["a-c", "a/b", "a.b/c", "a b", "B", "a/b-c/d", "a/b/c", "é"]
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not (folder / name).is_dir():
            (folder / name).write_bytes(name.encode())
    expected = [
        p.relative_to(folder).as_posix()
        for p in sorted(p for p in folder.rglob("*") if p.is_file())
    ]
    blob = objects.put_dir(folder)
    assert [entry["path"] for entry in objects.manifest(blob.digest)] == expected
    assert expected.index("a/b-c/d") < expected.index("a-c")


def test_put_dir_symlinks(objects: ObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "hidden.txt").write_bytes(b"behind a folder link")
    (outside / "target.txt").write_bytes(b"behind a file link")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "plain.txt").write_bytes(b"plain")
    (folder / "file-link.txt").symlink_to(outside / "target.txt")
    (folder / "folder-link").symlink_to(outside, target_is_directory=True)
    (folder / "broken-link").symlink_to(tmp_path / "missing")
    blob = objects.put_dir(folder)
    manifest = objects.manifest(blob.digest)
    assert [entry["path"] for entry in manifest] == ["file-link.txt", "plain.txt"]
    assert manifest[0]["digest"] == blake3_hex(b"behind a file link")


def test_put_dir_missing_folder(objects: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"cannot read the folder .*missing"):
        objects.put_dir(tmp_path / "missing")


# -- rewriting and leftovers ----------------------------------------------


def test_existing_blob_not_rewritten(objects: ObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    contents = make_folder(folder, MANY_FILES)
    objects.put_dir(folder)
    before = {
        p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in blob_files(objects.root)
    }
    first = next(iter(contents))
    (folder / first).with_name("copy.bin").write_bytes(contents[first])
    objects.put_dir(folder)
    objects.put_bytes(contents[first])
    objects.put_file(folder / first)
    after = {
        p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in blob_files(objects.root)
    }
    new_manifests = set(after) - set(before)
    assert len(new_manifests) == 1
    # Same file (inode), not rewritten; the write only renews its mtime,
    # which tether gc's grace period reads.
    assert {p: after[p][0] for p in before} == {p: v[0] for p, v in before.items()}
    assert all(after[p][1] >= before[p][1] for p in before)
    assert temp_files(objects.root) == []


def test_leftover_temporary_ignored(objects: ObjectStore, tmp_path: Path) -> None:
    data = b"content whose first write was cut short"
    digest = blake3_hex(data)
    shard = objects.root / digest[:2]
    shard.mkdir(parents=True)
    leftover = shard / f"{writer.TEMPORARY_PREFIX}crashed0123456789"
    leftover.write_bytes(data[:5])
    assert not objects.exists(digest)

    assert objects.put_bytes(data) == Blob(digest, len(data))
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    assert objects.put_file(source).digest == digest
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "f.bin").write_bytes(data)
    blob = objects.put_dir(folder)

    assert objects.exists(digest)
    assert objects.read_bytes(digest) == data
    assert objects.manifest(blob.digest) == [
        {"path": "f.bin", "digest": digest, "size": len(data)}
    ]
    assert temp_files(objects.root) == [leftover]
    assert leftover.read_bytes() == data[:5]


def test_doctor_warns_about_leftover(tether_home: Path, tmp_path: Path) -> None:
    from tether.artifacts import get_objects
    from tether.doctor import run_checks
    from tether.store import get_store

    folder = tmp_path / "folder"
    make_folder(folder, MANY_FILES)
    with tether.start_run(experiment="leftovers") as run:
        record = run.log_artifact(folder, "folder")
    objects = get_objects()
    leftover = objects.path(record.digest).parent / f"{writer.TEMPORARY_PREFIX}crashed"
    leftover.write_bytes(b"half")

    checks = {check.name: check for check in run_checks(get_store(), objects)}
    assert checks["blobs"].problems == []
    rehashed = int(checks["blobs"].detail.split()[0])
    assert rehashed >= MANY_FILES + 1
    assert checks["temporary files"].ok
    assert checks["temporary files"].warnings == [
        f"temporary file {leftover}; delete it when no Tether process is writing"
    ]


KILLED_WRITER = """
import sys
from tether.artifacts.objects import ObjectStore
ObjectStore(sys.argv[1]).put_dir(sys.argv[2])
"""


def test_killed_writer_leaves_whole_blobs(objects: ObjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    contents = make_folder(folder, 2000)
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(objects.root), str(folder)]
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if temp_files(objects.root):
            break
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)

    # Wherever the kill landed, every file at a final name has whole content.
    for path in blob_files(objects.root):
        digest = path.parent.name + path.name
        assert blake3_hex(path.read_bytes()) == digest
    blob = objects.put_dir(folder)
    restored = objects.get_dir(blob.digest, tmp_path / "restored")
    assert files_under(restored) == contents


# -- flushing ------------------------------------------------------------


def test_many_files_flushed_by_syncfs(
    objects: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder(tmp_path / "folder", MANY_FILES)
    syncfs_calls = record_syncfs(monkeypatch)
    fsync_calls = record_fsync(monkeypatch)
    blob = objects.put_dir(tmp_path / "folder")
    shards = {entry["digest"][:2] for entry in objects.manifest(blob.digest)}
    root = objects.root.stat().st_ino
    assert syncfs_calls == [root, root]
    # Only the manifest is fsynced: the file, its shard folder, and the root
    # when that shard folder is new.
    manifest_shard_is_new = blob.digest[:2] not in shards
    assert len(fsync_calls) == 2 + manifest_shard_is_new


def test_few_files_fsynced_each(
    objects: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for index in range(3):
        (folder / f"{index}.txt").write_bytes(f"file {index}".encode())
    syncfs_calls = record_syncfs(monkeypatch)
    fsync_calls = record_fsync(monkeypatch)
    blob = objects.put_dir(folder)
    blobs = [objects.path(entry["digest"]) for entry in objects.manifest(blob.digest)]
    shards = sorted({path.parent for path in blobs})
    manifest = objects.path(blob.digest)
    root = [objects.root.stat().st_ino]
    assert syncfs_calls == []
    # Each file, then after the renames each shard folder and the root. Then
    # the manifest, its shard folder, and the root when that folder is new.
    expected = [path.stat().st_ino for path in blobs]
    expected += [shard.stat().st_ino for shard in shards] + root
    expected += [manifest.stat().st_ino, manifest.parent.stat().st_ino]
    expected += root if manifest.parent not in shards else []
    assert fsync_calls == expected


def test_single_blob_fsyncs_folder(
    objects: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync_calls = record_fsync(monkeypatch)
    blob = objects.put_bytes(b"one blob")
    path = objects.path(blob.digest)
    # The file (renamed since, so under its final name), then its new shard
    # folder after the rename, then the root that received the shard folder.
    assert fsync_calls == [
        path.stat().st_ino,
        path.parent.stat().st_ino,
        objects.root.stat().st_ino,
    ]

    fsync_calls.clear()
    neighbour = next(
        data
        for data in (f"neighbour {i}".encode() for i in range(10_000))
        if blake3_hex(data)[:2] == blob.digest[:2]
    )
    second = objects.path(objects.put_bytes(neighbour).digest)
    assert fsync_calls == [second.stat().st_ino, path.parent.stat().st_ino]

    fsync_calls.clear()
    objects.put_bytes(b"one blob")
    assert fsync_calls == []


@pytest.mark.parametrize("count", [3, MANY_FILES], ids=["few", "many"])
def test_without_syncfs_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    folder = tmp_path / "folder"
    make_folder(folder, count)
    with_syncfs = ObjectStore(tmp_path / "with")
    expected = with_syncfs.put_dir(folder)

    monkeypatch.setattr(durability, "find_syncfs", lambda: None)
    fsync_calls = record_fsync(monkeypatch)
    without = ObjectStore(tmp_path / "without")
    assert without.put_dir(folder) == expected
    assert len(fsync_calls) >= count + 1
    assert files_under(without.root) == files_under(with_syncfs.root)
    assert temp_files(without.root) == []
    modes = {stat.S_IMODE(p.stat().st_mode) for p in blob_files(without.root)}
    assert modes == {0o444}


def test_failed_flush_renames_nothing(
    objects: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder(tmp_path / "folder", MANY_FILES)

    def failing_syncfs(descriptor: int) -> None:
        raise OSError(errno.EIO, "simulated write-back error")

    monkeypatch.setattr(durability, "find_syncfs", lambda: failing_syncfs)
    message = f"cannot flush the blobs written to {objects.root}: simulated write-back"
    with pytest.raises(OSError, match=re.escape(message)):
        objects.put_dir(tmp_path / "folder")
    assert blob_files(objects.root) == []
    assert temp_files(objects.root) == []


# -- large files -----------------------------------------------------------


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """Lower the whole-read limit so a test file of kilobytes takes the copy path."""
    monkeypatch.setattr(writer, "WHOLE_READ_MAX_BYTES", 1024)
    return 1024


def test_large_file_copied(
    objects: ObjectStore, tmp_path: Path, small_limit: int
) -> None:
    data = os.urandom(small_limit * 40 + 7)
    source = tmp_path / "large.bin"
    source.write_bytes(data)
    blob = objects.put_file(source, "application/x-weights")
    assert blob == Blob(blake3_hex(data), len(data), "application/x-weights")
    assert objects.read_bytes(blob.digest) == data
    assert stat.S_IMODE(objects.path(blob.digest).stat().st_mode) == 0o444
    assert temp_files(objects.root) == []


@pytest.mark.usefixtures("no_syncfs")
def test_large_files_in_folder(
    objects: ObjectStore, tmp_path: Path, small_limit: int
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    contents = {f"{i}.bin": os.urandom(small_limit * (i + 2)) for i in range(3)}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    blob = objects.put_dir(folder)
    restored = objects.get_dir(blob.digest, tmp_path / "restored")
    assert files_under(restored) == contents


def test_source_changed_during_copy(
    objects: ObjectStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_limit: int,
) -> None:
    source = tmp_path / "growing.log"
    source.write_bytes(b"x" * small_limit * 4)
    real_digest: Callable[[Path], str] = writer.digest_file

    def digest_then_append(path: Path) -> str:
        digest = real_digest(path)
        with Path(path).open("ab") as handle:
            handle.write(b"written by another program")
        return digest

    monkeypatch.setattr(writer, "digest_file", digest_then_append)
    with pytest.raises(
        DataError, match=r"growing\.log changed while it was being stored"
    ):
        objects.put_file(source)
    assert blob_files(objects.root) == []
    assert temp_files(objects.root) == []


def test_doctor_rehashes_file_set_members(tether_home: Path, tmp_path: Path) -> None:
    from tether.artifacts import get_objects
    from tether.doctor import run_checks
    from tether.store import get_store

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"first photo")
    (folder / "b.bin").write_bytes(b"second photo")
    version, _ = tether.data.acquire("photos", folder)
    objects = get_objects()
    member = objects.manifest(version.object_digest)[0]["digest"]
    path = objects.path(member)
    path.chmod(0o644)
    path.write_bytes(b"CORRUPT")

    checks = {check.name: check for check in run_checks(get_store(), objects)}
    assert len(checks["blobs"].problems) == 1
    assert checks["blobs"].problems[0].startswith(f"corrupt blob {member}")
