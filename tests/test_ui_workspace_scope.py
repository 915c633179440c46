"""Changes made from the web UI land in the request's workspace, in the caller's name."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import tether
from server_helpers import add_member
from tether import config
from tether.errors import NotFoundError
from tether.testing.plugin import ServerHandle, _reset


def register_model(
    server: ServerHandle, workspace: str, home: Path, mp: pytest.MonkeyPatch
) -> None:
    """Register two versions of a small model in ``workspace`` over HTTP."""
    mp.setenv(config.HOME_ENV, str(home))
    mp.setenv(config.STORE_ENV, server.url)
    mp.setenv(config.WORKSPACE_ENV, workspace)
    mp.setenv(config.TOKEN_ENV, server.admin_token)
    _reset()
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    for _ in range(2):
        with tether.start_run(experiment="e", name="fit") as run:
            model = LogisticRegression().fit(frame[["x"]], frame["y"])
            run.log_model(model, name="clf", input_example=frame[["x"]].head(2))
    _reset()


def test_promote_in_other_workspace(
    tether_server: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tether_server.new_workspace()
    register_model(tether_server, workspace, tmp_path / "home", monkeypatch)
    editor = add_member(tether_server, workspace, "editor")
    path = f"/ui/{workspace}/models/clf/promote"
    response = httpx.post(
        tether_server.url + path,
        data={"alias": "staging", "version": "2"},
        cookies={"tether_token": editor.token},
        headers={"origin": tether_server.url},
    )
    assert response.status_code == 303, response.text
    store = tether_server.state.workspaces.store(workspace)
    assert store.resolve_alias("clf", "staging") == 2
    (event,) = store.audit_trail("models:/clf@staging")
    assert event.actor == editor.name
    default = tether_server.state.workspaces.store("default")
    with pytest.raises(NotFoundError):
        default.list_model_versions("clf")
