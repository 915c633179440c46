"""Blobs over HTTP: the server's object routes and the client's HttpObjectStore.

Every test talks to a real uvicorn server on a loopback port, with auth on,
over real files. Escaping paths go through ``http.client``, because httpx
removes ``..`` segments from a URL before sending it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.artifacts import ObjectStore, digest_bytes
from tether.artifacts.http_objects import HttpObjectStore
from tether.errors import AccessDeniedError, ConfigError, NotFoundError, StoreError
from tether.server.object_routes import UPLOAD_EXPIRY_SECONDS, UPLOADS_FOLDER
from tether.server.paths import confined_path, confined_url_path
from tether.server.settings import ServerSettings
from tether.server.setup import init_server
from tether.store import SqlStore
from tether.store.records import ArtifactRecord
from tether.testing.server import RunningServer, start_server

MAX_UPLOAD = 1024 * 1024
MAX_PART = 256 * 1024


@dataclass
class Server:
    """The module's server, its admin token and a way to restart it."""

    root: Path
    settings: ServerSettings
    admin_token: str
    running: RunningServer

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def port(self) -> int:
        return int(self.running.url.rsplit(":", 1)[1])

    @property
    def state(self) -> Any:
        return self.running.app.state.server

    def restart(self) -> None:
        self.running.stop()
        self.running = start_server(self.settings)

    def workspace(self) -> str:
        name = f"w-{uuid.uuid4().hex[:10]}"
        self.state.control.add_workspace(name, actor="tests")
        return name

    def token(self, workspace: str, role: str | None) -> str:
        user = f"u{uuid.uuid4().hex[:10]}"
        control: SqlStore = self.state.control
        control.add_user(user, actor="tests")
        if role is not None:
            control.grant(user, workspace, role, actor="tests")
        _, secret = control.create_token(user, actor="tests")
        return secret

    def objects(self, workspace: str) -> ObjectStore:
        found: ObjectStore = self.state.workspaces.objects(workspace)
        return found

    def store(self, workspace: str) -> SqlStore:
        found: SqlStore = self.state.workspaces.store(workspace)
        return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("object-server")
    settings = ServerSettings(
        store_url=f"sqlite:///{root / 'tether.db'}",
        artifacts_root=str(root / "objects"),
        auth=True,
        max_upload_bytes=MAX_UPLOAD,
        max_part_bytes=MAX_PART,
    )
    token = init_server(settings.store_url, "admin")
    found = Server(root, settings, token, start_server(settings))
    yield found
    found.running.stop()


@pytest.fixture
def workspace(server: Server) -> str:
    return server.workspace()


@pytest.fixture
def api(server: Server, workspace: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server.url}/api/v1/workspaces/{workspace}/objects",
        headers={"authorization": f"Bearer {server.admin_token}"},
        trust_env=False,
    ) as client:
        yield client


def message(response: httpx.Response | dict[str, Any]) -> str:
    body = response.json() if isinstance(response, httpx.Response) else response
    if "error" in body:
        return str(body["error"]["message"])
    return str(body["detail"])


def payload(size: int, seed: int = 1) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


# -- whole blobs --------------------------------------------------------------


def test_put_get_head_blob(server: Server, api: httpx.Client, workspace: str) -> None:
    data = payload(5000)
    digest = digest_bytes(data)

    created = api.put(f"/{digest}", content=data)
    again = api.put(f"/{digest}", content=data)
    head = api.head(f"/{digest}")
    got = api.get(f"/{digest}")

    assert created.status_code == 201
    assert created.json() == {"digest": digest, "size": 5000}
    assert again.status_code == 200
    assert head.status_code == 200
    assert head.headers["content-length"] == "5000"
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["etag"] == f'"{digest}"'
    assert server.objects(workspace).read_bytes(digest) == data
    assert list((server.objects(workspace).root / UPLOADS_FOLDER).iterdir()) == []


def test_missing_blob_is_404(api: httpx.Client) -> None:
    digest = digest_bytes(b"never stored")

    head = api.head(f"/{digest}")
    got = api.get(f"/{digest}")

    assert head.status_code == 404
    assert got.status_code == 404
    assert got.json()["error"]["fields"]["kind"] == "object"


