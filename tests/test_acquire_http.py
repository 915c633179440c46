"""HTTP acquisition against a real server on 127.0.0.1: validators, 304, errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import pytest

from tether.artifacts import get_objects
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.data.acquisition import acquire
from tether.errors import ConfigError, DataError
from tether.store import get_store

PENGUINS = Path(
    str(
        metadata.distribution("palmerpenguins").locate_file(
            "palmerpenguins/data/penguins.csv"
        )
    )
).read_bytes()


@dataclass
class Resource:
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = "application/octet-stream"


@dataclass
class Seen:
    path: str
    status: int
    headers: dict[str, str]


@dataclass
class Site:
    """Resources served by path, and every request the server handled."""

    port: int
    resources: dict[str, Resource] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def statuses(self) -> list[int]:
        return [request.status for request in self.seen]


def make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = dict(self.headers.items())
            resource = site.resources.get(self.path)
            if self.path == "/truncated.csv":
                self._answer(200, headers)
                self.send_header("Content-Length", str(len(PENGUINS)))
                self.end_headers()
                self.wfile.write(PENGUINS[:1000])
                self.close_connection = True
                return
            if resource is None:
                self._answer(404, headers)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self._not_modified(resource):
                self._answer(304, headers)
                self.end_headers()
                return
            self._answer(200, headers)
            if resource.etag:
                self.send_header("ETag", resource.etag)
            if resource.last_modified:
                self.send_header("Last-Modified", resource.last_modified)
            self.send_header("Content-Type", resource.content_type)
            self.send_header("Content-Length", str(len(resource.body)))
            self.end_headers()
            self.wfile.write(resource.body)

        def _not_modified(self, resource: Resource) -> bool:
            match = self.headers.get("If-None-Match")
            if match is not None:
                return resource.etag is not None and match == resource.etag
            since = self.headers.get("If-Modified-Since")
            return since is not None and since == resource.last_modified

        def _answer(self, status: int, headers: dict[str, str]) -> None:
            site.seen.append(Seen(self.path, status, headers))
            self.send_response(status)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    served = Site(port=server.server_address[1])
    server.RequestHandlerClass = make_handler(served)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()
    thread.join()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def count_blobs(home: Path) -> int:
    return sum(1 for path in (home / "objects").rglob("*") if path.is_file())


def penguins_resource(etag: str = '"v1"') -> Resource:
    return Resource(
        PENGUINS,
        etag=etag,
        last_modified=formatdate(1_700_000_000, usegmt=True),
        content_type="text/csv; charset=utf-8",
    )


def test_csv_records_validators(tether_home: Path, site: Site) -> None:
    site.resources["/penguins.csv"] = penguins_resource()
    acquired = acquire("penguins", site.url("/penguins.csv"))
    version = acquired.version
    assert acquired.new is True
    assert version.rows == 344
    assert version.media_type == "text/csv"
    assert version.source["type"] == "http"
    assert version.source["url"] == site.url("/penguins.csv")
    assert version.source["etag"] == '"v1"'
    assert version.source["last_modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert version.source["content_type"] == "text/csv; charset=utf-8"
    assert version.source["files"][0]["size"] == len(PENGUINS)
    assert "If-None-Match" not in site.seen[0].headers


def test_reacquire_gets_304(tether_home: Path, site: Site) -> None:
    site.resources["/penguins.csv"] = penguins_resource()
    first = acquire("penguins", site.url("/penguins.csv"))
    blobs = count_blobs(tether_home)
    second = acquire("penguins", site.url("/penguins.csv"))
    assert second.new is False
    assert second.version.id == first.version.id
    assert site.statuses() == [200, 304]
    conditional = site.seen[1].headers
    assert conditional["If-None-Match"] == '"v1"'
    assert conditional["If-Modified-Since"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert count_blobs(tether_home) == blobs


def test_changed_remote_new_version(tether_home: Path, site: Site) -> None:
    site.resources["/penguins.csv"] = penguins_resource()
    first = acquire("penguins", site.url("/penguins.csv")).version
    shorter = b"\n".join(PENGUINS.splitlines()[:101]) + b"\n"
    site.resources["/penguins.csv"] = Resource(
        shorter, etag='"v2"', content_type="text/csv"
    )
    second = acquire("penguins", site.url("/penguins.csv"))
    assert site.statuses() == [200, 200]
    assert second.new is True
    assert second.version.version == 2
    assert second.version.rows == 100
    assert second.version.source["etag"] == '"v2"'
    assert second.version.digest != first.digest


def test_same_body_without_validators(tether_home: Path, site: Site) -> None:
    site.resources["/penguins.csv"] = Resource(PENGUINS, content_type="text/csv")
    first = acquire("penguins", site.url("/penguins.csv"))
    blobs = count_blobs(tether_home)
    second = acquire("penguins", site.url("/penguins.csv"))
    assert site.statuses() == [200, 200]
    assert "If-None-Match" not in site.seen[1].headers
    assert second.new is False
    assert second.version.digest == first.version.digest
    assert count_blobs(tether_home) == blobs


def test_format_from_content_type(tether_home: Path, site: Site) -> None:
    site.resources["/export"] = Resource(PENGUINS, content_type="text/csv")
    version = acquire("penguins", site.url("/export")).version
    assert version.rows == 344
    assert version.source["format"] == "csv"


def test_binary_url_is_file_set(tether_home: Path, site: Site) -> None:
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    site.resources[quote("/fotos/pingüino 1.png")] = Resource(
        image, content_type="image/png"
    )
    version = acquire("photo", site.url(quote("/fotos/pingüino 1.png"))).version
    assert version.media_type == MANIFEST_MEDIA_TYPE
    [entry] = get_objects().manifest(version.object_digest)
    assert entry["path"] == "pingüino 1.png"
    assert entry["size"] == len(image)
    assert get_objects().read_bytes(entry["digest"]) == image


def test_password_not_recorded(tether_home: Path, site: Site) -> None:
    site.resources["/penguins.csv"] = penguins_resource()
    url = f"http://reader:s3cret@127.0.0.1:{site.port}/penguins.csv"
    version = acquire("penguins", url).version
    assert (
        version.source["url"] == f"http://reader:***@127.0.0.1:{site.port}/penguins.csv"
    )
    assert "s3cret" not in repr(version.source)
    assert site.seen[0].headers["Authorization"].startswith("Basic ")


def test_headers_sent_not_recorded(tether_home: Path, site: Site) -> None:
    site.resources["/penguins.csv"] = penguins_resource()
    url = site.url("/penguins.csv")
    version = acquire(
        "penguins", url, headers={"Authorization": "Bearer t0ken"}
    ).version
    assert site.seen[0].headers["Authorization"] == "Bearer t0ken"
    assert "t0ken" not in repr(version.source)


def test_unreachable_url(tether_home: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/penguins.csv"
    with pytest.raises(DataError) as caught:
        acquire("penguins", url)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to {url}: ")
    assert message.endswith(
        "; check that the server is running and the URL is correct, then acquire again"
    )
    assert get_store().latest_dataset_version("penguins") is None


def test_not_found(tether_home: Path, site: Site) -> None:
    url = site.url("/missing.csv")
    with pytest.raises(DataError) as caught:
        acquire("missing", url)
    assert (
        str(caught.value) == f"GET {url} failed with HTTP 404 Not Found; check the URL"
    )


def test_truncated_body(tether_home: Path, site: Site) -> None:
    url = site.url("/truncated.csv")
    with pytest.raises(DataError) as caught:
        acquire("penguins", url)
    assert str(caught.value).startswith(f"download of {url} failed: ")
    assert get_store().latest_dataset_version("penguins") is None
    assert list((tether_home / "cache" / "downloads").iterdir()) == []


def test_empty_body(tether_home: Path, site: Site) -> None:
    site.resources["/empty.csv"] = Resource(b"", content_type="text/csv")
    url = site.url("/empty.csv")
    with pytest.raises(DataError, match=r"is empty \(0 bytes\)") as caught:
        acquire("empty", url)
    assert url in str(caught.value)


def test_invalid_url(tether_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        acquire("bad", "http://127.0.0.1:99999/x.csv")
    assert str(caught.value).startswith("invalid URL http://127.0.0.1:99999/x.csv: ")
    assert "out of range" in str(caught.value)
    with pytest.raises(ConfigError, match="it has no host"):
        acquire("bad", "http:///x.csv")


def test_other_url_not_conditional(tether_home: Path, site: Site) -> None:
    site.resources["/a.csv"] = penguins_resource()
    site.resources["/b.csv"] = penguins_resource()
    acquire("penguins", site.url("/a.csv"))
    second = acquire("penguins", site.url("/b.csv"))
    assert "If-None-Match" not in site.seen[1].headers
    assert site.statuses() == [200, 200]
    assert second.new is False
