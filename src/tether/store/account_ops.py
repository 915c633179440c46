"""Store operations on the server's accounts: users, tokens, workspaces and roles.

A token's secret is ``tth_`` followed by 32 random bytes in URL-safe base64.
The store keeps only the SHA-256 hex digest of the secret and finds a token
by the digest of the secret a request sends. The secret has 256 random bits,
so guessing cannot recover it from a stolen digest. A slow password hash
(bcrypt, Argon2) protects low-entropy secrets that people choose. Here it
would only add work to every request.

Every change writes an audit event in the transaction that makes it. No
event, log line or message contains a secret or its digest.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.errors import ConfigError, NotFoundError
from tether.ids import new_id
from tether.store import schema as t
from tether.store.audit import audit
from tether.store.time import aware, utcnow
from tether.store.transactions import write

logger = logging.getLogger(__name__)

ROLES = ("viewer", "editor", "admin")
DEFAULT_WORKSPACE = "default"
TOKEN_PREFIX = "tth_"
USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
WORKSPACE_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
MAX_TOKEN_NAME_LENGTH = 100
# A token's last use is written at most this often, so that requests only
# read the database.
LAST_USED_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class UserRecord:
    """A person or a service that owns tokens."""

    name: str
    admin: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    """An API token; the secret itself is never stored, only its hash."""

    id: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class WorkspaceRecord:
    """A workspace known to the server."""

    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class MembershipRecord:
    """A user's role in one workspace."""

    user: str
    workspace: str
    role: str


def check_user_name(name: str) -> str:
    """Return ``name`` if it is a valid user name, else raise ``ConfigError``."""
    if not USER_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"invalid user name {name!r}; use 1 to 100 letters, digits and the "
            "characters . _ @ -, starting with a letter or digit",
            setting="user",
            value=name,
        )
    return name


def check_workspace_name(name: str) -> str:
    """Return ``name`` if it is a valid workspace name, else raise ``ConfigError``."""
    if not WORKSPACE_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"invalid workspace name {name!r}; use 1 to 40 lowercase letters, "
            "digits and hyphens, starting with a letter or digit",
            setting="workspace",
            value=name,
        )
    return name


def check_role(role: str) -> str:
    """Return ``role`` if it is one of ``ROLES``, else raise ``ConfigError``."""
    if role not in ROLES:
        raise ConfigError(
            f"invalid role {role!r}; use one of: {', '.join(ROLES)}",
            setting="role",
            value=role,
        )
    return role


