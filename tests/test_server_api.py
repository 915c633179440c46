"""The store's operations over HTTP: every route, auth on each, and the client."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from server_helpers import Member, add_member
from tether.errors import AccessDeniedError, ConfigError, NotFoundError, StoreError
from tether.store.http import HttpStore
from tether.store.operations import operations
from tether.testing.plugin import ServerHandle

OPS = "/api/v1/workspaces/{workspace}/ops/{name}"
READS = sorted(name for name, op in operations().items() if op.reads)
WRITES = sorted(name for name, op in operations().items() if not op.reads)


@pytest.fixture
def workspace(tether_server: ServerHandle) -> str:
    return tether_server.new_workspace()


@pytest.fixture
def viewer(tether_server: ServerHandle, workspace: str) -> Member:
    return add_member(tether_server, workspace, "viewer")


@pytest.fixture
def editor(tether_server: ServerHandle, workspace: str) -> Member:
    return add_member(tether_server, workspace, "editor")


@pytest.fixture
def outsider(tether_server: ServerHandle) -> Member:
    return add_member(tether_server, tether_server.new_workspace(), "admin")


@pytest.fixture
def store_of() -> Iterator[Callable[[ServerHandle, Member], HttpStore]]:
    """Open HTTP stores as members, and close them after the test."""
    opened: list[HttpStore] = []

    def open_as(server: ServerHandle, member: Member) -> HttpStore:
        store = HttpStore(server.url, workspace=member.workspace, token=member.token)
        opened.append(store)
        return store

    yield open_as
    for store in opened:
        store.close()


Opener = Callable[[ServerHandle, Member], HttpStore]


def test_openapi_has_every_operation(tether_server: ServerHandle) -> None:
    document = httpx.get(f"{tether_server.url}/openapi.json").json()
    ids = {
        entry["operationId"]
        for path in document["paths"].values()
        for entry in path.values()
    }
    assert set(operations()) <= ids
    get_run = document["paths"][OPS.format(workspace="{workspace}", name="get_run")]
    body = get_run["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("get_run_arguments")


def test_no_operation_manages_accounts() -> None:
    assert not {"create_token", "grant", "add_user", "authenticate"} & set(operations())


@pytest.mark.parametrize("name", sorted(operations()))
def test_outsider_sees_no_workspace(
    tether_server: ServerHandle, workspace: str, outsider: Member, name: str
) -> None:
    with outsider.client(tether_server.url) as client:
        response = client.post(OPS.format(workspace=workspace, name=name), json={})
    assert response.status_code == 404
    assert workspace in response.json()["detail"]


@pytest.mark.parametrize("name", sorted(operations()))
def test_no_token_is_refused(
    tether_server: ServerHandle, workspace: str, name: str
) -> None:
    response = httpx.post(
        tether_server.url + OPS.format(workspace=workspace, name=name), json={}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("name", WRITES)
def test_viewer_cannot_change(
    tether_server: ServerHandle, viewer: Member, name: str
) -> None:
    with viewer.client(tether_server.url) as client:
        response = client.post(
            OPS.format(workspace=viewer.workspace, name=name), json={}
        )
    assert response.status_code == 403
    assert "editor" in response.json()["detail"] or "admin" in response.json()["detail"]


@pytest.mark.parametrize("name", READS)
def test_viewer_may_read(
    tether_server: ServerHandle, viewer: Member, name: str
) -> None:
    with viewer.client(tether_server.url) as client:
        response = client.post(
            OPS.format(workspace=viewer.workspace, name=name), json={}
        )
    # Past the role check: a result, or a 422 for missing arguments.
    assert response.status_code in (200, 422), response.text


def test_editor_round_trip(
    tether_server: ServerHandle, editor: Member, store_of: Opener
) -> None:
    store = store_of(tether_server, editor)
    run_id = store.create_run(experiment="e", name="first")
    store.log_params(run_id, {"depth": 6})
    store.end_run(run_id, "FINISHED")
    found, token = store.search_runs(filter="params.depth = '6'")
    assert [r.id for r in found] == [run_id]
    assert token is None
    assert store.get_run(run_id).status == "FINISHED"


def test_actor_is_the_token_user(
    tether_server: ServerHandle, editor: Member, store_of: Opener
) -> None:
    store = store_of(tether_server, editor)
    store.record_audit_event("mallory", "note", "notes/1", {})
    (event,) = store.audit_trail("notes/")
    assert event.actor == editor.name


def test_workspaces_hold_separate_runs(
    tether_server: ServerHandle, editor: Member, outsider: Member, store_of: Opener
) -> None:
    mine = store_of(tether_server, editor)
    theirs = store_of(tether_server, outsider)
    run_id = mine.create_run(experiment="e", name="only-mine")
    assert theirs.count_runs() == 0
    with pytest.raises(NotFoundError):
        theirs.get_run(run_id)


def test_denial_is_audited(
    tether_server: ServerHandle, viewer: Member, store_of: Opener
) -> None:
    with pytest.raises(AccessDeniedError, match="editor"):
        store_of(tether_server, viewer).create_run(experiment="e", name="x")
    trail = tether_server.state.control.audit_trail("requests/")
    mine = [e for e in trail if e.actor == viewer.name]
    assert mine[-1].action == "denied"
    assert mine[-1].details["workspace"] == viewer.workspace
    assert mine[-1].details["reason"] == "role viewer is below editor"


def test_bad_token_names_the_setting(tether_server: ServerHandle) -> None:
    store = HttpStore(tether_server.url, token="tth_wrong")
    with pytest.raises(ConfigError, match="TETHER_TOKEN"):
        store.count_runs()
    store.close()


def test_errors_keep_their_type(
    tether_server: ServerHandle, editor: Member, store_of: Opener
) -> None:
    with pytest.raises(NotFoundError) as caught:
        store_of(tether_server, editor).get_run("missing")
    assert (caught.value.kind, caught.value.name) == ("run", "missing")


def test_same_idempotency_key_runs_once(
    tether_server: ServerHandle, editor: Member, store_of: Opener
) -> None:
    path = OPS.format(workspace=editor.workspace, name="create_run")
    with editor.client(tether_server.url) as client:
        answers = [
            client.post(
                path,
                json={"experiment": "e", "name": "once"},
                headers={"idempotency-key": "k-1"},
            ).json()
            for _ in range(2)
        ]
    assert answers[0] == answers[1]
    assert store_of(tether_server, editor).count_runs() == 1


def test_nan_metrics_cross_the_wire(
    tether_server: ServerHandle, editor: Member, store_of: Opener
) -> None:
    from tether.store.records import MetricPoint

    store = store_of(tether_server, editor)
    run_id = store.create_run(experiment="e", name="nan")
    store.log_metrics(
        run_id,
        [
            MetricPoint("m", float("nan"), 0, 1.0),
            MetricPoint("m", float("inf"), 1, 2.0),
        ],
    )
    values = [p.value for p in store.metric_history(run_id, "m")]
    assert str(values) == "[nan, inf]"


class Flaky:
    """A real app that returns 503 a given number of times, then a result."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.keys: list[str | None] = []
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self.answer, methods=["POST"])

    async def answer(self, request: Request) -> Response:
        self.keys.append(request.headers.get("idempotency-key"))
        if len(self.keys) <= self.failures:
            return Response(status_code=503)
        return Response(json.dumps({"result": "run-1"}), media_type="application/json")


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, str]]:
    import uvicorn

    target = Flaky(failures=2)
    server = uvicorn.Server(
        uvicorn.Config(target.app, host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield target, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_retries_keep_one_key(flaky: tuple[Flaky, str]) -> None:
    target, url = flaky
    store = HttpStore(url, retries=3)
    assert store.create_run(experiment="e", name="n") == "run-1"
    store.close()
    assert len(target.keys) == 3
    assert len(set(target.keys)) == 1
    assert target.keys[0] is not None


def test_unreachable_server_is_named() -> None:
    store = HttpStore("http://127.0.0.1:9", retries=1)
    with pytest.raises(StoreError, match="cannot reach the Tether server at http"):
        store.count_runs()
    store.close()


def test_admin_sets_member_roles(
    tether_server: ServerHandle, workspace: str, viewer: Member
) -> None:
    admin = add_member(tether_server, workspace, "admin")
    path = f"/api/v1/workspaces/{workspace}/members/{viewer.name}"
    with admin.client(tether_server.url) as client:
        changed = client.put(path, json={"role": "editor"})
        members = client.get(f"/api/v1/workspaces/{workspace}/members").json()
    assert changed.status_code == 200
    assert {"user": viewer.name, "role": "editor"} in members


def test_editor_cannot_set_roles(
    tether_server: ServerHandle, editor: Member, viewer: Member
) -> None:
    path = f"/api/v1/workspaces/{editor.workspace}/members/{viewer.name}"
    with editor.client(tether_server.url) as client:
        response = client.put(path, json={"role": "admin"})
    assert response.status_code == 403


def test_bad_role_is_rejected(
    tether_server: ServerHandle, workspace: str, viewer: Member
) -> None:
    admin = add_member(tether_server, workspace, "admin")
    path = f"/api/v1/workspaces/{workspace}/members/{viewer.name}"
    with admin.client(tether_server.url) as client:
        response = client.put(path, json={"role": "owner"})
    assert response.status_code == 422


FORM = {"content-type": "application/x-www-form-urlencoded"}


def all_routes(routes: list[Any]) -> Iterator[Any]:
    """Yield every route, including those of routers the app includes."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        else:
            yield route


def workspace_routes(app: Any) -> list[tuple[str, str]]:
    """Return (method, path) of every route of a workspace, its parameters filled in."""
    found = []
    for route in all_routes(app.routes):
        path = getattr(route, "path", "")
        if "{workspace}" not in path:
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method == "HEAD":
                continue
            filled = re.sub(r"\{(?!workspace)[^}]+\}", "x", path)
            found.append((method, filled))
    return found


def test_every_route_hides_other_workspaces(
    tether_server: ServerHandle, workspace: str, outsider: Member
) -> None:
    routes = workspace_routes(tether_server.app)
    assert len(routes) > len(operations())
    with outsider.client(tether_server.url) as client:
        statuses = {
            (method, path): client.request(
                method, path.format(workspace=workspace), headers=FORM
            ).status_code
            for method, path in routes
        }
    assert {key: code for key, code in statuses.items() if code != 404} == {}


def test_rebuilt_error_keeps_message() -> None:
    from tether.errors import error_from_json

    rebuilt = error_from_json(
        {
            "type": "NotFoundError",
            "message": "run 'x' not found",
            "fields": {"kind": "run"},
        }
    )
    assert isinstance(rebuilt, NotFoundError)
    assert rebuilt.message == "run 'x' not found"
    assert str(rebuilt) == "run 'x' not found"
    assert rebuilt.kind == "run"
