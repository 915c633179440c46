"""Acquire the result of a SQL query through any SQLAlchemy database URL.

The query runs on a connection that is rolled back and closed afterwards.
On SQLite (``PRAGMA query_only``) and PostgreSQL (a read-only transaction)
a statement that writes fails. The result is stored as Parquet. The
version's source records the URL with its password masked, the dialect and
the query text. A query returns the same digest only for the same rows in
the same order, so give it an ``ORDER BY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.artifacts import get_objects
from tether.artifacts.materializers import PARQUET, to_bytes
from tether.data.acquisition.redaction import redact_url
from tether.data.acquisition.registration import Acquired
from tether.data.versions import VersionContent, add_version
from tether.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Connection, Engine

    from tether.active import RunLike as Run


def acquire_sql(
    name: str,
    url: str,
    query: str,
    *,
    run: Run | None = None,
    role: str = "input",
) -> Acquired:
    """Run ``query`` on the database at ``url`` and register its result as ``name``.

    Args:
        name: the dataset's name.
        url: a SQLAlchemy URL, e.g. ``sqlite:///shop.db`` or
            ``postgresql+psycopg://user:password@host/db``.
        query: one statement that returns rows, passed to the driver as written.
        run: the run that reads the data; linked as its input.
        role: ``"input"`` or ``"output"`` of ``run``.
    """
    from tether.data.profiles import profile, schema_of

    if not query.strip():
        raise ConfigError(
            "the SQL query is empty; pass a statement that returns rows, e.g. "
            "SELECT * FROM flights ORDER BY id",
            setting="query",
            value=query,
        )
    engine, masked_url = _engine(url)
    try:
        frame = _read(engine, masked_url, query)
    finally:
        engine.dispose()
    payload, _, _ = to_bytes(frame)
    blob = get_objects().put_bytes(payload, PARQUET)
    content = VersionContent(
        digest=blob.digest,
        object_digest=blob.digest,
        media_type=PARQUET,
        rows=len(frame),
        size=blob.size,
        schema=schema_of(frame),
        profile=profile(frame),
    )
    source: dict[str, Any] = {
        "type": "sql",
        "url": masked_url,
        "dialect": engine.dialect.name,
        "query": query,
    }
    record, created = add_version(name, content, source=source, run=run, role=role)
    return Acquired(record, created)


def redact_database_url(url: str) -> str:
    """Return a SQLAlchemy URL with its password masked."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return redact_url(url)


def _require_sqlite_file(url: str) -> None:
    """Raise DataError for a SQLite file that does not exist.

    Connecting would create an empty database there, and the query would
    then fail with "no such table", which hides the mistyped path.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if database.startswith("file:") or Path(database).is_file():
        return
    raise DataError(
        f"database file {database} does not exist; check the path in {url!r} "
        "(sqlite:///relative/path or sqlite:////absolute/path)",
        source=database,
    )


def _engine(url: str) -> tuple[Engine, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.pool import NullPool

    masked_url = redact_database_url(url)
    _require_sqlite_file(url)
    try:
        return create_engine(url, poolclass=NullPool), masked_url
    except NoSuchModuleError as exc:
        raise ConfigError(
            f"no SQLAlchemy dialect for {masked_url}: {exc}; use a URL such as "
            "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB, or install the "
            "dialect's package",
            setting="url",
            value=masked_url,
        ) from exc
    except ImportError as exc:
        raise ConfigError(
            f"the database driver for {masked_url} is not installed ({exc.name or exc}); "
            "install it, or name an installed driver in the URL (dialect+driver://)",
            setting="url",
            value=masked_url,
        ) from exc
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"invalid database URL {masked_url}: {_first_line(exc)}; use "
            "dialect+driver://USER:PASSWORD@HOST/DB",
            setting="url",
            value=masked_url,
        ) from exc


def _read(engine: Engine, masked_url: str, query: str) -> pd.DataFrame:
    import pandas as pd
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise DataError(
            f"cannot connect to {masked_url}: {_first_line(exc.orig or exc)}; check the "
            "host, port, database name and credentials in the URL",
            source=masked_url,
        ) from exc
    try:
        with connection:
            _read_only(connection)
            # no_parameters: the driver gets the text as written, so '%' and ':'
            # in the query are not read as parameter placeholders.
            result = connection.execution_options(no_parameters=True).exec_driver_sql(
                query
            )
            if not result.returns_rows:
                raise DataError(
                    f"the query on {masked_url} returned no result set; pass a statement "
                    "that returns rows, such as SELECT",
                    source=masked_url,
                )
            columns = list(result.keys())
            rows = result.fetchall()
    except DBAPIError as exc:
        raise DataError(
            f"the query on {masked_url} failed: {_first_line(exc.orig or exc)}; fix the "
            "query and acquire again",
            source=masked_url,
        ) from exc
    except SQLAlchemyError as exc:
        raise DataError(
            f"the query on {masked_url} failed: {_first_line(exc)}; fix the query and "
            "acquire again",
            source=masked_url,
        ) from exc
    duplicates = sorted({column for column in columns if columns.count(column) > 1})
    if duplicates:
        raise DataError(
            f"the query on {masked_url} returns the column names {duplicates} more than "
            "once; give each column a distinct name with AS",
            source=masked_url,
        )
    # coerce_float: DECIMAL values become floats, as pandas.read_sql_query makes them.
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)


def _read_only(connection: Connection) -> None:
    """Make the connection refuse writes, on the dialects that have a way to.

    NOTE: other dialects rely on the rollback alone, which does not undo DDL
    on databases that commit it at once (MySQL).
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # Python's sqlite3 commits DDL at once, so the rollback alone would not undo it.
        connection.exec_driver_sql("PRAGMA query_only = ON")
    elif dialect == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