def hash_token(secret: str) -> str:
    """Return the SHA-256 hex digest under which a token's secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def user_entity(name: str) -> str:
    """Return the audit-trail entity of user ``name``."""
    return f"users/{name}"


def token_entity(token_id: str) -> str:
    """Return the audit-trail entity of token ``token_id``."""
    return f"tokens/{token_id}"


def workspace_entity(name: str) -> str:
    """Return the audit-trail entity of workspace ``name``."""
    return f"workspaces/{name}"


class AccountOps:
    """Users, tokens, workspaces and roles; mixed into the SQL store."""

    engine: Engine

    # -- users -------------------------------------------------------------

    def add_user(self, name: str, *, admin: bool = False, actor: str) -> UserRecord:
        """Add a user; raise ConfigError when the name is invalid or taken."""
        check_user_name(name)
        try:
            return write(
                self.engine, lambda conn: _insert_user(conn, name, admin, actor)
            )
        except IntegrityError:
            # Another process added the same name between the check and the insert.
            raise _user_exists(name) from None

    def add_first_admin(
        self, name: str, *, token_name: str = "", actor: str
    ) -> tuple[TokenRecord, str]:
        """Add the first user as a server admin with ``admin`` in ``default``, and a token.

        All three happen in one transaction, which fails with ConfigError when
        any user exists already. Returns the token and its secret.
        """
        check_user_name(name)
        _check_token_name(token_name)
        secret = _new_secret()

        def add(conn: Connection) -> tuple[TokenRecord, str]:
            _check_no_users(conn)
            _insert_user(conn, name, True, actor)
            _set_role(conn, name, DEFAULT_WORKSPACE, "admin", actor)
            token = _insert_token(conn, name, token_name, None, secret, actor)
            return token, secret

        try:
            return write(self.engine, add)
        except IntegrityError:
            raise _user_exists(name) from None

    def get_user(self, name: str) -> UserRecord:
        """Return user ``name``; raise NotFoundError when there is none."""
        with self.engine.connect() as conn:
            return _user(_user_row(conn, name))

    def list_users(self) -> list[UserRecord]:
        """Return every user, by name."""
        query = select(t.users).order_by(t.users.c.name)
        with self.engine.connect() as conn:
            return [_user(row) for row in conn.execute(query).mappings()]

    def set_user_disabled(self, name: str, disabled: bool, *, actor: str) -> None:
        """Disable or enable a user; the server rejects every token of a disabled user.

        Setting the state a user already has changes nothing and writes no
        audit event.
        """

        def set_disabled(conn: Connection) -> None:
            row = _user_row(conn, name)
            if bool(row["disabled"]) == disabled:
                return
            conn.execute(
                update(t.users).where(t.users.c.name == name).values(disabled=disabled)
            )
            action = "disable" if disabled else "enable"
            audit(conn, actor, action, user_entity(name), {})

        write(self.engine, set_disabled)

    # -- tokens ------------------------------------------------------------

    def create_token(
        self,
        user: str,
        *,
        name: str = "",
        expires_at: datetime | None = None,
        actor: str,
    ) -> tuple[TokenRecord, str]:
        """Create a token for ``user``; return it and its secret.

        The secret is returned only here: the store keeps its hash. A naive
        ``expires_at`` is taken as UTC.

        Raises:
            NotFoundError: no user is called ``user``.
            ConfigError: the user is disabled, the name is too long, or
                ``expires_at`` is not in the future.
        """
        _check_token_name(name)
        if expires_at is not None:
            expires_at = _check_expiry(expires_at)
        secret = _new_secret()

        def create(conn: Connection) -> TokenRecord:
            row = _user_row(conn, user)
            if row["disabled"]:
                raise ConfigError(
                    f"user {user!r} is disabled; enable it with "
                    f"`tether users enable {user}` before creating a token",
                    setting="user",
                    value=user,
                )
            return _insert_token(conn, user, name, expires_at, secret, actor)

        return write(self.engine, create), secret

    def authenticate(self, secret: str) -> tuple[UserRecord, TokenRecord] | None:
        """Return the user and token of ``secret``, or None if it may not be used.

        None means the token is unknown, revoked or expired, or its user is
        disabled. A token's ``last_used_at`` is updated at most once per
        ``LAST_USED_INTERVAL``.
        """
        if not secret.startswith(TOKEN_PREFIX):
            return None
        query = (
            select(
                t.api_tokens,
                t.users.c.admin,
                t.users.c.disabled,
                t.users.c.created_at.label("user_created_at"),
            )
            .join(t.users, t.users.c.name == t.api_tokens.c.user)
            .where(t.api_tokens.c.token_hash == hash_token(secret))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        token = _token(row)
        user = UserRecord(
            name=token.user,
            admin=bool(row["admin"]),
            disabled=bool(row["disabled"]),
            created_at=aware(row["user_created_at"]),
        )
        now = utcnow()
        reason = _rejection(user, token, now)
        if reason is not None:
            logger.debug(
                "token %s of user %s rejected: %s", token.id, user.name, reason
            )
            return None
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_INTERVAL:
            token = self._mark_used(token, now)
        return user, token

    def _mark_used(self, token: TokenRecord, now: datetime) -> TokenRecord:
        statement = (
            update(t.api_tokens)
            .where(t.api_tokens.c.id == token.id)
            .values(last_used_at=now)
        )
        write(self.engine, lambda conn: conn.execute(statement))
        return replace(token, last_used_at=now)

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Return tokens, oldest first, of one user or of all, revoked ones included.

        Raises:
            NotFoundError: ``user`` is given and no user has that name.
        """
        query = select(t.api_tokens).order_by(
            t.api_tokens.c.created_at, t.api_tokens.c.id
        )
        with self.engine.connect() as conn:
            if user is not None:
                _user_row(conn, user)
                query = query.where(t.api_tokens.c.user == user)
            return [_token(row) for row in conn.execute(query).mappings()]

    def revoke_token(self, token_id: str, *, actor: str) -> None:
        """Revoke a token, so the server rejects it from now on.

        Revoking a revoked token keeps its first revocation time and writes
        no audit event.
        """

        def revoke(conn: Connection) -> None:
            row = _token_row(conn, token_id)
            if row["revoked_at"] is not None:
                return
            conn.execute(
                update(t.api_tokens)
                .where(t.api_tokens.c.id == token_id)
                .values(revoked_at=utcnow())
            )
            details = {"user": row["user"], "name": row["name"]}
            audit(conn, actor, "revoke", token_entity(token_id), details)

        write(self.engine, revoke)

    # -- workspaces and roles ----------------------------------------------

    def add_workspace(
        self, name: str, *, description: str = "", actor: str
    ) -> WorkspaceRecord:
        """Add a workspace; raise ConfigError when the name is invalid or taken."""
        check_workspace_name(name)

        def add(conn: Connection) -> WorkspaceRecord:
            if _find(conn, t.workspaces, name) is not None:
                raise _workspace_exists(name)
            record = WorkspaceRecord(name, description, utcnow())
            conn.execute(insert(t.workspaces).values(**asdict(record)))
            details = {"description": description}
            audit(conn, actor, "add", workspace_entity(name), details)
            return record

        try:
            return write(self.engine, add)
        except IntegrityError:
            raise _workspace_exists(name) from None

    def get_workspace(self, name: str) -> WorkspaceRecord:
        """Return workspace ``name``; raise NotFoundError when there is none."""
        with self.engine.connect() as conn:
            return _workspace(_workspace_row(conn, name))

    def list_workspaces(self) -> list[WorkspaceRecord]:
        """Return every workspace, by name; ``default`` is always one of them."""
        query = select(t.workspaces).order_by(t.workspaces.c.name)
        with self.engine.connect() as conn:
            return [_workspace(row) for row in conn.execute(query).mappings()]

    def grant(self, user: str, workspace: str, role: str, *, actor: str) -> None:
        """Give ``user`` the role ``role`` in ``workspace``, replacing any role it had.

        Raises:
            ConfigError: ``role`` is not one of ``ROLES``.
            NotFoundError: the user or the workspace does not exist.
        """
        check_role(role)
        write(self.engine, lambda conn: _set_role(conn, user, workspace, role, actor))

    def revoke(self, user: str, workspace: str, *, actor: str) -> None:
        """Remove the role of ``user`` in ``workspace``.

        Raises:
            NotFoundError: the user or the workspace does not exist, or the
                user has no role in the workspace.
        """

        def remove(conn: Connection) -> None:
            _user_row(conn, user)
            _workspace_row(conn, workspace)
            role = _role_of(conn, user, workspace)
            if role is None:
                raise NotFoundError(
                    f"user {user!r} has no role in workspace {workspace!r}; list "
                    f"its members with `tether workspaces members {workspace}`",
                    kind="membership",
                    name=f"{workspace}/{user}",
                )
            m = t.memberships
            conn.execute(delete(m).where(m.c.user == user, m.c.workspace == workspace))
            details = {"user": user, "role": role}
            audit(conn, actor, "revoke", workspace_entity(workspace), details)

        write(self.engine, remove)

    def memberships(
        self, user: str | None = None, workspace: str | None = None
    ) -> list[MembershipRecord]:
        """Return roles by workspace and user, of one user, one workspace, or all.

        Raises:
            NotFoundError: a given user or workspace does not exist.
        """
        m = t.memberships
        query = select(m.c.user, m.c.workspace, m.c.role).order_by(
            m.c.workspace, m.c.user
        )
        with self.engine.connect() as conn:
            if user is not None:
                _user_row(conn, user)
                query = query.where(m.c.user == user)
            if workspace is not None:
                _workspace_row(conn, workspace)
                query = query.where(m.c.workspace == workspace)
            return [MembershipRecord(*row) for row in conn.execute(query)]


