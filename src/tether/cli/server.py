"""``tether server``: run the team server, and ``tether server init`` for its first admin."""

from __future__ import annotations

import typer

from tether.cli.render import console

app = typer.Typer(
    help="The team server: the store's operations over HTTP and the web UI.",
    invoke_without_command=True,
)

STORE_HELP = (
    "The server's database: sqlite:///PATH or postgresql://USER@HOST/DB. "
    "Default: TETHER_STORE, else .tether/tether.db."
)


@app.callback()
def server_command(
    ctx: typer.Context,
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
    artifacts: str | None = typer.Option(
        None,
        "--artifacts",
        help="Where the server keeps blobs: a folder, or s3://BUCKET/PREFIX. "
        "Default: TETHER_ARTIFACTS, else .tether/objects.",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8765, min=1, max=65535, help="TCP port to listen on."),
    auth: bool | None = typer.Option(
        None,
        "--auth/--no-auth",
        help="Check tokens. Default: on, except when listening on loopback only.",
    ),
    max_upload_bytes: int = typer.Option(
        5 * 1024**3, "--max-upload-bytes", help="Largest artifact blob accepted."
    ),
) -> None:
    """Run the team server (with no subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    from tether.server.runner import check_has_users, check_settings, run_server
    from tether.server.settings import ServerSettings, auth_default

    settings = ServerSettings(
        store_url=_store_url(store),
        artifacts_root=_artifacts(artifacts),
        auth=auth_default(host) if auth is None else auth,
        max_upload_bytes=max_upload_bytes,
    )
    check_settings(settings, host)
    check_has_users(settings)
    console.print(
        f"Tether server on http://{host}:{port} (auth {'on' if settings.auth else 'off'})"
    )
    run_server(settings, host, port)


@app.command("init")
def init_command(
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
    admin: str = typer.Option("admin", "--admin", help="Name of the first admin user."),
) -> None:
    """Create the first admin user and print its token once."""
    from tether.server.setup import init_server

    secret = init_server(_store_url(store), admin)
    console.print(f"Created admin user {admin!r}. Its token (shown only now):")
    typer.echo(secret)


def _store_url(store: str | None) -> str:
    from tether.config import resolve

    return resolve(store=store).store_url


def _artifacts(artifacts: str | None) -> str:
    from tether.config import resolve

    return resolve(artifacts=artifacts).artifacts_url
