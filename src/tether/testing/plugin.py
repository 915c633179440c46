"""Pytest fixtures: an isolated Tether home, and a PostgreSQL store per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
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
    _objects.clear()


@pytest.fixture
def tether_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point Tether at an empty SQLite store and object folder under ``tmp_path``."""
    home = tmp_path / ".tether"
    monkeypatch.setenv(config.HOME_ENV, str(home))
    monkeypatch.delenv(config.STORE_ENV, raising=False)
    monkeypatch.delenv(config.ARTIFACTS_ENV, raising=False)
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
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Return the URL of an empty store: SQLite, then PostgreSQL when configured."""
    if request.param == "sqlite":
        url = f"sqlite:///{tether_home / 'tether.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv(config.STORE_ENV, url)
    _reset()
    return url
