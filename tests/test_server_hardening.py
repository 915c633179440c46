"""Bad and hostile requests to the team server, and the fixes they led to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tether
from server_helpers import add_member
from tether import config
from tether.errors import ConfigError
from tether.server.app import create_app
from tether.server.settings import ServerSettings
from tether.server.workspaces import postgres_schema, workspace_store_url
from tether.testing.plugin import ServerHandle, _reset

OPS = "/api/v1/workspaces/default/ops"
JSON = {"content-type": "application/json"}
LONG_BASE = "postgresql://p@h/db?options=-csearch_path%3Dtrial_97c0b1bc_abcdefghijklmnopqrstuvwxyz"


def test_long_schema_names_stay_distinct() -> None:
    first = postgres_schema(LONG_BASE, "ppppppppppppppppppxx1")
    second = postgres_schema(LONG_BASE, "ppppppppppppppppppyy2")
    assert first != second
    assert len(first.encode()) <= 63
    assert len(second.encode()) <= 63


def test_short_schema_name_unchanged() -> None:
    assert (
        postgres_schema(
            LONG_BASE.replace("trial_97c0b1bc_abcdefghijklmnopqrstuvwxyz", "team"),
            "a-b",
        )
        == "team_ws_a_b"
    )


def test_other_options_kept() -> None:
    base = "postgresql://p@h/db?options=-c%20statement_timeout%3D5000%20-c%20search_path%3Dteam"
    url = workspace_store_url(base, "churn")
    assert "statement_timeout%3D5000" in url
    assert "search_path%3Dteam_ws_churn" in url
    assert url.count("search_path") == 1


@pytest.fixture
def local(tmp_path: Path) -> Iterator[TestClient]:
    settings = ServerSettings(
        store_url=f"sqlite:///{tmp_path / 'tether.db'}",
        artifacts_root=str(tmp_path / "objects"),
        auth=False,
        max_request_bytes=1000,
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


def test_lone_surrogate_is_400(local: TestClient) -> None:
    body = b'{"experiment": "s", "name": "a\\ud800b"}'
    response = local.post(f"{OPS}/create_run", content=body, headers=JSON)
    assert response.status_code == 400
    assert "Unicode" in response.json()["error"]["message"]


def test_nan_argument_is_422(local: TestClient) -> None:
    response = local.post(f"{OPS}/list_runs", content=b'{"limit": NaN}', headers=JSON)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "limit"]


def test_foreign_host_rejected_without_auth(local: TestClient) -> None:
    response = local.post(
        f"{OPS}/count_runs", json={}, headers={"host": "attacker.example:8765"}
    )
    assert response.status_code == 421
    assert "attacker.example" in response.json()["error"]["message"]


def test_loopback_host_accepted(local: TestClient) -> None:
    response = local.post(
        f"{OPS}/count_runs", json={}, headers={"host": "localhost:8765"}
    )
    assert response.status_code == 200
    assert response.json() == {"result": 0}


def test_large_operation_body_is_413(local: TestClient) -> None:
    params = {f"p{i}": "x" * 20 for i in range(100)}
    response = local.post(f"{OPS}/log_params", json={"run_id": "r", "params": params})
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["error"]["message"]


def test_no_docs_page(local: TestClient) -> None:
    assert local.get("/docs").status_code == 404
    assert local.get("/openapi.json").status_code == 200


def test_repeated_denials_audited_once(tether_server: ServerHandle) -> None:
    workspace = tether_server.new_workspace()
    viewer = add_member(tether_server, workspace, "viewer")
    path = f"/api/v1/workspaces/{workspace}/ops/create_run"
    with viewer.client(tether_server.url) as client:
        codes = [client.post(path, json={}).status_code for _ in range(5)]
    assert codes == [403] * 5
    trail = tether_server.state.control.audit_trail("requests/")
    mine = [event for event in trail if event.actor == viewer.name]
    assert len(mine) == 1
    assert mine[0].entity == f"requests{path}"


def test_viewer_reads_through_sdk(
    tether_server: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tether_server.new_workspace()
    viewer = add_member(tether_server, workspace, "viewer")
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(config.STORE_ENV, tether_server.url)
    monkeypatch.setenv(config.WORKSPACE_ENV, workspace)
    monkeypatch.setenv(config.TOKEN_ENV, viewer.token)
    _reset()
    found = tether.search_runs(output_format="list")
    _reset()
    assert found == []
    trail = tether_server.state.control.audit_trail("requests/")
    assert [e for e in trail if e.actor == viewer.name] == []


@pytest.mark.parametrize(
    "value", ["127.0.0.1:8765", "localhost:8765", "tether.example.com:80"]
)
def test_store_without_scheme_rejected(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.STORE_ENV, value)
    with pytest.raises(ConfigError, match=f"http://{value}"):
        config.resolve()


def test_pages_send_security_headers(local: TestClient) -> None:
    response = local.get("/ui/default/runs")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