def test_range_download(api: httpx.Client) -> None:
    data = payload(3000)
    digest = digest_bytes(data)
    api.put(f"/{digest}", content=data)

    middle = api.get(f"/{digest}", headers={"range": "bytes=100-199"})
    tail = api.get(f"/{digest}", headers={"range": "bytes=2500-"})
    beyond = api.get(f"/{digest}", headers={"range": "bytes=5000-"})

    assert middle.status_code == 206
    assert middle.content == data[100:200]
    assert middle.headers["content-range"] == "bytes 100-199/3000"
    assert tail.status_code == 206
    assert tail.content == data[2500:]
    assert beyond.status_code == 416


def test_digest_mismatch_stores_nothing(
    server: Server, api: httpx.Client, workspace: str
) -> None:
    data = payload(2000)
    named = digest_bytes(b"something else")

    response = api.put(f"/{named}", content=data)

    assert response.status_code == 400
    assert named in message(response)
    assert digest_bytes(data) in message(response)
    assert api.head(f"/{named}").status_code == 404
    assert api.head(f"/{digest_bytes(data)}").status_code == 404
    assert list((server.objects(workspace).root / UPLOADS_FOLDER).iterdir()) == []


@pytest.mark.parametrize(
    "digest",
    ["abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65],
)
def test_invalid_digest_is_400(api: httpx.Client, digest: str) -> None:
    response = api.put(f"/{digest}", content=b"x")

    assert response.status_code == 400
    assert "64 lowercase hex" in message(response)


def test_blob_over_limit_is_413(api: httpx.Client) -> None:
    data = payload(MAX_UPLOAD + 1)

    response = api.put(f"/{digest_bytes(data)}", content=data)

    assert response.status_code == 413
    assert str(MAX_UPLOAD) in message(response)


def test_streamed_blob_over_limit_is_413(api: httpx.Client) -> None:
    data = payload(MAX_UPLOAD + 10)

    def chunks() -> Iterator[bytes]:
        # A generator has no length, so the body is sent chunked, without a
        # Content-Length the server could check first.
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    response = api.put(f"/{digest_bytes(data)}", content=chunks())

    assert response.status_code == 413
    assert str(MAX_UPLOAD) in message(response)
    assert api.head(f"/{digest_bytes(data)}").status_code == 404


def test_missing_query(api: httpx.Client) -> None:
    stored = payload(10)
    api.put(f"/{digest_bytes(stored)}", content=stored)
    absent = digest_bytes(b"absent")

    response = api.post("/missing", json={"digests": [digest_bytes(stored), absent]})

    assert response.status_code == 200
    assert response.json() == {"missing": [absent]}


# -- uploads in parts ---------------------------------------------------------


def open_upload(api: httpx.Client, data: bytes) -> str:
    response = api.post(
        "/uploads", json={"digest": digest_bytes(data), "size": len(data)}
    )
    assert response.status_code == 201
    return str(response.json()["upload_id"])


def parts_of(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def test_parts_resume_after_restart(server: Server, workspace: str) -> None:
    data = payload(5 * 100_000 + 123, seed=3)
    parts = parts_of(data, 100_000)
    headers = {"authorization": f"Bearer {server.admin_token}"}
    base = f"/api/v1/workspaces/{workspace}/objects"

    with httpx.Client(base_url=server.url, headers=headers, trust_env=False) as api:
        opened = api.post(
            f"{base}/uploads", json={"digest": digest_bytes(data), "size": len(data)}
        )
        upload_id = opened.json()["upload_id"]
        for number in (1, 2):
            sent = api.put(
                f"{base}/uploads/{upload_id}/parts/{number}", content=parts[number - 1]
            )
            assert sent.status_code == 200
    server.restart()

    with httpx.Client(base_url=server.url, headers=headers, trust_env=False) as api:
        state = api.get(f"{base}/uploads/{upload_id}").json()
        for number in range(3, len(parts) + 1):
            api.put(
                f"{base}/uploads/{upload_id}/parts/{number}", content=parts[number - 1]
            )
        completed = api.post(f"{base}/uploads/{upload_id}/complete")
        downloaded = api.get(f"{base}/{digest_bytes(data)}")
        after = api.get(f"{base}/uploads/{upload_id}")

    assert opened.status_code == 201
    assert opened.json()["max_part_bytes"] == MAX_PART
    assert state["parts"] == [
        {"number": 1, "size": 100_000},
        {"number": 2, "size": 100_000},
    ]
    assert state["received_bytes"] == 200_000
    assert completed.status_code == 201
    assert completed.json() == {"digest": digest_bytes(data), "size": len(data)}
    assert downloaded.content == data
    assert after.status_code == 404


def test_complete_with_missing_part_is_409(api: httpx.Client) -> None:
    data = payload(300_000)
    parts = parts_of(data, 100_000)
    upload_id = open_upload(api, data)
    api.put(f"/uploads/{upload_id}/parts/1", content=parts[0])
    api.put(f"/uploads/{upload_id}/parts/3", content=parts[2])

    response = api.post(f"/uploads/{upload_id}/complete")
    still_open = api.get(f"/uploads/{upload_id}")

    assert response.status_code == 409
    assert "parts 2 are missing" in message(response)
    assert still_open.status_code == 200


def test_complete_with_wrong_content_is_400(api: httpx.Client) -> None:
    data = payload(200_000)
    upload_id = open_upload(api, data)
    api.put(f"/uploads/{upload_id}/parts/1", content=data[:100_000])
    api.put(f"/uploads/{upload_id}/parts/2", content=payload(100_000, seed=9))

    response = api.post(f"/uploads/{upload_id}/complete")

    assert response.status_code == 400
    assert digest_bytes(data) in message(response)
    assert api.get(f"/uploads/{upload_id}").status_code == 404
    assert api.head(f"/{digest_bytes(data)}").status_code == 404


def test_part_over_limit_is_413(api: httpx.Client) -> None:
    data = payload(MAX_UPLOAD)
    upload_id = open_upload(api, data)

    response = api.put(f"/uploads/{upload_id}/parts/1", content=data[: MAX_PART + 1])

    assert response.status_code == 413
    assert str(MAX_PART) in message(response)
    assert api.get(f"/uploads/{upload_id}").json()["parts"] == []


def test_upload_over_limit_is_413(api: httpx.Client) -> None:
    response = api.post(
        "/uploads", json={"digest": digest_bytes(b"big"), "size": MAX_UPLOAD + 1}
    )

    assert response.status_code == 413
    assert str(MAX_UPLOAD) in message(response)


def test_parts_beyond_size_are_413(api: httpx.Client) -> None:
    data = payload(150_000)
    upload_id = open_upload(api, data)
    api.put(f"/uploads/{upload_id}/parts/1", content=data[:100_000])

    response = api.put(f"/uploads/{upload_id}/parts/2", content=payload(60_000))

    assert response.status_code == 413
    assert "50000" in message(response)


@pytest.mark.parametrize("number", [0, 10_001])
def test_part_number_out_of_range(api: httpx.Client, number: int) -> None:
    upload_id = open_upload(api, payload(10))

    response = api.put(f"/uploads/{upload_id}/parts/{number}", content=b"x")

    assert response.status_code == 400
    assert "from 1 to 10000" in message(response)


def test_upload_of_stored_blob(api: httpx.Client) -> None:
    data = payload(100)
    api.put(f"/{digest_bytes(data)}", content=data)

    response = api.post("/uploads", json={"digest": digest_bytes(data), "size": 100})

    assert response.status_code == 200
    assert response.json()["stored"] is True
    assert response.json()["upload_id"] is None


def test_delete_upload(api: httpx.Client) -> None:
    upload_id = open_upload(api, payload(10))

    deleted = api.delete(f"/uploads/{upload_id}")
    after = api.get(f"/uploads/{upload_id}")

    assert deleted.status_code == 204
    assert after.status_code == 404
    assert "open a new one" in message(after)


@pytest.mark.parametrize("upload_id", ["x" * 32, "0" * 33, "0" * 31])
def test_invalid_upload_id_is_400(api: httpx.Client, upload_id: str) -> None:
    response = api.get(f"/uploads/{upload_id}")

    assert response.status_code == 400
    assert "32 hex" in message(response)


def test_expired_uploads_removed(
    server: Server, api: httpx.Client, workspace: str
) -> None:
    old = open_upload(api, payload(10, seed=1))
    folder = server.objects(workspace).root / UPLOADS_FOLDER / old
    past = folder.stat().st_mtime - UPLOAD_EXPIRY_SECONDS - 60
    os.utime(folder, (past, past))

    fresh = open_upload(api, payload(10, seed=2))

    assert not folder.exists()
    assert api.get(f"/uploads/{old}").status_code == 404
    assert api.get(f"/uploads/{fresh}").status_code == 200


def test_presign_needs_object_storage(api: httpx.Client) -> None:
    response = api.post(
        "/uploads/presign", json={"digest": digest_bytes(b"x"), "size": 1}
    )

    assert response.status_code == 409
    assert "object storage" in message(response)
    assert "s3://" in message(response)


# -- access -------------------------------------------------------------------


def test_unknown_workspace_is_404(server: Server) -> None:
    digest = digest_bytes(b"x")
    headers = {"authorization": f"Bearer {server.admin_token}"}
    url = f"{server.url}/api/v1/workspaces/nowhere/objects/{digest}"

    response = httpx.get(url, headers=headers, trust_env=False)

    assert response.status_code == 404
    assert "nowhere" in message(response)


def test_workspace_without_role_is_404(server: Server, workspace: str) -> None:
    data = b"private"
    server.objects(workspace).put_bytes(data)
    token = server.token(server.workspace(), "editor")
    url = f"{server.url}/api/v1/workspaces/{workspace}/objects/{digest_bytes(data)}"

    response = httpx.get(
        url, headers={"authorization": f"Bearer {token}"}, trust_env=False
    )

    assert response.status_code == 404
    assert workspace in message(response)


def test_viewer_reads_but_cannot_upload(server: Server, workspace: str) -> None:
    stored = b"readable"
    server.objects(workspace).put_bytes(stored)
    data = b"not allowed"
    token = server.token(workspace, "viewer")
    base = f"{server.url}/api/v1/workspaces/{workspace}/objects"
    headers = {"authorization": f"Bearer {token}"}

    with httpx.Client(base_url=base, headers=headers, trust_env=False) as api:
        read = api.get(f"/{digest_bytes(stored)}")
        put = api.put(f"/{digest_bytes(data)}", content=data)
        opened = api.post("/uploads", json={"digest": digest_bytes(data), "size": 11})

    assert read.status_code == 200
    assert read.content == stored
    assert put.status_code == 403
    assert "editor" in message(put)
    assert opened.status_code == 403
    assert not server.objects(workspace).exists(digest_bytes(data))


def test_no_token_is_401(server: Server, workspace: str) -> None:
    url = f"{server.url}/api/v1/workspaces/{workspace}/objects/{digest_bytes(b'x')}"

    response = httpx.get(url, trust_env=False)

    assert response.status_code == 401


# -- files of a run -----------------------------------------------------------


@pytest.fixture
def run_id(server: Server, workspace: str, tmp_path: Path) -> str:
    """Log a folder ``model`` and a file ``reports/report.html`` under a new run."""
    store = server.store(workspace)
    objects = server.objects(workspace)
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"weights")
    (folder / "sub" / "notes.txt").write_text("notes")

    folder_blob = objects.put_dir(folder)
    report = objects.put_bytes(b"<h1>report</h1>", "text/html")
    created = store.create_run(experiment="files", name="r")

    common = {"run_id": created, "role": "artifact"}
    store.log_artifact(
        ArtifactRecord(
            path="model",
            digest=folder_blob.digest,
            size=folder_blob.size,
            media_type=folder_blob.media_type,
            is_dir=True,
            **common,
        )
    )
    store.log_artifact(
        ArtifactRecord(
            path="reports/report.html",
            digest=report.digest,
            size=report.size,
            media_type="text/html",
            is_dir=False,
            **common,
        )
    )
    return created


def raw_get(server: Server, path: str, token: str) -> tuple[int, dict[str, Any], bytes]:
    """Send ``path`` exactly as written, which httpx would normalise."""
    connection = HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers={"authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_run_file_of_a_file_artifact(
    server: Server, workspace: str, run_id: str
) -> None:
    path = f"/api/v1/workspaces/{workspace}/objects/runs/{run_id}/files/reports/report.html"

    status, headers, body = raw_get(server, path, server.admin_token)

    assert status == 200
    assert body == b"<h1>report</h1>"
    assert headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"] == "sandbox"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("relative", "content"),
    [
        ("model/weights.bin", b"weights"),
        ("model/sub/notes.txt", b"notes"),
        ("model//sub/./notes.txt", b"notes"),
    ],
)
def test_run_file_inside_a_folder(
    server: Server, workspace: str, run_id: str, relative: str, content: bytes
) -> None:
    path = f"/api/v1/workspaces/{workspace}/objects/runs/{run_id}/files/{relative}"

    status, _headers, body = raw_get(server, path, server.admin_token)

    assert status == 200
    assert body == content


