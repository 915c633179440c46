"""Artifacts of the team server in S3: moto's S3 server on 127.0.0.1, a real server.

The AWS settings point every client at moto with dummy credentials, so no
request leaves the machine.
"""

from __future__ import annotations

import os
import socket
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import tether
from tether.artifacts import digest_bytes
from tether.artifacts.s3_objects import S3ObjectStore, split_s3_url
from tether.errors import ConfigError
from tether.server.settings import ServerSettings
from tether.server.setup import init_server
from tether.server.workspaces import workspace_cache_root, workspace_objects_root
from tether.store import SqlStore
from tether.testing.server import RunningServer, start_server

s3fs = pytest.importorskip("s3fs", reason="s3fs is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

BUCKET = "tether-artifacts"
ROOT = f"s3://{BUCKET}/team"
MAX_UPLOAD = 1024 * 1024
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
CLEARED_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
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
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server, with the AWS settings of this process pointing at it."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(
        ip_address="127.0.0.1", port=port, verbose=False
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    empty = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as patch:
        for key in CLEARED_AWS_ENV:
            patch.delenv(key, raising=False)
        for key, value in AWS_ENV.items():
            patch.setenv(key, value)
        patch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        patch.setenv("AWS_ENDPOINT_URL", url)
        yield url
    server.stop()


@pytest.fixture(scope="module")
def bucket(endpoint: str) -> Any:
    """The tests' own s3fs client, after creating the bucket."""
    remote = s3fs.S3FileSystem(
        endpoint_url=endpoint, skip_instance_cache=True, use_listings_cache=False
    )
    remote.mkdir(BUCKET)
    return remote


@dataclass
class Server:
    """A running server, its admin token and its state."""

    running: RunningServer
    token: str
    root: Path

    @property
    def state(self) -> Any:
        return self.running.app.state.server

    def workspace(self) -> str:
        name = f"w-{uuid.uuid4().hex[:10]}"
        self.state.control.add_workspace(name, actor="tests")
        return name

    def api(self, workspace: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.running.url}/api/v1/workspaces/{workspace}/objects",
            headers={"authorization": f"Bearer {self.token}"},
            trust_env=False,
        )


def serve(root: Path, artifacts_root: str) -> Server:
    settings = ServerSettings(
        store_url=f"sqlite:///{root / 'tether.db'}",
        artifacts_root=artifacts_root,
        auth=True,
        max_upload_bytes=MAX_UPLOAD,
    )
    token = init_server(settings.store_url, "admin")
    return Server(start_server(settings), token, root)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, bucket: Any) -> Iterator[Server]:
    found = serve(tmp_path_factory.mktemp("s3-server"), ROOT)
    yield found
    found.running.stop()


@pytest.fixture
def workspace(server: Server) -> str:
    return server.workspace()


@pytest.fixture
def api(server: Server, workspace: str) -> Iterator[httpx.Client]:
    with server.api(workspace) as client:
        yield client


def blob_key(workspace: str, digest: str) -> str:
    return f"{BUCKET}/team/workspaces/{workspace}/{digest[:2]}/{digest[2:]}"


def staged_key(workspace: str, upload_id: str) -> str:
    return f"{BUCKET}/team/workspaces/{workspace}/.uploads/{upload_id}"


def message(response: httpx.Response) -> str:
    body = response.json()
    if "error" in body:
        return str(body["error"]["message"])
    return str(body["detail"])


def presign(api: httpx.Client, data: bytes) -> dict[str, Any]:
    response = api.post(
        "/uploads/presign", json={"digest": digest_bytes(data), "size": len(data)}
    )
    assert response.status_code == 201, response.text
    reply: dict[str, Any] = response.json()
    return reply


def put_presigned(url: str, data: bytes) -> httpx.Response:
    return httpx.put(url, content=data, trust_env=False)


def drop_cached(path: Path) -> None:
    path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    path.unlink()


# -- the store itself --------------------------------------------------------