def _insert_user(conn: Connection, name: str, admin: bool, actor: str) -> UserRecord:
    if _find(conn, t.users, name) is not None:
        raise _user_exists(name)
    record = UserRecord(name=name, admin=admin, disabled=False, created_at=utcnow())
    conn.execute(insert(t.users).values(**asdict(record)))
    audit(conn, actor, "add", user_entity(name), {"admin": admin})
    return record


def _check_no_users(conn: Connection) -> None:
    names = list(
        conn.execute(select(t.users.c.name).order_by(t.users.c.name).limit(4)).scalars()
    )
    if not names:
        return
    count = conn.execute(select(func.count()).select_from(t.users)).scalar_one()
    listed_names = ", ".join(names[:3])
    if count > 3:
        listed_names += f" and {count - 3} more"
    raise ConfigError(
        f"the server has users already ({listed_names}); add more with "
        "`tether users add NAME` (`--admin` for a server admin) and give each a "
        "token with `tether tokens create NAME`",
        setting="admin",
        value=names[0],
    )


def _insert_token(
    conn: Connection,
    user: str,
    name: str,
    expires_at: datetime | None,
    secret: str,
    actor: str,
) -> TokenRecord:
    record = TokenRecord(
        id=new_id(),
        user=user,
        name=name,
        created_at=utcnow(),
        expires_at=expires_at,
        last_used_at=None,
        revoked_at=None,
    )
    conn.execute(
        insert(t.api_tokens).values(**asdict(record), token_hash=hash_token(secret))
    )
    details = {
        "user": user,
        "name": name,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    audit(conn, actor, "create", token_entity(record.id), details)
    return record


def _set_role(
    conn: Connection, user: str, workspace: str, role: str, actor: str
) -> None:
    """Insert or replace a role; writes nothing when the user has that role already."""
    _user_row(conn, user)
    _workspace_row(conn, workspace)
    previous = _role_of(conn, user, workspace)
    if previous == role:
        return
    m = t.memberships
    if previous is None:
        conn.execute(insert(m).values(user=user, workspace=workspace, role=role))
    else:
        conn.execute(
            update(m)
            .where(m.c.user == user, m.c.workspace == workspace)
            .values(role=role)
        )
    details = {"user": user, "role": role, "previous_role": previous}
    audit(conn, actor, "grant", workspace_entity(workspace), details)


def _role_of(conn: Connection, user: str, workspace: str) -> str | None:
    m = t.memberships
    query = select(m.c.role).where(m.c.user == user, m.c.workspace == workspace)
    role: str | None = conn.execute(query).scalar()
    return role


def _find(conn: Connection, table: Any, name: str) -> Any:
    return conn.execute(select(table).where(table.c.name == name)).mappings().first()


def _user_row(conn: Connection, name: str) -> Any:
    row = _find(conn, t.users, name)
    if row is None:
        raise NotFoundError(
            f"user {name!r} not found; list users with `tether users list`",
            kind="user",
            name=name,
        )
    return row


def _workspace_row(conn: Connection, name: str) -> Any:
    row = _find(conn, t.workspaces, name)
    if row is None:
        raise NotFoundError(
            f"workspace {name!r} not found; list workspaces with "
            "`tether workspaces list`",
            kind="workspace",
            name=name,
        )
    return row


def _token_row(conn: Connection, token_id: str) -> Any:
    query = select(t.api_tokens).where(t.api_tokens.c.id == token_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(
            f"token {token_id!r} not found; list tokens with `tether tokens list`",
            kind="token",
            name=token_id,
        )
    return row


def _user_exists(name: str) -> ConfigError:
    return ConfigError(
        f"user {name!r} exists already; list users with `tether users list`",
        setting="user",
        value=name,
    )


def _workspace_exists(name: str) -> ConfigError:
    return ConfigError(
        f"workspace {name!r} exists already; list workspaces with "
        "`tether workspaces list`",
        setting="workspace",
        value=name,
    )


def _new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _check_token_name(name: str) -> None:
    if len(name) > MAX_TOKEN_NAME_LENGTH or not name.isprintable():
        raise ConfigError(
            f"invalid token name {name!r}; use at most {MAX_TOKEN_NAME_LENGTH} "
            "printable characters",
            setting="name",
            value=name,
        )


def _check_expiry(expires_at: datetime) -> datetime:
    expires_at = aware(expires_at)
    if expires_at <= utcnow():
        raise ConfigError(
            f"the expiry time {expires_at.isoformat()} is in the past; give a "
            "future time, or none for a token that does not expire",
            setting="expires_at",
            value=expires_at,
        )
    return expires_at


def _rejection(user: UserRecord, token: TokenRecord, now: datetime) -> str | None:
    """Return why a known token may not be used now, or None if it may."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    if user.disabled:
        return "user disabled"
    return None


def _user(row: Any) -> UserRecord:
    return UserRecord(
        name=row["name"],
        admin=bool(row["admin"]),
        disabled=bool(row["disabled"]),
        created_at=aware(row["created_at"]),
    )


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        user=row["user"],
        name=row["name"],
        created_at=aware(row["created_at"]),
        expires_at=_optional_time(row["expires_at"]),
        last_used_at=_optional_time(row["last_used_at"]),
        revoked_at=_optional_time(row["revoked_at"]),
    )


def _workspace(row: Any) -> WorkspaceRecord:
    return WorkspaceRecord(
        name=row["name"],
        description=row["description"],
        created_at=aware(row["created_at"]),
    )


def _optional_time(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None