@pytest.mark.parametrize(
    ("relative", "status", "text"),
    [
        ("model", 400, "is a folder"),
        ("model/absent.txt", 404, "no file"),
        ("reports/other.html", 404, "no file"),
    ],
)
def test_run_file_not_served(
    server: Server, workspace: str, run_id: str, relative: str, status: int, text: str
) -> None:
    path = f"/api/v1/workspaces/{workspace}/objects/runs/{run_id}/files/{relative}"

    got, _headers, body = raw_get(server, path, server.admin_token)

    assert got == status
    assert text in json.loads(body)["error"]["message"]


def test_run_file_of_unknown_run(server: Server, workspace: str) -> None:
    path = f"/api/v1/workspaces/{workspace}/objects/runs/nope/files/a.txt"

    status, _headers, body = raw_get(server, path, server.admin_token)

    assert status == 404
    assert json.loads(body)["error"]["fields"]["kind"] == "run"


ESCAPES = [
    "../x",
    "model/../../x",
    "model/..",
    "..%2fx",
    "%2e%2e/x",
    "%2E%2E/x",
    ".%2e/x",
    "model%2f..%2f..%2fx",
    "model%2Fweights.bin",
    "%252e%252e/x",
    "%252fetc%252fpasswd",
    "%25252e%25252e/x",
    "..%5cx",
    "model\\..\\x",
    "%5c%5cserver%5cshare",
    "model/weights.bin%00.txt",
    "%00",
    "/etc/passwd",
    "//etc/passwd",
    "C:/Windows/win.ini",
    "c:%5cx",
    "%c0%ae%c0%ae/x",
    "%e0%80%ae/x",
    "model/%0a",
    "%",
    "model/%zz",
]


