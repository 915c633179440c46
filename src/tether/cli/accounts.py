"""``tether users``, ``tether tokens`` and ``tether workspaces``: the team server's accounts.

These commands change the server's database directly, not through its HTTP
API, so they run on the server's machine with the database's URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from tether.cli.render import check_format, print_json, table
from tether.errors import ConfigError

if TYPE_CHECKING:
    from tether.store import SqlStore
    from tether.store.account_ops import TokenRecord

users_app = typer.Typer(
    help="Add, list, disable and enable the team server's users.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="Create, list and revoke the API tokens of the team server's users.",
    no_args_is_help=True,
)
workspaces_app = typer.Typer(
    help="Add and list the team server's workspaces, and give users roles in them.",
    no_args_is_help=True,
)

STORE_OPTION = typer.Option(
    None,
    "--store",
    help="The server's database: sqlite:///PATH or postgresql://USER@HOST/DB. "
    "Default: TETHER_STORE, else tether.db in TETHER_HOME (.tether).",
)
FORMAT_OPTION = typer.Option("table", "--format", help="table or json.")


def open_server_store(url: str | None) -> SqlStore:
    """Return the store at ``url``, or the configured one; reject a server's HTTP address."""
    from tether.config import STORE_ENV, resolve
    from tether.store import get_store

    settings = resolve(store=url)
    if settings.remote:
        source = "--store" if url else STORE_ENV
        address = _without_credentials(settings.store_url)
        raise ConfigError(
            f"{source} is a Tether server's address ({address}), but accounts are "
            "changed in the server's database: run this command on the server's "
            "machine with --store sqlite:///PATH or --store postgresql://USER@HOST/DB, "
            "the database the server was started with",
            setting=source,
            value=address,
        )
    return get_store(settings)


