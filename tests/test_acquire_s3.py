"""Object storage acquisition against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tether.artifacts import get_objects
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.data.acquisition import acquire, object_storage
from tether.errors import ConfigError, DataError
from tether.store import get_store

s3fs = pytest.importorskip("s3fs", reason="s3fs is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

PENGUINS = Path(
    str(
        metadata.distribution("palmerpenguins").locate_file(
            "palmerpenguins/data/penguins.csv"
        )
    )
).read_bytes()

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
CLEARED_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = moto_server.ThreadedMotoServer(
        ip_address="127.0.0.1", port=port, verbose=False
    )
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no AWS configuration files, so nothing reaches AWS."""
    for key in CLEARED_AWS_ENV:
        monkeypatch.delenv(key, raising=False)
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv(
        "AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials")
    )


@pytest.fixture(scope="module")
def remote(endpoint: str) -> Any:
    """The tests' own client of the server, with credentials of its own."""
    return s3fs.S3FileSystem(
        endpoint_url=endpoint,
        key=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        secret=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        skip_instance_cache=True,
    )


@pytest.fixture
def bucket(remote: Any, aws_env: None) -> str:
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    remote.mkdir(name)
    return name


def options(endpoint: str) -> dict[str, str]:
    return {"endpoint_url": endpoint}


def count_blobs(home: Path) -> int:
    return sum(1 for path in (home / "objects").rglob("*") if path.is_file())


def test_single_key_records_etag(
    tether_home: Path, endpoint: str, remote: Any, bucket: str
) -> None:
    fs = remote
    fs.pipe(f"{bucket}/raw/penguins.csv", PENGUINS)
    info = fs.info(f"{bucket}/raw/penguins.csv")
    url = f"s3://{bucket}/raw/penguins.csv"
    acquired = acquire("penguins", url, storage_options=options(endpoint))
    version = acquired.version
    assert acquired.new is True
    assert version.rows == 344
    assert version.media_type == "text/csv"
    assert version.source["type"] == "s3"
    assert version.source["url"] == url
    [record] = version.source["files"]
    assert record["url"] == url
    assert record["etag"] == info["ETag"]
    assert record["size"] == len(PENGUINS)
    assert record["name"] == "penguins.csv"
    assert record["modified"].endswith("+00:00")