@pytest.mark.parametrize("relative", ESCAPES)
def test_path_escape_is_400(
    server: Server, workspace: str, run_id: str, relative: str
) -> None:
    path = f"/api/v1/workspaces/{workspace}/objects/runs/{run_id}/files/{relative}"

    status, _headers, body = raw_get(server, path, server.admin_token)

    assert status == 400
    assert json.loads(body)["error"]["type"] == "ConfigError"
    assert "invalid file path" in json.loads(body)["error"]["message"]


def test_blob_link_out_of_tree_is_400(
    server: Server, workspace: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("server file")
    digest = digest_bytes(b"link target")
    link = server.objects(workspace).path(digest)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    path = f"/api/v1/workspaces/{workspace}/objects/{digest}"

    status, _headers, body = raw_get(server, path, server.admin_token)

    assert status == 400
    assert b"server file" not in body
    assert "leaves the object folder" in json.loads(body)["error"]["message"]


# -- path rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.txt", "a.txt"),
        ("a//b/./c/", "a/b/c"),
        ("./a", "a"),
        ("...", "..."),
        ("a..b/c", "a..b/c"),
        ("naïve résumé.txt", "naïve résumé.txt"),
    ],
)
def test_confined_path_normalises(text: str, expected: str) -> None:
    assert confined_path(text) == expected