def _without_credentials(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _actor() -> str:
    from tether.config import current_user

    return current_user()


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- users -----------------------------------------------------------------


@users_app.command("add")
def add_user_command(
    name: str = typer.Argument(..., help="The user's name."),
    admin: bool = typer.Option(
        False, "--admin", help="Make the user a server admin, who manages accounts."
    ),
    store: str | None = STORE_OPTION,
) -> None:
    """Add a user; a user sees a workspace once granted a role in it."""
    user = open_server_store(store).add_user(name, admin=admin, actor=_actor())
    kind = "server admin" if user.admin else "user"
    typer.echo(
        f"added {kind} {user.name}; give it a token with `tether tokens create "
        f"{user.name}` and a role with `tether workspaces grant WORKSPACE "
        f"{user.name} ROLE`"
    )


@users_app.command("list")
def list_users_command(
    output_format: str = FORMAT_OPTION,
    store: str | None = STORE_OPTION,
) -> None:
    """List users with their roles in workspaces."""
    check_format(output_format, ("table", "json"))
    opened = open_server_store(store)
    roles: dict[str, list[str]] = {}
    for membership in opened.memberships():
        roles.setdefault(membership.user, []).append(
            f"{membership.workspace}:{membership.role}"
        )
    users = opened.list_users()
    if output_format == "json":
        print_json(
            [
                {
                    "name": user.name,
                    "admin": user.admin,
                    "disabled": user.disabled,
                    "created_at": _iso(user.created_at),
                    "roles": roles.get(user.name, []),
                }
                for user in users
            ]
        )
        return
    rows = [
        [
            user.name,
            _yes(user.admin),
            _yes(user.disabled),
            _time(user.created_at),
            ", ".join(roles.get(user.name, [])),
        ]
        for user in users
    ]
    table(
        "users (times in UTC)", ["name", "admin", "disabled", "created", "roles"], rows
    )


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


@users_app.command("disable")
def disable_user_command(
    name: str = typer.Argument(..., help="The user's name."),
    store: str | None = STORE_OPTION,
) -> None:
    """Disable a user: the server rejects every token of the user until enabled."""
    open_server_store(store).set_user_disabled(name, True, actor=_actor())
    typer.echo(
        f"disabled user {name}; its tokens are rejected until "
        f"`tether users enable {name}`"
    )


@users_app.command("enable")
def enable_user_command(
    name: str = typer.Argument(..., help="The user's name."),
    store: str | None = STORE_OPTION,
) -> None:
    """Enable a disabled user: its tokens that are neither revoked nor expired work again."""
    open_server_store(store).set_user_disabled(name, False, actor=_actor())
    typer.echo(f"enabled user {name}")


# -- tokens ----------------------------------------------------------------


@tokens_app.command("create")
def create_token_command(
    user: str = typer.Argument(..., help="The user the token authenticates as."),
    name: str = typer.Option(
        "", "--name", help="A label for the token, such as the machine that uses it."
    ),
    expires_days: int | None = typer.Option(
        None,
        "--expires-days",
        min=1,
        help="Days until the token expires. Default: it never expires.",
    ),
    store: str | None = STORE_OPTION,
) -> None:
    """Create a token and print its secret, which is shown only this once.

    The secret is the only line on standard output, so a script can capture
    it; the rest goes to standard error.
    """
    from datetime import timedelta

    from tether.store.time import utcnow

    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    token, secret = open_server_store(store).create_token(
        user, name=name, expires_at=expires_at, actor=_actor()
    )
    expiry = f"expires {_time(token.expires_at)} UTC" if expires_at else "never expires"
    typer.echo(f"created token {token.id} for {token.user}; it {expiry}", err=True)
    typer.echo(secret)
    typer.echo(
        "copy the token now: the server stores only its hash and cannot show it "
        "again; send it as `Authorization: Bearer TOKEN` or set TETHER_TOKEN",
        err=True,
    )


@tokens_app.command("list")
def list_tokens_command(
    user: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
    output_format: str = FORMAT_OPTION,
    store: str | None = STORE_OPTION,
) -> None:
    """List tokens, revoked and expired ones included; secrets are never shown."""
    from tether.store.time import utcnow

    check_format(output_format, ("table", "json"))
    now = utcnow()
    tokens = open_server_store(store).list_tokens(user)
    if output_format == "json":
        print_json([_token_json(token, now) for token in tokens])
        return
    columns = ["id", "user", "name", "state", "created", "expires", "last used"]
    rows = [
        [
            token.id,
            token.user,
            token.name,
            _token_state(token, now),
            _time(token.created_at),
            _time(token.expires_at),
            _time(token.last_used_at),
        ]
        for token in tokens
    ]
    table("tokens (times in UTC)", columns, rows)


def _token_state(token: TokenRecord, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _token_json(token: TokenRecord, now: datetime) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": token.user,
        "name": token.name,
        "state": _token_state(token, now),
        "created_at": _iso(token.created_at),
        "expires_at": _iso(token.expires_at),
        "last_used_at": _iso(token.last_used_at),
        "revoked_at": _iso(token.revoked_at),
    }


@tokens_app.command("revoke")
def revoke_token_command(
    token_id: str = typer.Argument(
        ..., help="The token's id, from `tether tokens list`."
    ),
    store: str | None = STORE_OPTION,
) -> None:
    """Revoke a token: the server rejects it from the next request on."""
    open_server_store(store).revoke_token(token_id, actor=_actor())
    typer.echo(f"revoked token {token_id}")


# -- workspaces --------------------------------------------------------------


@workspaces_app.command("add")
def add_workspace_command(
    name: str = typer.Argument(..., help="The workspace's name."),
    description: str = typer.Option("", "--description", help="What it is for."),
    store: str | None = STORE_OPTION,
) -> None:
    """Add a workspace, with its own runs, data sets, models and artifacts."""
    workspace = open_server_store(store).add_workspace(
        name, description=description, actor=_actor()
    )
    typer.echo(
        f"added workspace {workspace.name}; give users roles in it with "
        f"`tether workspaces grant {workspace.name} USER ROLE`"
    )


@workspaces_app.command("list")
def list_workspaces_command(
    output_format: str = FORMAT_OPTION,
    store: str | None = STORE_OPTION,
) -> None:
    """List workspaces with their number of members."""
    check_format(output_format, ("table", "json"))
    opened = open_server_store(store)
    members: dict[str, int] = {}
    for membership in opened.memberships():
        members[membership.workspace] = members.get(membership.workspace, 0) + 1
    workspaces = opened.list_workspaces()
    if output_format == "json":
        print_json(
            [
                {
                    "name": workspace.name,
                    "description": workspace.description,
                    "members": members.get(workspace.name, 0),
                    "created_at": _iso(workspace.created_at),
                }
                for workspace in workspaces
            ]
        )
        return
    rows = [
        [
            workspace.name,
            workspace.description,
            members.get(workspace.name, 0),
            _time(workspace.created_at),
        ]
        for workspace in workspaces
    ]
    table(
        "workspaces (times in UTC)", ["name", "description", "members", "created"], rows
    )


@workspaces_app.command("grant")
def grant_command(
    workspace: str = typer.Argument(..., help="The workspace's name."),
    user: str = typer.Argument(..., help="The user's name."),
    role: str = typer.Argument(..., help="viewer, editor or admin."),
    store: str | None = STORE_OPTION,
) -> None:
    """Give a user a role in a workspace, replacing the role it had there."""
    open_server_store(store).grant(user, workspace, role, actor=_actor())
    typer.echo(f"{user} is now {role} in workspace {workspace}")


@workspaces_app.command("revoke")
def revoke_command(
    workspace: str = typer.Argument(..., help="The workspace's name."),
    user: str = typer.Argument(..., help="The user's name."),
    store: str | None = STORE_OPTION,
) -> None:
    """Remove a user's role in a workspace; the workspace is then hidden from the user."""
    open_server_store(store).revoke(user, workspace, actor=_actor())
    typer.echo(f"removed the role of {user} in workspace {workspace}")


@workspaces_app.command("members")
def members_command(
    workspace: str = typer.Argument(..., help="The workspace's name."),
    output_format: str = FORMAT_OPTION,
    store: str | None = STORE_OPTION,
) -> None:
    """List the users with a role in a workspace."""
    check_format(output_format, ("table", "json"))
    opened = open_server_store(store)
    disabled = {user.name for user in opened.list_users() if user.disabled}
    members = opened.memberships(workspace=workspace)
    if output_format == "json":
        print_json(
            [
                {
                    "user": member.user,
                    "role": member.role,
                    "disabled": member.user in disabled,
                }
                for member in members
            ]
        )
        return
    rows = [
        [member.user, member.role, _yes(member.user in disabled)] for member in members
    ]
    table(f"members of {workspace}", ["user", "role", "disabled"], rows)
