"""SQL acquisition on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import socket
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, make_url, text

import tether
from tether.data.acquisition import acquire_sql
from tether.errors import ConfigError, DataError
from tether.store import get_store

QUERY = "SELECT * FROM penguins ORDER BY rowid"
PG_QUERY = (
    "SELECT species, island, bill_length_mm::float8 AS bill, year FROM penguins "
    "WHERE species LIKE '%e%' AND '12:30' = '12:30' ORDER BY id"
)


def penguins() -> pd.DataFrame:
    relative = "palmerpenguins/data/penguins.csv"
    path = Path(str(metadata.distribution("palmerpenguins").locate_file(relative)))
    return pd.read_csv(path)


def count_blobs(home: Path) -> int:
    return sum(1 for path in (home / "objects").rglob("*") if path.is_file())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'penguins db.sqlite'}"
    engine = create_engine(url)
    penguins().to_sql("penguins", engine, index=False)
    engine.dispose()
    return url


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sqlite_query(tether_home: Path, sqlite_url: str) -> None:
    acquired = acquire_sql("penguins", sqlite_url, QUERY)
    version = acquired.version
    assert acquired.new is True
    assert version.rows == 344
    assert version.media_type == "application/vnd.apache.parquet"
    assert version.source == {
        "type": "sql",
        "url": sqlite_url,
        "dialect": "sqlite",
        "query": QUERY,
    }
    loaded = tether.data.load(version)
    assert loaded["species"].tolist() == penguins()["species"].tolist()


def test_sqlite_reacquire_unchanged(tether_home: Path, sqlite_url: str) -> None:
    first = acquire_sql("penguins", sqlite_url, QUERY)
    blobs = count_blobs(tether_home)
    second = acquire_sql("penguins", sqlite_url, QUERY)
    assert second.new is False
    assert second.version.id == first.version.id
    assert second.version.digest == first.version.digest
    assert count_blobs(tether_home) == blobs


def test_sqlite_new_rows_new_version(tether_home: Path, sqlite_url: str) -> None:
    acquire_sql("penguins", sqlite_url, QUERY)
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM penguins WHERE year = 2009"))
    engine.dispose()
    second = acquire_sql("penguins", sqlite_url, QUERY)
    assert second.new is True
    assert second.version.version == 2
    assert second.version.rows == 344 - 120


@pytest.mark.parametrize("statement", ["DELETE FROM penguins", "DROP TABLE penguins"])
def test_sqlite_writes_rejected(
    tether_home: Path, sqlite_url: str, statement: str
) -> None:
    with pytest.raises(DataError) as caught:
        acquire_sql("gone", sqlite_url, statement)
    assert str(caught.value) == (
        f"the query on {sqlite_url} failed: attempt to write a readonly database; "
        "fix the query and acquire again"
    )
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM penguins")).scalar() == 344
    engine.dispose()


def test_statement_without_rows(tether_home: Path, sqlite_url: str) -> None:
    with pytest.raises(DataError) as caught:
        acquire_sql("pragma", sqlite_url, "PRAGMA query_only = 1")
    assert str(caught.value) == (
        f"the query on {sqlite_url} returned no result set; pass a statement that "
        "returns rows, such as SELECT"
    )


def test_bad_query(tether_home: Path, sqlite_url: str) -> None:
    with pytest.raises(DataError) as caught:
        acquire_sql("penguins", sqlite_url, "SELECT * FROM pinguins")
    message = str(caught.value)
    assert message.startswith(f"the query on {sqlite_url} failed: ")
    assert "no such table: pinguins" in message
    assert message.endswith("; fix the query and acquire again")
    assert get_store().latest_dataset_version("penguins") is None


def test_duplicate_column_names(tether_home: Path, sqlite_url: str) -> None:
    with pytest.raises(DataError, match=r"\['year'\] more than once"):
        acquire_sql("penguins", sqlite_url, "SELECT year, year FROM penguins")


def test_empty_query(tether_home: Path, sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="the SQL query is empty"):
        acquire_sql("penguins", sqlite_url, "  ")


def test_invalid_url(tether_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        acquire_sql("penguins", "not a url", QUERY)
    assert str(caught.value).startswith("invalid database URL not a url: ")


def test_unknown_dialect(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match="no SQLAlchemy dialect for nosuchdb://"):
        acquire_sql("penguins", "nosuchdb://127.0.0.1/db", QUERY)


def test_missing_driver(tether_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        acquire_sql("penguins", "postgresql+pg8000://u:pw@127.0.0.1/db", QUERY)
    message = str(caught.value)
    assert "the database driver for postgresql+pg8000://u:***@127.0.0.1/db" in message
    assert "pw@" not in message


def test_unreachable_server_hides_password(tether_home: Path) -> None:
    url = f"postgresql+psycopg://reader:s3cret@127.0.0.1:{closed_port()}/test"
    with pytest.raises(DataError) as caught:
        acquire_sql("penguins", url, QUERY)
    message = str(caught.value)
    masked_url = make_url(url).render_as_string(hide_password=True)
    assert message.startswith(f"cannot connect to {masked_url}: ")
    assert "s3cret" not in message
    assert message.endswith(
        "; check the host, port, database name and credentials in the URL"
    )


def test_postgresql_query(tether_home: Path, postgres_url: str) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    frame = penguins().reset_index(names="id")
    frame.to_sql("penguins", engine, index=False)
    engine.dispose()
    with_password = url.replace("postgres@", "postgres:s3cret@", 1)
    acquired = acquire_sql("penguins", with_password, PG_QUERY)
    version = acquired.version
    expected = frame[frame["species"].str.contains("e")]
    assert acquired.new is True
    assert version.rows == len(expected)
    assert version.source["dialect"] == "postgresql"
    assert version.source["query"] == PG_QUERY
    assert "postgres:***@127.0.0.1" in version.source["url"]
    assert "s3cret" not in version.source["url"]
    loaded = tether.data.load(version)
    assert list(loaded.columns) == ["species", "island", "bill", "year"]
    assert loaded["island"].tolist() == expected["island"].tolist()
    again = acquire_sql("penguins", with_password, PG_QUERY)
    assert again.new is False
    assert again.version.id == version.id


def test_postgresql_writes_rejected(tether_home: Path, postgres_url: str) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    penguins().to_sql("penguins", engine, index=False)
    with pytest.raises(
        DataError, match="cannot execute DELETE in a read-only transaction"
    ):
        acquire_sql("gone", url, "DELETE FROM penguins RETURNING species")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM penguins")).scalar() == 344
    engine.dispose()