def test_reacquire_skips_download(
    tether_home: Path,
    endpoint: str,
    remote: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote.pipe(f"{bucket}/penguins.csv", PENGUINS)
    url = f"s3://{bucket}/penguins.csv"
    first = acquire("penguins", url, storage_options=options(endpoint))
    blobs = count_blobs(tether_home)

    def fail(*args: object) -> None:
        raise AssertionError("an unchanged object was downloaded again")

    monkeypatch.setattr(object_storage, "download", fail)
    second = acquire("penguins", url, storage_options=options(endpoint))
    assert second.new is False
    assert second.version.id == first.version.id
    assert count_blobs(tether_home) == blobs


def test_overwritten_object_new_version(
    tether_home: Path, endpoint: str, remote: Any, bucket: str
) -> None:
    fs = remote
    fs.pipe(f"{bucket}/penguins.csv", PENGUINS)
    url = f"s3://{bucket}/penguins.csv"
    first = acquire("penguins", url, storage_options=options(endpoint)).version
    fs.pipe(f"{bucket}/penguins.csv", b"\n".join(PENGUINS.splitlines()[:11]) + b"\n")
    second = acquire("penguins", url, storage_options=options(endpoint))
    assert second.new is True
    assert second.version.version == 2
    assert second.version.rows == 10
    assert second.version.source["files"][0]["etag"] != first.source["files"][0]["etag"]


def test_versioned_bucket_records_version(
    tether_home: Path, endpoint: str, remote: Any, bucket: str
) -> None:
    remote.call_s3(
        "put_bucket_versioning",
        Bucket=bucket,
        VersioningConfiguration={"Status": "Enabled"},
    )
    remote.pipe(f"{bucket}/penguins.csv", PENGUINS)
    url = f"s3://{bucket}/penguins.csv"
    version = acquire(
        "penguins", url, storage_options={**options(endpoint), "version_aware": True}
    ).version
    [record] = version.source["files"]
    listed = remote.info(f"{bucket}/penguins.csv", refresh=True)
    assert record["version_id"] == listed["VersionId"]
    assert version.rows == 344


def test_glob_concatenates_tables(
    tether_home: Path, endpoint: str, remote: Any, bucket: str
) -> None:
    fs = remote
    frame = pd.read_csv(pd.io.common.BytesIO(PENGUINS))
    for year, part in frame.groupby("year"):
        fs.pipe(f"{bucket}/by year/{year}.csv", part.to_csv(index=False).encode())
    fs.pipe(f"{bucket}/by year/README.txt", b"not a table")
    url = f"s3://{bucket}/by year/*.csv"
    version = acquire("penguins", url, storage_options=options(endpoint)).version
    assert version.rows == 344
    assert version.media_type == "application/vnd.apache.parquet"
    assert [f["name"] for f in version.source["files"]] == [
        "2007.csv",
        "2008.csv",
        "2009.csv",
    ]


def test_prefix_is_file_set(
    tether_home: Path, endpoint: str, remote: Any, bucket: str
) -> None:
    fs = remote
    fs.pipe(f"{bucket}/images/a.png", b"\x89PNG" + b"a" * 50)
    fs.pipe(f"{bucket}/images/nested/b.jpg", b"\xff\xd8" + b"b" * 70)
    url = f"s3://{bucket}/images/"
    version = acquire("images", url, storage_options=options(endpoint)).version
    assert version.media_type == MANIFEST_MEDIA_TYPE
    entries = get_objects().manifest(version.object_digest)
    assert [(e["path"], e["size"]) for e in entries] == [
        ("a.png", 54),
        ("nested/b.jpg", 72),
    ]
    assert get_objects().read_bytes(entries[1]["digest"]) == b"\xff\xd8" + b"b" * 70


def test_endpoint_from_environment(
    tether_home: Path,
    endpoint: str,
    remote: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote.pipe(f"{bucket}/penguins.csv", PENGUINS)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    version = acquire("penguins", f"s3://{bucket}/penguins.csv").version
    assert version.rows == 344


def test_changed_during_download(
    tether_home: Path,
    endpoint: str,
    remote: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fs = remote
    fs.pipe(f"{bucket}/penguins.csv", PENGUINS)
    download = object_storage.download

    def overwrite_then_download(client: Any, file: Any) -> None:
        fs.pipe(f"{bucket}/penguins.csv", PENGUINS + PENGUINS.splitlines(True)[1])
        download(client, file)

    monkeypatch.setattr(object_storage, "download", overwrite_then_download)
    url = f"s3://{bucket}/penguins.csv"
    with pytest.raises(DataError) as caught:
        acquire("penguins", url, storage_options=options(endpoint))
    message = str(caught.value)
    assert message.startswith(f"{url} changed while it was being read (its ETag was ")
    assert "nothing was registered" in message
    assert get_store().latest_dataset_version("penguins") is None


def test_missing_credentials(
    tether_home: Path, endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    url = f"s3://{bucket}/penguins.csv"
    with pytest.raises(ConfigError) as caught:
        acquire("penguins", url, storage_options=options(endpoint))
    assert str(caught.value) == (
        f"no AWS credentials found for {url}; set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass "
        "storage_options={'anon': True} for a public bucket"
    )


def test_missing_bucket(tether_home: Path, endpoint: str, aws_env: None) -> None:
    url = "s3://no-such-bucket-here/penguins.csv"
    with pytest.raises(DataError) as caught:
        acquire("penguins", url, storage_options=options(endpoint))
    assert str(caught.value).startswith(f"{url} not found: ")
    assert str(caught.value).endswith("; check the bucket and key")


def test_glob_without_matches(tether_home: Path, endpoint: str, bucket: str) -> None:
    url = f"s3://{bucket}/none/*.csv"
    with pytest.raises(DataError) as caught:
        acquire("nothing", url, storage_options=options(endpoint))
    assert (
        str(caught.value)
        == f"no objects match {url}; check the bucket, prefix and pattern"
    )


def test_s3fs_missing(tether_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(ConfigError) as caught:
        acquire("penguins", "s3://bucket/penguins.csv")
    assert str(caught.value) == (
        "reading s3:// URLs needs the s3fs package, which is not installed; "
        "run `pip install 'tether-mlops[s3]'`"
    )
