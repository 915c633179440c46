"""Pytest fixtures: an isolated Tether home, and a PostgreSQL store per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tether import config

POSTGRES_ENV = "TETHER_TEST_POSTGRES_URL"


def _reset() -> None:
    from tether.artifacts import _objects
    from tether.store import reset_store
    from tether.tracking.writer import reset_writers

    reset_writers()
    reset_store()
    for objects in _objects.values():
        close = getattr(objects, "close", None)
        if close is not None:
            close()
    _objects.clear()


SERVER_TESTS_ENV = "TETHER_TEST_STORE"


@pytest.fixture
def tether_home(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point Tether at an empty SQLite store and object folder under ``tmp_path``.

    With ``TETHER_TEST_STORE=http`` the store is a new workspace of the
    session's Tether server instead, reached over HTTP, so the same tests
    check the SDK against a server.
    """
    home = tmp_path / ".tether"
    monkeypatch.setenv(config.HOME_ENV, str(home))
    monkeypatch.delenv(config.STORE_ENV, raising=False)
    monkeypatch.delenv(config.ARTIFACTS_ENV, raising=False)
    if os.environ.get(SERVER_TESTS_ENV) == "http":
        server: ServerHandle = request.getfixturevalue("tether_server")
        monkeypatch.setenv(config.STORE_ENV, server.url)
        monkeypatch.setenv(config.WORKSPACE_ENV, server.new_workspace())
        monkeypatch.setenv(config.TOKEN_ENV, server.admin_token)
    _reset()
    yield home
    _reset()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Create a fresh PostgreSQL schema, yield its URL and drop it after the test.

    Skips the test when ``TETHER_TEST_POSTGRES_URL`` is not set.
    """
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(
            f"{POSTGRES_ENV} is not set; set it to a PostgreSQL URL to run this test"
        )
    from sqlalchemy import create_engine, text

    schema = f"tether_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        # A Tether server on this store keeps each workspace in a schema named
        # after this one (see tether.server.workspaces).
        prefix = f"{schema}_ws_"
        workspaces = conn.execute(
            text(
                "SELECT schema_name FROM information_schema.schemata "
                "WHERE left(schema_name, :n) = :prefix"
            ),
            {"n": len(prefix), "prefix": prefix},
        ).scalars()
        for name in [schema, *workspaces]:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


SQL_ONLY_MARK = "sql_store"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker of tests that need the SQL store itself."""
    config.addinivalue_line(
        "markers",
        f"{SQL_ONLY_MARK}: the test needs a database store, so the store_url "
        "fixture gives it no Tether server",
    )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Leave out the server variant of tests marked ``sql_store``."""
    all_on_server = os.environ.get(SERVER_TESTS_ENV) == "http"
    kept, dropped = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        on_server = all_on_server or (
            spec is not None and spec.params.get("store_url") == "http"
        )
        if on_server and item.get_closest_marker(SQL_ONLY_MARK):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def tether_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """Start one real Tether server (auth on) on a loopback port for the session."""
    from tether.server.settings import ServerSettings
    from tether.server.setup import init_server
    from tether.testing.server import start_server

    root = tmp_path_factory.mktemp("tether-server")
    settings = ServerSettings(
        store_url=f"sqlite:///{root / 'tether.db'}",
        artifacts_root=str(root / "objects"),
        auth=True,
    )
    token = init_server(settings.store_url, "admin")
    running = start_server(settings)
    yield ServerHandle(running.url, token, running.app.state.server, running.app)
    running.stop()


@dataclass(frozen=True)
class ServerHandle:
    """The session's server: its URL, an admin token, its state and its app."""

    url: str
    admin_token: str
    state: Any
    app: Any = None

    def new_workspace(self) -> str:
        """Create an empty workspace with a unique name and return the name."""
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.state.control.add_workspace(name, actor="tests")
        return name


@pytest.fixture(params=["sqlite", "postgresql", "http"])
def store_url(
    request: pytest.FixtureRequest, tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Return the URL of an empty store: SQLite, PostgreSQL when configured, and a
    Tether server (a new workspace of the session's server, reached over HTTP).

    Mark a test ``sql_store`` to leave out the server.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tether_home / 'tether.db'}"
    elif request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        server: ServerHandle = request.getfixturevalue("tether_server")
        url = server.url
        monkeypatch.setenv(config.WORKSPACE_ENV, server.new_workspace())
        monkeypatch.setenv(config.TOKEN_ENV, server.admin_token)
    monkeypatch.setenv(config.STORE_ENV, url)
    _reset()
    return url