@pytest.mark.parametrize(
    "text", ["", ".", "./", "..", "a/../b", "/a", "a\\b", "a\x00", "%2e"]
)
def test_confined_path_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid file path"):
        confined_path(text)


def test_confined_url_path_decodes_safe_escapes() -> None:
    assert confined_url_path("my%20file.txt") == "my file.txt"
    assert confined_url_path("caf%C3%A9/x") == "café/x"


@given(st.text(max_size=40))
def test_confined_path_stays_inside(text: str) -> None:
    try:
        found = confined_path(text)
    except ConfigError:
        return
    assert found
    assert not found.startswith("/")
    assert ".." not in found.split("/")
    assert "\\" not in found
    assert "\x00" not in found
    assert confined_path(found) == found


# -- the client ---------------------------------------------------------------


class Recorder(httpx.BaseTransport):
    """A real HTTP transport that records requests and can fail some of them."""

    def __init__(self, fail: Any = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[httpx.Request] = []
        self.fail = fail

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.fail is not None:
            replaced = self.fail(request)
            if replaced is not None:
                return replaced
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def paths(self, method: str) -> list[str]:
        return [r.url.path for r in self.sent if r.method == method]


def client(
    server: Server,
    workspace: str,
    cache: Path,
    token: str | None = None,
    **options: Any,
) -> HttpObjectStore:
    options.setdefault("backoff_seconds", 0.01)
    return HttpObjectStore(
        server.url, workspace, token or server.admin_token, cache, **options
    )


def test_client_round_trip(server: Server, workspace: str, tmp_path: Path) -> None:
    data = payload(4000)

    with client(server, workspace, tmp_path / "a") as writer:
        blob = writer.put_bytes(data)
    with client(server, workspace, tmp_path / "b") as reader:
        exists = reader.exists(blob.digest)
        absent = reader.exists(digest_bytes(b"absent"))
        read = reader.read_bytes(blob.digest)
        cached = reader.path(blob.digest)

    assert server.objects(workspace).read_bytes(blob.digest) == data
    assert exists is True
    assert absent is False
    assert read == data
    assert cached.is_relative_to(tmp_path / "b")
    assert cached.read_bytes() == data


def test_client_folder_round_trip(
    server: Server, workspace: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    (source / "deep" / "er").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "deep" / "b.bin").write_bytes(payload(70_000))
    (source / "deep" / "er" / "c.txt").write_text("c")

    with client(server, workspace, tmp_path / "a") as writer:
        blob = writer.put_dir(source)
    with client(server, workspace, tmp_path / "b") as reader:
        target = reader.get_dir(blob.digest, tmp_path / "target")

    assert (target / "a.txt").read_text() == "a"
    assert (target / "deep" / "b.bin").read_bytes() == payload(70_000)
    assert (target / "deep" / "er" / "c.txt").read_text() == "c"
    assert server.objects(workspace).exists(blob.digest)


def test_client_sends_only_missing(
    server: Server, workspace: str, tmp_path: Path
) -> None:
    data = payload(100)
    server.objects(workspace).put_bytes(data)
    recorder = Recorder()

    with client(server, workspace, tmp_path / "c", transport=recorder) as writer:
        writer.put_bytes(data)

    assert recorder.paths("PUT") == []
    assert len(recorder.paths("POST")) == 1


def test_client_resumes_failed_parts(
    server: Server, workspace: str, tmp_path: Path
) -> None:
    data = payload(5 * 60_000 + 7, seed=5)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    options: dict[str, Any] = {
        "part_threshold": 100_000,
        "part_bytes": 60_000,
        "attempts": 2,
    }

    def fail_part_3(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and request.url.path.endswith("/parts/3"):
            raise httpx.ConnectError("simulated failure", request=request)
        return None

    cache = tmp_path / "cache"
    failing = Recorder(fail_part_3)
    with (
        client(server, workspace, cache, transport=failing, **options) as first,
        pytest.raises(StoreError, match="after 2 attempts"),
    ):
        first.put_file(source)
    recorder = Recorder()
    with client(server, workspace, cache, transport=recorder, **options) as second:
        blob = second.put_file(source)

    sent_parts = [p.rsplit("/", 1)[1] for p in recorder.paths("PUT")]
    assert [p.rsplit("/", 1)[1] for p in failing.paths("PUT")] == ["1", "2", "3", "3"]
    assert sent_parts == ["3", "4", "5", "6"]
    assert blob.digest == digest_bytes(data)
    assert server.objects(workspace).read_bytes(blob.digest) == data


def test_client_retries_unavailable(
    server: Server, workspace: str, tmp_path: Path
) -> None:
    failures: list[httpx.Request] = []

    def unavailable_once(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and not failures:
            failures.append(request)
            return httpx.Response(503, request=request)
        return None

    recorder = Recorder(unavailable_once)
    with client(server, workspace, tmp_path / "c", transport=recorder) as writer:
        blob = writer.put_bytes(b"after a 503")

    assert len(recorder.paths("PUT")) == 2
    assert server.objects(workspace).read_bytes(blob.digest) == b"after a 503"


class CutStream(httpx.SyncByteStream):
    """A response body that breaks after ``limit`` bytes, as a dropped connection does."""

    def __init__(self, inner: httpx.SyncByteStream, limit: int) -> None:
        self.inner = inner
        self.limit = limit

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self.inner:
            if sent + len(chunk) > self.limit:
                yield chunk[: self.limit - sent]
                raise httpx.ReadError("simulated dropped connection")
            sent += len(chunk)
            yield chunk

    def close(self) -> None:
        self.inner.close()


def test_client_resumes_download_with_range(
    server: Server, workspace: str, tmp_path: Path
) -> None:
    data = payload(300_000, seed=7)
    digest = server.objects(workspace).put_bytes(data).digest
    inner = httpx.HTTPTransport()
    seen: list[str | None] = []

    class Cutting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.headers.get("range"))
            response = inner.handle_request(request)
            if request.method == "GET" and len(seen) == 1:
                assert isinstance(response.stream, httpx.SyncByteStream)
                return httpx.Response(
                    response.status_code,
                    headers=response.headers,
                    stream=CutStream(response.stream, 100_000),
                    request=request,
                )
            return response

    with client(server, workspace, tmp_path / "c", transport=Cutting()) as reader:
        read = reader.read_bytes(digest)
    inner.close()

    assert read == data
    assert seen == [None, "bytes=100000-"]


def test_client_viewer_cannot_write(
    server: Server, workspace: str, tmp_path: Path
) -> None:
    token = server.token(workspace, "viewer")

    with (
        client(server, workspace, tmp_path / "c", token=token) as writer,
        pytest.raises(AccessDeniedError, match="editor"),
    ):
        writer.put_bytes(b"denied")


def test_client_unknown_workspace(server: Server, tmp_path: Path) -> None:
    with (
        client(server, "nowhere", tmp_path / "c") as reader,
        pytest.raises(NotFoundError, match="nowhere") as raised,
    ):
        reader.read_bytes(digest_bytes(b"x"))

    assert "TETHER_WORKSPACE" in str(raised.value)


def test_disconnect_leaves_no_file(server: Server, workspace: str) -> None:
    folder = server.objects(workspace).root / UPLOADS_FOLDER
    digest = digest_bytes(b"never finished")
    connection = HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("PUT", f"/api/v1/workspaces/{workspace}/objects/{digest}")
    connection.putheader("authorization", f"Bearer {server.admin_token}")
    connection.putheader("content-length", "100000")
    connection.endheaders()
    connection.send(b"x" * 1000)

    started = wait_for(lambda: any(folder.glob("incoming-*")))
    connection.close()
    cleaned = wait_for(lambda: not any(folder.glob("incoming-*")))

    assert started
    assert cleaned
    assert not server.objects(workspace).exists(digest)


def wait_for(condition: Any) -> bool:
    """Poll ``condition`` until it is true or 20 seconds pass; return whether it became true."""
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
