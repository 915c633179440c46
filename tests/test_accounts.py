"""The team server's accounts in the store: users, tokens, workspaces and roles."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tether.errors import ConfigError, NotFoundError, TetherError
from tether.server.setup import init_server
from tether.store import SqlStore
from tether.store import schema as t
from tether.store.account_ops import (
    LAST_USED_INTERVAL,
    ROLES,
    MembershipRecord,
    check_workspace_name,
)

# Accounts live in the server's own database and are not part of its HTTP API.
pytestmark = pytest.mark.sql_store

ACTOR = "ops"


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = SqlStore(store_url)
    yield opened
    opened.close()


def set_token_times(store: SqlStore, token_id: str, **values: datetime) -> None:
    """Move a token's times, so a test needs no waiting."""
    statement = (
        update(t.api_tokens).where(t.api_tokens.c.id == token_id).values(**values)
    )
    with store.engine.begin() as conn:
        conn.execute(statement)


def audit_text(store: SqlStore) -> str:
    """Return every audit event as one string."""
    with store.engine.connect() as conn:
        events = conn.execute(select(t.audit_events)).all()
    return json.dumps([list(map(str, row)) for row in events])


# -- users -----------------------------------------------------------------


def test_add_user_reads_back(store: SqlStore) -> None:
    added = store.add_user("alice", admin=True, actor=ACTOR)
    store.add_user("bob", actor=ACTOR)
    found = store.get_user("alice")
    assert found == added
    assert found.admin is True
    assert found.disabled is False
    assert found.created_at.tzinfo is not None
    assert [u.name for u in store.list_users()] == ["alice", "bob"]
    assert store.get_user("bob").admin is False


def test_duplicate_user_rejected(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    with pytest.raises(ConfigError, match=r"^user 'alice' exists already") as caught:
        store.add_user("alice", admin=True, actor=ACTOR)
    assert caught.value.value == "alice"
    assert store.get_user("alice").admin is False


@pytest.mark.parametrize(
    "name", ["alice", "A", "ci-bot", "first.last", "me@example.org", "u_1", "x" * 100]
)
def test_valid_user_names(store: SqlStore, name: str) -> None:
    assert store.add_user(name, actor=ACTOR).name == name


@pytest.mark.parametrize(
    "name", ["", "-alice", ".hidden", "has space", "a/b", "é", "x" * 101, "a:b"]
)
def test_invalid_user_names(store: SqlStore, name: str) -> None:
    with pytest.raises(ConfigError, match=r"^invalid user name") as caught:
        store.add_user(name, actor=ACTOR)
    assert caught.value.value == name
    assert "letters, digits and the characters . _ @ -" in str(caught.value)
    assert store.list_users() == []


def test_unknown_user_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match=r"^user 'nobody' not found") as caught:
        store.get_user("nobody")
    assert (caught.value.kind, caught.value.name) == ("user", "nobody")
    assert "`tether users list`" in str(caught.value)
    with pytest.raises(NotFoundError, match="user 'nobody'"):
        store.set_user_disabled("nobody", True, actor=ACTOR)