def test_put_bytes_writes_through(bucket: Any, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/unit-{uuid.uuid4().hex[:8]}"
    objects = S3ObjectStore(url, tmp_path / "cache")
    blob = objects.put_bytes(b"weights")
    key = f"{url.removeprefix('s3://')}/{blob.digest[:2]}/{blob.digest[2:]}"
    assert bucket.cat_file(key) == b"weights"
    assert objects.path(blob.digest).read_bytes() == b"weights"


def test_fresh_cache_reads_bucket(bucket: Any, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/unit-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_bytes(b"alpha")
    (source / "sub" / "b.bin").write_bytes(b"\x00beta")
    manifest = S3ObjectStore(url, tmp_path / "first").put_dir(source).digest

    fresh = S3ObjectStore(url, tmp_path / "second")
    assert not (tmp_path / "second" / manifest[:2]).exists()
    assert fresh.exists(manifest)
    target = fresh.get_dir(manifest, tmp_path / "out")
    assert (target / "a.txt").read_bytes() == b"alpha"
    assert (target / "sub" / "b.bin").read_bytes() == b"\x00beta"


def test_missing_blob_is_absent(bucket: Any, tmp_path: Path) -> None:
    objects = S3ObjectStore(f"s3://{BUCKET}/unit-empty", tmp_path / "cache")
    digest = digest_bytes(b"never stored")
    assert objects.exists(digest) is False
    assert objects.path(digest).exists() is False
    with pytest.raises(KeyError, match="not found in s3://tether-artifacts/unit-empty"):
        objects.read_bytes(digest)


def test_damaged_object_not_cached(bucket: Any, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/unit-{uuid.uuid4().hex[:8]}"
    digest = digest_bytes(b"good")
    bucket.pipe(f"{url.removeprefix('s3://')}/{digest[:2]}/{digest[2:]}", b"bad!")
    objects = S3ObjectStore(url, tmp_path / "cache")
    with pytest.raises(ValueError, match=f"object {digest} in {url} has digest"):
        objects.path(digest)
    assert list((tmp_path / "cache" / digest[:2]).iterdir()) == []


def test_expired_staged_removed(bucket: Any, tmp_path: Path) -> None:
    objects = S3ObjectStore(f"s3://{BUCKET}/unit-staging", tmp_path / "cache")
    upload_id = uuid.uuid4().hex
    staged = f"{BUCKET}/{objects.staging_key(upload_id)}"
    bucket.pipe(staged, b"partial")
    objects.remove_expired_staged(3600)
    assert bucket.exists(staged)
    # A negative age puts the cutoff in the future, so every staged file is old.
    objects.remove_expired_staged(-60)
    assert not bucket.exists(staged)


def test_missing_credentials(
    bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    objects = S3ObjectStore(f"s3://{BUCKET}/unit-nocreds", tmp_path / "cache")
    with pytest.raises(ConfigError) as caught:
        objects.exists(digest_bytes(b"x"))
    assert str(caught.value) == (
        f"no AWS credentials found to look up object {digest_bytes(b'x')} in "
        f"s3://{BUCKET}/unit-nocreds; set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the server's environment"
    )


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "s3://bucket/../up", "gs://bucket/p"]
)
def test_invalid_url_rejected(url: str) -> None:
    with pytest.raises(ConfigError, match="use s3://BUCKET or s3://BUCKET/PREFIX"):
        split_s3_url(url)


def test_workspace_locations(tmp_path: Path) -> None:
    assert workspace_objects_root(ROOT, "default") == ROOT
    assert workspace_objects_root(f"{ROOT}/", "churn") == f"{ROOT}/workspaces/churn"
    store_url = f"sqlite:///{tmp_path / 'tether.db'}"
    assert workspace_cache_root(store_url, "churn") == (
        tmp_path / "server-cache" / "churn"
    )


# -- the server --------------------------------------------------------------


def test_sdk_artifact_lands_in_bucket(
    server: Server,
    workspace: str,
    bucket: Any,
    tether_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TETHER_STORE", server.running.url)
    monkeypatch.setenv("TETHER_WORKSPACE", workspace)
    monkeypatch.setenv("TETHER_TOKEN", server.token)
    report = tmp_path / "report.txt"
    report.write_bytes(b"accuracy 0.93\n")
    with tether.start_run(experiment="s3") as run:
        record = run.log_artifact(report)

    keys = bucket.find(f"{BUCKET}/team/workspaces/{workspace}")
    assert blob_key(workspace, record.digest) in keys
    assert bucket.cat_file(blob_key(workspace, record.digest)) == b"accuracy 0.93\n"
    store: SqlStore = server.state.workspaces.store(workspace)
    listed = {a.path: a.digest for a in store.list_artifacts(run.id)}
    assert listed["report.txt"] == record.digest


def test_download_after_cache_loss(
    server: Server, workspace: str, api: httpx.Client
) -> None:
    data = b"model bytes" * 100
    digest = digest_bytes(data)
    assert api.put(f"/{digest}", content=data).status_code == 201
    cached = server.state.workspaces.objects(workspace).path(digest)
    drop_cached(cached)

    response = api.get(f"/{digest}")

    assert response.status_code == 200
    assert response.content == data
    assert cached.read_bytes() == data


def test_default_workspace_under_prefix(server: Server, bucket: Any) -> None:
    data = f"default {uuid.uuid4()}".encode()
    digest = digest_bytes(data)
    with server.api("default") as api:
        assert api.put(f"/{digest}", content=data).status_code == 201
    assert bucket.cat_file(f"{BUCKET}/team/{digest[:2]}/{digest[2:]}") == data
    cache = server.root / "server-cache" / "default"
    assert (cache / digest[:2] / digest[2:]).read_bytes() == data


def test_presigned_upload_stores_blob(
    workspace: str, api: httpx.Client, bucket: Any
) -> None:
    data = os.urandom(4096)
    digest = digest_bytes(data)
    upload = presign(api, data)
    assert upload["method"] == "PUT"
    assert upload["expires_in"] == 3600
    assert upload["stored"] is False
    assert "X-Amz-Signature=" in upload["url"]
    assert "content-length" in upload["url"]

    assert put_presigned(upload["url"], data).status_code == 200
    done = api.post(f"/uploads/presign/{upload['upload_id']}/complete")

    assert done.status_code == 201, done.text
    assert done.json() == {"digest": digest, "size": len(data)}
    assert bucket.cat_file(blob_key(workspace, digest)) == data
    assert not bucket.exists(staged_key(workspace, upload["upload_id"]))
    assert api.get(f"/{digest}").content == data


def test_presigned_wrong_content_is_400(
    workspace: str, api: httpx.Client, bucket: Any
) -> None:
    expected = b"a" * 64
    sent = b"b" * 64
    upload = presign(api, expected)
    assert put_presigned(upload["url"], sent).status_code == 200

    done = api.post(f"/uploads/presign/{upload['upload_id']}/complete")

    assert done.status_code == 400
    assert digest_bytes(expected) in message(done)
    assert digest_bytes(sent) in message(done)
    assert "nothing was stored" in message(done)
    assert not bucket.exists(staged_key(workspace, upload["upload_id"]))
    assert not bucket.exists(blob_key(workspace, digest_bytes(expected)))
    assert not bucket.exists(blob_key(workspace, digest_bytes(sent)))
    again = api.post(f"/uploads/presign/{upload['upload_id']}/complete")
    assert again.status_code == 404


def test_presigned_wrong_size_is_400(
    workspace: str, api: httpx.Client, bucket: Any
) -> None:
    upload = presign(api, b"c" * 10)
    # moto does not check the signed Content-Length; AWS would reject this PUT.
    bucket.pipe(staged_key(workspace, upload["upload_id"]), b"c" * 11)

    done = api.post(f"/uploads/presign/{upload['upload_id']}/complete")

    assert done.status_code == 400
    assert "has 11 bytes, not the 10 named" in message(done)
    assert not bucket.exists(staged_key(workspace, upload["upload_id"]))


def test_complete_before_put_is_409(api: httpx.Client) -> None:
    upload = presign(api, b"not sent yet")

    done = api.post(f"/uploads/presign/{upload['upload_id']}/complete")

    assert done.status_code == 409
    assert "PUT the file to that URL" in message(done)
    assert put_presigned(upload["url"], b"not sent yet").status_code == 200
    finished = api.post(f"/uploads/presign/{upload['upload_id']}/complete")
    assert finished.status_code == 201


def test_presign_of_stored_blob(api: httpx.Client) -> None:
    data = b"already there"
    assert api.put(f"/{digest_bytes(data)}", content=data).status_code == 201

    response = api.post(
        "/uploads/presign", json={"digest": digest_bytes(data), "size": len(data)}
    )

    assert response.status_code == 200
    assert response.json()["stored"] is True
    assert response.json()["upload_id"] is None


def test_presign_over_limit_is_413(api: httpx.Client) -> None:
    response = api.post(
        "/uploads/presign",
        json={"digest": digest_bytes(b"x"), "size": MAX_UPLOAD + 1},
    )
    assert response.status_code == 413
    assert f"limit of {MAX_UPLOAD} bytes" in message(response)


def test_unknown_presigned_upload_is_404(api: httpx.Client) -> None:
    response = api.post(f"/uploads/presign/{'0' * 32}/complete")
    assert response.status_code == 404
    assert "POST" in message(response)


def test_invalid_presigned_upload_id_is_400(api: httpx.Client) -> None:
    response = api.post("/uploads/presign/not-an-id/complete")
    assert response.status_code == 400
    assert "invalid upload id 'not-an-id'" in message(response)


def test_parts_upload_lands_in_bucket(
    workspace: str, api: httpx.Client, bucket: Any
) -> None:
    data = os.urandom(3000)
    digest = digest_bytes(data)
    opened = api.post("/uploads", json={"digest": digest, "size": len(data)})
    upload_id = opened.json()["upload_id"]
    api.put(f"/uploads/{upload_id}/parts/1", content=data[:2000])
    api.put(f"/uploads/{upload_id}/parts/2", content=data[2000:])

    done = api.post(f"/uploads/{upload_id}/complete")

    assert done.status_code == 201
    assert bucket.cat_file(blob_key(workspace, digest)) == data


def test_folder_workspace_presign_is_409(tmp_path: Path, bucket: Any) -> None:
    folder_server = serve(tmp_path, str(tmp_path / "objects"))
    try:
        with folder_server.api("default") as api:
            response = api.post(
                "/uploads/presign", json={"digest": digest_bytes(b"x"), "size": 1}
            )
            complete = api.post(f"/uploads/presign/{'0' * 32}/complete")
    finally:
        folder_server.running.stop()
    assert response.status_code == 409
    assert "s3:// artifact root" in message(response)
    assert complete.status_code == 409
