"""Open an MLflow tracking database read-only and find which of its tables exist.

SQLite is opened through a ``mode=ro`` URI, and PostgreSQL (with psycopg 3,
as Tether's own store) in read-only transactions, so an import never writes
to the MLflow database.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, MetaData, Table, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from tether.errors import ConfigError, StoreError

REQUIRED_TABLES = ("experiments", "runs")
KNOWN_TABLES = (
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "registered_models",
    "registered_model_tags",
    "registered_model_aliases",
    "model_versions",
    "model_version_tags",
    "logged_models",
)


def open_engine(url: str) -> Engine:
    """Return a read-only engine on an MLflow database.

    Raises:
        ConfigError: the URL is not a SQLite or PostgreSQL URL, or the SQLite
            file does not exist.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ConfigError(
                f"MLflow database {str(path)!r} not found; pass --from "
                "sqlite:///PATH with the path of MLflow's database file",
                setting="--from",
                value=url,
            )
        # mode=ro: the importer must never write to the MLflow database.
        readonly = f"sqlite:///file:{quote(str(path.absolute()))}?mode=ro&uri=true"
        return create_engine(readonly)
    if url.startswith("postgresql"):
        try:
            target = make_url(url)
        except ArgumentError as exc:
            raise _unsupported(url) from exc
        if target.drivername == "postgresql":
            target = target.set(drivername="postgresql+psycopg")
        return create_engine(target, execution_options={"postgresql_readonly": True})
    raise _unsupported(url)


def _unsupported(url: str) -> ConfigError:
    return ConfigError(
        f"unsupported MLflow database URL {redact(url)!r}; pass --from "
        "sqlite:///PATH or --from postgresql://USER@HOST/DB",
        setting="--from",
        value=redact(url),
    )


def reflect_tables(engine: Engine, url: str) -> dict[str, Table]:
    """Return the MLflow tables that exist in the database, by name.

    Raises:
        StoreError: the database cannot be read or has no MLflow tables.
    """
    try:
        present = set(inspect(engine).get_table_names())
        missing = [name for name in REQUIRED_TABLES if name not in present]
        if missing:
            raise StoreError(
                f"{redact(url)} is not an MLflow tracking database: it has no "
                f"{missing[0]!r} table; pass the database that MLflow's "
                "--backend-store-uri names"
            )
        metadata = MetaData()
        names = [name for name in KNOWN_TABLES if name in present]
        metadata.reflect(engine, only=names)
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", exc)).split())
        raise StoreError(
            f"cannot read the MLflow database {redact(url)}: {reason}; check the URL "
            "and that the database server is running"
        ) from exc
    return {name: metadata.tables[name] for name in names}


def redact(url: str) -> str:
    """Hide a password in a database URL before it reaches a message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]