def test_disable_and_enable(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    _, secret = store.create_token("alice", actor=ACTOR)
    store.set_user_disabled("alice", True, actor=ACTOR)
    disabled = store.get_user("alice").disabled
    rejected = store.authenticate(secret)
    store.set_user_disabled("alice", False, actor=ACTOR)
    accepted = store.authenticate(secret)
    assert disabled is True
    assert rejected is None
    assert accepted is not None
    assert accepted[0].name == "alice"


def test_disable_twice_audits_once(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    store.set_user_disabled("alice", True, actor=ACTOR)
    store.set_user_disabled("alice", True, actor=ACTOR)
    store.set_user_disabled("alice", False, actor="root")
    events = store.audit_trail("users/alice")
    assert [(e.actor, e.action) for e in events] == [
        (ACTOR, "add"),
        (ACTOR, "disable"),
        ("root", "enable"),
    ]
    assert events[0].details == {"admin": False}


def test_concurrent_adds_one_wins(store_url: str) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def add() -> None:
        store = SqlStore(store_url)
        try:
            barrier.wait(timeout=30)
            store.add_user("alice", actor=ACTOR)
            outcomes.append("added")
        except TetherError as exc:
            outcomes.append(str(exc).split(";")[0])
        finally:
            store.close()

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["added"] + ["user 'alice' exists already"] * 3


# -- tokens ----------------------------------------------------------------


def test_token_secret_format(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    token, secret = store.create_token("alice", name="laptop", actor=ACTOR)
    _, other = store.create_token("alice", actor=ACTOR)
    assert secret.startswith("tth_")
    # 32 random bytes are 43 characters of unpadded URL-safe base64.
    assert len(secret) == 4 + 43
    assert other != secret
    assert (token.user, token.name) == ("alice", "laptop")
    assert token.expires_at is None
    assert token.last_used_at is None
    assert token.revoked_at is None
    assert len(token.id) == 26


def test_only_hash_is_stored(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    token, secret = store.create_token("alice", actor=ACTOR)
    store.revoke_token(token.id, actor=ACTOR)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with store.engine.connect() as conn:
        row = conn.execute(select(t.api_tokens)).one()
    events = audit_text(store)
    assert row.token_hash == digest
    assert secret not in [str(value) for value in row]
    assert secret not in events
    assert digest not in events


def test_authenticate_returns_user_and_token(store: SqlStore) -> None:
    store.add_user("alice", admin=True, actor=ACTOR)
    token, secret = store.create_token("alice", name="ci", actor=ACTOR)
    found = store.authenticate(secret)
    assert found is not None
    user, used = found
    assert (user.name, user.admin, user.disabled) == ("alice", True, False)
    assert used.id == token.id
    assert used.name == "ci"
    assert used.last_used_at is not None


@pytest.mark.parametrize(
    "secret", ["", "tth_", "tth_unknown", "no-prefix", "Bearer tth_x", "TTH_abc"]
)
def test_authenticate_unknown_secret(store: SqlStore, secret: str) -> None:
    store.add_user("alice", actor=ACTOR)
    store.create_token("alice", actor=ACTOR)
    assert store.authenticate(secret) is None


def test_authenticate_near_miss(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    _, secret = store.create_token("alice", actor=ACTOR)
    assert store.authenticate(secret[:-1]) is None
    assert store.authenticate(secret + "x") is None
    assert store.authenticate(secret.upper()) is None


def test_revoked_token_rejected(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    token, secret = store.create_token("alice", actor=ACTOR)
    _, kept = store.create_token("alice", actor=ACTOR)
    store.revoke_token(token.id, actor=ACTOR)
    listed = {t.id: t for t in store.list_tokens("alice")}
    assert store.authenticate(secret) is None
    assert store.authenticate(kept) is not None
    assert listed[token.id].revoked_at is not None


def test_revoke_twice_keeps_first(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    token, _ = store.create_token("alice", name="old", actor=ACTOR)
    store.revoke_token(token.id, actor=ACTOR)
    first = store.list_tokens()[0].revoked_at
    store.revoke_token(token.id, actor="root")
    events = store.audit_trail(f"tokens/{token.id}")
    assert store.list_tokens()[0].revoked_at == first
    assert [e.action for e in events] == ["create", "revoke"]
    assert events[1].details == {"user": "alice", "name": "old"}


def test_unknown_token_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match=r"^token 'nope' not found") as caught:
        store.revoke_token("nope", actor=ACTOR)
    assert (caught.value.kind, caught.value.name) == ("token", "nope")


def test_expired_token_rejected(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    expires = datetime.now(UTC) + timedelta(days=3)
    token, secret = store.create_token("alice", expires_at=expires, actor=ACTOR)
    stored = store.list_tokens()[0].expires_at
    valid = store.authenticate(secret)
    past = datetime.now(UTC) - timedelta(seconds=1)
    set_token_times(store, token.id, expires_at=past)
    assert token.expires_at == expires
    assert stored == expires
    assert valid is not None
    assert store.authenticate(secret) is None


def test_naive_expiry_is_utc(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    naive = datetime(2999, 1, 2, 3, 4, 5)
    token, _ = store.create_token("alice", expires_at=naive, actor=ACTOR)
    stored = store.list_tokens()[0].expires_at
    assert token.expires_at == naive.replace(tzinfo=UTC)
    assert stored == naive.replace(tzinfo=UTC)


def test_past_expiry_rejected(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(ConfigError, match=r"is in the past; give a future time"):
        store.create_token("alice", expires_at=past, actor=ACTOR)
    assert store.list_tokens() == []


def test_last_used_written_once_a_minute(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    token, secret = store.create_token("alice", actor=ACTOR)
    store.authenticate(secret)
    first = store.list_tokens()[0].last_used_at
    again = store.authenticate(secret)
    second = store.list_tokens()[0].last_used_at
    earlier = datetime.now(UTC) - LAST_USED_INTERVAL - timedelta(seconds=1)
    set_token_times(store, token.id, last_used_at=earlier)
    store.authenticate(secret)
    third = store.list_tokens()[0].last_used_at
    assert first is not None
    assert second == first
    assert again is not None
    assert again[1].last_used_at == first
    assert third is not None
    assert third > earlier + timedelta(seconds=1)


def test_token_for_unknown_user(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="user 'ghost' not found") as caught:
        store.create_token("ghost", actor=ACTOR)
    assert caught.value.kind == "user"


def test_token_for_disabled_user(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    store.set_user_disabled("alice", True, actor=ACTOR)
    with pytest.raises(ConfigError, match=r"`tether users enable alice`"):
        store.create_token("alice", actor=ACTOR)
    assert store.list_tokens() == []


@pytest.mark.parametrize("name", ["x" * 101, "line\nbreak", "tab\there"])
def test_invalid_token_name(store: SqlStore, name: str) -> None:
    store.add_user("alice", actor=ACTOR)
    with pytest.raises(ConfigError, match=r"^invalid token name"):
        store.create_token("alice", name=name, actor=ACTOR)


def test_list_tokens_by_user(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    store.add_user("bob", actor=ACTOR)
    first, _ = store.create_token("alice", name="one", actor=ACTOR)
    second, _ = store.create_token("bob", name="two", actor=ACTOR)
    third, _ = store.create_token("alice", name="three", actor=ACTOR)
    assert [t.id for t in store.list_tokens()] == [first.id, second.id, third.id]
    assert [t.name for t in store.list_tokens("alice")] == ["one", "three"]
    assert [t.name for t in store.list_tokens("bob")] == ["two"]
    with pytest.raises(NotFoundError, match="user 'carol' not found"):
        store.list_tokens("carol")


def test_token_audit_has_no_secret(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    expires = datetime(2999, 1, 1, tzinfo=UTC)
    token, secret = store.create_token(
        "alice", name="ci", expires_at=expires, actor="root"
    )
    events = store.audit_trail("tokens/")
    assert [(e.actor, e.action, e.entity) for e in events] == [
        ("root", "create", f"tokens/{token.id}")
    ]
    assert events[0].details == {
        "user": "alice",
        "name": "ci",
        "expires_at": "2999-01-01T00:00:00+00:00",
    }
    assert secret not in json.dumps(events[0].details)


# -- workspaces and roles --------------------------------------------------


def test_default_workspace_exists(store: SqlStore) -> None:
    default = store.get_workspace("default")
    assert default.name == "default"
    assert default.created_at.tzinfo is not None
    assert [w.name for w in store.list_workspaces()] == ["default"]


def test_add_workspace(store: SqlStore) -> None:
    added = store.add_workspace("team-a", description="Team A's models", actor=ACTOR)
    store.add_workspace("b2", actor=ACTOR)
    events = store.audit_trail("workspaces/team-a")
    assert store.get_workspace("team-a") == added
    assert added.description == "Team A's models"
    assert [w.name for w in store.list_workspaces()] == ["b2", "default", "team-a"]
    assert [(e.action, e.details) for e in events] == [
        ("add", {"description": "Team A's models"})
    ]


@pytest.mark.parametrize("name", ["default", "team-a"])
def test_duplicate_workspace_rejected(store: SqlStore, name: str) -> None:
    store.add_workspace("team-a", actor=ACTOR)
    with pytest.raises(ConfigError, match=rf"^workspace '{name}' exists already"):
        store.add_workspace(name, actor=ACTOR)


@pytest.mark.parametrize("name", ["", "Team", "-a", "a_b", "a.b", "a b", "x" * 41, "é"])
def test_invalid_workspace_names(store: SqlStore, name: str) -> None:
    with pytest.raises(ConfigError, match=r"^invalid workspace name") as caught:
        store.add_workspace(name, actor=ACTOR)
    assert caught.value.value == name
    assert "lowercase letters, digits and hyphens" in str(caught.value)


def test_workspace_name_rule() -> None:
    assert check_workspace_name("a") == "a"
    assert check_workspace_name("x" * 40) == "x" * 40
    assert check_workspace_name("0-team") == "0-team"
    with pytest.raises(ConfigError, match="invalid workspace name 'A'"):
        check_workspace_name("A")


def test_unknown_workspace_not_found(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    with pytest.raises(NotFoundError, match=r"^workspace 'nope' not found") as caught:
        store.get_workspace("nope")
    assert (caught.value.kind, caught.value.name) == ("workspace", "nope")
    with pytest.raises(NotFoundError, match="workspace 'nope'"):
        store.grant("alice", "nope", "viewer", actor=ACTOR)
    with pytest.raises(NotFoundError, match="workspace 'nope'"):
        store.memberships(workspace="nope")


def test_grant_and_replace_role(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    store.add_user("bob", actor=ACTOR)
    store.add_workspace("team-a", actor=ACTOR)
    store.grant("alice", "team-a", "viewer", actor=ACTOR)
    store.grant("bob", "default", "editor", actor=ACTOR)
    store.grant("alice", "team-a", "admin", actor=ACTOR)
    store.grant("alice", "default", "viewer", actor=ACTOR)
    assert store.memberships() == [
        MembershipRecord("alice", "default", "viewer"),
        MembershipRecord("bob", "default", "editor"),
        MembershipRecord("alice", "team-a", "admin"),
    ]
    assert store.memberships(user="alice") == [
        MembershipRecord("alice", "default", "viewer"),
        MembershipRecord("alice", "team-a", "admin"),
    ]
    assert store.memberships(user="alice", workspace="team-a") == [
        MembershipRecord("alice", "team-a", "admin")
    ]
    assert store.memberships(workspace="team-a") == [
        MembershipRecord("alice", "team-a", "admin")
    ]


def test_grant_audit(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    store.add_workspace("team-a", actor=ACTOR)
    store.grant("alice", "team-a", "viewer", actor=ACTOR)
    store.grant("alice", "team-a", "viewer", actor=ACTOR)
    store.grant("alice", "team-a", "editor", actor="root")
    store.revoke("alice", "team-a", actor="root")
    events = store.audit_trail("workspaces/team-a")
    assert [(e.actor, e.action, e.details) for e in events] == [
        (ACTOR, "add", {"description": ""}),
        (ACTOR, "grant", {"user": "alice", "role": "viewer", "previous_role": None}),
        (
            "root",
            "grant",
            {"user": "alice", "role": "editor", "previous_role": "viewer"},
        ),
        ("root", "revoke", {"user": "alice", "role": "editor"}),
    ]


@pytest.mark.parametrize("role", ["owner", "Admin", "", "viewer "])
def test_invalid_role(store: SqlStore, role: str) -> None:
    store.add_user("alice", actor=ACTOR)
    with pytest.raises(ConfigError, match=r"^invalid role") as caught:
        store.grant("alice", "default", role, actor=ACTOR)
    assert caught.value.value == role
    assert f"invalid role {role!r}; use one of: viewer, editor, admin" == str(
        caught.value
    )
    assert store.memberships() == []


def test_roles_are_exact() -> None:
    assert ROLES == ("viewer", "editor", "admin")


def test_grant_unknown_user(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="user 'ghost' not found"):
        store.grant("ghost", "default", "viewer", actor=ACTOR)
    assert store.audit_trail() == []


def test_revoke_role(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    store.grant("alice", "default", "editor", actor=ACTOR)
    store.revoke("alice", "default", actor=ACTOR)
    assert store.memberships() == []
    with pytest.raises(
        NotFoundError, match=r"^user 'alice' has no role in workspace 'default'"
    ) as caught:
        store.revoke("alice", "default", actor=ACTOR)
    assert (caught.value.kind, caught.value.name) == ("membership", "default/alice")
    assert "`tether workspaces members default`" in str(caught.value)


# -- the first admin ---------------------------------------------------------


def test_first_admin(store: SqlStore) -> None:
    token, secret = store.add_first_admin("root", token_name="init", actor=ACTOR)
    found = store.authenticate(secret)
    assert found is not None
    assert found[0].admin is True
    assert found[1].id == token.id
    assert token.name == "init"
    assert store.memberships() == [MembershipRecord("root", "default", "admin")]
    assert [e.action for e in store.audit_trail()] == ["add", "grant", "create"]


def test_first_admin_only_once(store: SqlStore) -> None:
    store.add_user("alice", actor=ACTOR)
    with pytest.raises(ConfigError, match=r"^the server has users already \(alice\)"):
        store.add_first_admin("root", actor=ACTOR)
    assert [u.name for u in store.list_users()] == ["alice"]
    assert store.list_tokens() == []
    assert store.memberships() == []


def test_init_server(store_url: str) -> None:
    secret = init_server(store_url, "root")
    store = SqlStore(store_url)
    found = store.authenticate(secret)
    memberships = store.memberships()
    tokens = store.list_tokens()
    store.close()
    assert found is not None
    assert (found[0].name, found[0].admin) == ("root", True)
    assert memberships == [MembershipRecord("root", "default", "admin")]
    assert [(t.name, t.expires_at) for t in tokens] == [("server init", None)]


def test_init_server_twice(store_url: str) -> None:
    init_server(store_url, "root")
    store = SqlStore(store_url)
    for extra in ["alice", "bob", "carol"]:
        store.add_user(extra, actor=ACTOR)
    store.close()
    with pytest.raises(ConfigError) as caught:
        init_server(store_url, "other")
    message = str(caught.value)
    assert message.startswith(
        "the server has users already (alice, bob, carol and 1 more)"
    )
    assert "`tether users add NAME`" in message
    assert "`tether tokens create NAME`" in message


def test_init_server_invalid_name(store_url: str) -> None:
    with pytest.raises(ConfigError, match="invalid user name 'bad name'"):
        init_server(store_url, "bad name")
    store = SqlStore(store_url)
    users = store.list_users()
    store.close()
    assert users == []
