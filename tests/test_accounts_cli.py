"""``tether users``, ``tether tokens`` and ``tether workspaces`` on a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from cli_helpers import one_line_error
from tether import config
from tether.cli import main as cli_main
from tether.cli.accounts import tokens_app, users_app, workspaces_app
from tether.store import SqlStore

# These commands reject a Tether server's address, so the store is a database.
pytestmark = pytest.mark.sql_store

app = typer.Typer(pretty_exceptions_enable=False)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(workspaces_app, name="workspaces")
runner = CliRunner()


@pytest.fixture
def cli(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run ``tether.cli.main.main`` with the account commands; return the store URL."""
    monkeypatch.setattr(cli_main, "app", app)
    monkeypatch.setenv(config.USER_ENV, "ops")
    return store_url


def invoke(*args: str) -> Result:
    """Run a command, check that it succeeded, and return its result."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def invoke_json(*args: str) -> Any:
    return json.loads(invoke(*args, "--format", "json").stdout)


def test_users_add_and_list(cli: str) -> None:
    added = invoke("users", "add", "alice", "--admin")
    invoke("users", "add", "bob")
    invoke("workspaces", "grant", "default", "bob", "editor")
    users = invoke_json("users", "list")
    assert "added server admin alice" in added.stdout
    assert "`tether tokens create alice`" in added.stdout
    assert [(u["name"], u["admin"], u["disabled"]) for u in users] == [
        ("alice", True, False),
        ("bob", False, False),
    ]
    assert users[0]["roles"] == []
    assert users[1]["roles"] == ["default:editor"]


def test_users_list_table(cli: str) -> None:
    invoke("users", "add", "alice", "--admin")
    invoke("workspaces", "grant", "default", "alice", "viewer")
    output = invoke("users", "list").stdout
    assert "alice" in output
    assert "default:viewer" in output
    assert "yes" in output


def test_users_disable_enable(cli: str) -> None:
    invoke("users", "add", "alice")
    disabled = invoke("users", "disable", "alice")
    listed = invoke_json("users", "list")
    enabled = invoke("users", "enable", "alice")
    assert "disabled user alice" in disabled.stdout
    assert "`tether users enable alice`" in disabled.stdout
    assert listed[0]["disabled"] is True
    assert enabled.stdout.strip() == "enabled user alice"
    assert invoke_json("users", "list")[0]["disabled"] is False


def test_tokens_create_prints_secret(cli: str) -> None:
    invoke("users", "add", "alice")
    result = invoke("tokens", "create", "alice", "--name", "laptop")
    secret = result.stdout.strip()
    store = SqlStore(cli)
    found = store.authenticate(secret)
    store.close()
    assert result.stdout.count("\n") == 1
    assert secret.startswith("tth_")
    assert "created token" in result.stderr
    assert "it never expires" in result.stderr
    assert "cannot show it again" in result.stderr
    assert found is not None
    assert (found[0].name, found[1].name) == ("alice", "laptop")


def test_tokens_create_expiry(cli: str) -> None:
    invoke("users", "add", "alice")
    before = datetime.now(UTC)
    invoke("tokens", "create", "alice", "--expires-days", "7")
    after = datetime.now(UTC)
    tokens = invoke_json("tokens", "list")
    expires = datetime.fromisoformat(tokens[0]["expires_at"])
    assert before + timedelta(days=7) <= expires <= after + timedelta(days=7)
    assert tokens[0]["state"] == "active"


def test_tokens_list_and_revoke(cli: str) -> None:
    invoke("users", "add", "alice")
    invoke("users", "add", "bob")
    first = invoke("tokens", "create", "alice", "--name", "one").stdout.strip()
    invoke("tokens", "create", "bob", "--name", "two")
    listed = invoke_json("tokens", "list")
    revoked = invoke("tokens", "revoke", listed[0]["id"])
    after = invoke_json("tokens", "list", "--user", "alice")
    table_output = invoke("tokens", "list").stdout
    assert [(t["user"], t["name"]) for t in listed] == [
        ("alice", "one"),
        ("bob", "two"),
    ]
    assert revoked.stdout.strip() == f"revoked token {listed[0]['id']}"
    assert [(t["name"], t["state"]) for t in after] == [("one", "revoked")]
    assert after[0]["revoked_at"] is not None
    assert first not in json.dumps(listed)
    assert first not in table_output
    assert listed[0]["id"] in table_output


def test_tokens_list_expired(cli: str) -> None:
    invoke("users", "add", "alice")
    invoke("tokens", "create", "alice", "--expires-days", "1")
    store = SqlStore(cli)
    token_id = store.list_tokens()[0].id
    past = datetime.now(UTC) - timedelta(minutes=1)
    _expire(store, token_id, past)
    store.close()
    assert invoke_json("tokens", "list")[0]["state"] == "expired"


def _expire(store: SqlStore, token_id: str, when: datetime) -> None:
    from sqlalchemy import update

    from tether.store import schema as t

    statement = (
        update(t.api_tokens)
        .where(t.api_tokens.c.id == token_id)
        .values(expires_at=when)
    )
    with store.engine.begin() as conn:
        conn.execute(statement)


def test_workspaces_commands(cli: str) -> None:
    invoke("users", "add", "alice")
    invoke("users", "add", "bob")
    added = invoke("workspaces", "add", "team-a", "--description", "Team A")
    granted = invoke("workspaces", "grant", "team-a", "alice", "editor")
    invoke("workspaces", "grant", "team-a", "bob", "viewer")
    invoke("users", "disable", "bob")
    workspaces = invoke_json("workspaces", "list")
    members = invoke_json("workspaces", "members", "team-a")
    removed = invoke("workspaces", "revoke", "team-a", "alice")
    remaining = invoke_json("workspaces", "members", "team-a")
    assert "added workspace team-a" in added.stdout
    assert "`tether workspaces grant team-a USER ROLE`" in added.stdout
    assert granted.stdout.strip() == "alice is now editor in workspace team-a"
    assert [(w["name"], w["description"], w["members"]) for w in workspaces] == [
        ("default", "The server's own store.", 0),
        ("team-a", "Team A", 2),
    ]
    assert members == [
        {"user": "alice", "role": "editor", "disabled": False},
        {"user": "bob", "role": "viewer", "disabled": True},
    ]
    assert removed.stdout.strip() == "removed the role of alice in workspace team-a"
    assert [m["user"] for m in remaining] == ["bob"]


def test_workspaces_tables(cli: str) -> None:
    invoke("users", "add", "alice")
    invoke("workspaces", "grant", "default", "alice", "admin")
    listed = invoke("workspaces", "list").stdout
    members = invoke("workspaces", "members", "default").stdout
    assert "default" in listed
    assert "The server's own store." in listed
    assert "members of default" in members
    assert "alice" in members
    assert "admin" in members


def test_actor_in_audit_trail(cli: str) -> None:
    invoke("users", "add", "alice")
    invoke("workspaces", "add", "team-a")
    invoke("workspaces", "grant", "team-a", "alice", "viewer")
    store = SqlStore(cli)
    events = [(e.actor, e.action, e.entity) for e in store.audit_trail()]
    store.close()
    assert events == [
        ("ops", "add", "users/alice"),
        ("ops", "add", "workspaces/team-a"),
        ("ops", "grant", "workspaces/team-a"),
    ]


def test_store_option(cli: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other' / 'tether.db'}"
    invoke("users", "add", "alice", "--store", other)
    in_other = invoke_json("users", "list", "--store", other)
    in_default = invoke_json("users", "list")
    assert [u["name"] for u in in_other] == ["alice"]
    assert in_default == []


# -- errors: one line through tether's entry point --------------------------


def test_duplicate_user_error(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    invoke("users", "add", "alice")
    line = one_line_error(capsys, "users", "add", "alice")
    assert line.startswith("error: user 'alice' exists already")


def test_unknown_user_error(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "tokens", "create", "ghost")
    assert line == (
        "error: user 'ghost' not found; list users with `tether users list`"
    )


def test_invalid_role_error(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    invoke("users", "add", "alice")
    line = one_line_error(capsys, "workspaces", "grant", "default", "alice", "owner")
    assert line == "error: invalid role 'owner'; use one of: viewer, editor, admin"


def test_unknown_workspace_error(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "workspaces", "members", "nope")
    assert line.startswith("error: workspace 'nope' not found")


def test_unknown_token_error(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "tokens", "revoke", "nope")
    assert line.startswith("error: token 'nope' not found")


def test_invalid_expiry_days(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    invoke("users", "add", "alice")
    line = one_line_error(capsys, "tokens", "create", "alice", "--expires-days", "0")
    assert "--expires-days" in line
    assert "greater than or equal to 1" in line


def test_server_address_refused(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(
        capsys, "users", "list", "--store", "http://me:pw@127.0.0.1:8765"
    )
    assert line.startswith(
        "error: --store is a Tether server's address (http://127.0.0.1:8765)"
    )
    assert "run this command on the server's machine" in line
    assert "pw" not in line


def test_server_env_refused(
    cli: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.STORE_ENV, "https://127.0.0.1:8765")
    line = one_line_error(capsys, "tokens", "list")
    assert line.startswith(
        "error: TETHER_STORE is a Tether server's address (https://127.0.0.1:8765)"
    )
    assert "--store sqlite:///PATH" in line
