"""Read the dataset versions that model tests run on, straight from the store.

The import-linter contract keeps ``tether.models`` and ``tether.data``
independent, so this module reads a version's record and blob through the
store and the object folder. It reads the table formats that
``tether.data.register`` stores: Parquet, CSV (also zipped), JSON and JSON
Lines.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

from tether.artifacts import get_objects
from tether.artifacts.materializers import PARQUET
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.errors import ConfigError, DataError
from tether.store import get_store
from tether.store.records import DatasetVersionRecord
from tether.uris import parse_dataset_uri

if TYPE_CHECKING:
    import pandas as pd


def resolve_dataset(uri: str) -> DatasetVersionRecord:
    """Return the version that ``datasets:/NAME@VERSION`` (or ``datasets:/NAME``) names.

    Raises:
        InvalidURIError: the text is not a dataset URI.
        ConfigError: the URI names a tag rather than a version number.
        NotFoundError: the dataset or version does not exist.
    """
    ref = parse_dataset_uri(uri)
    if ref.ref is not None and not ref.ref.isdigit():
        raise ConfigError(
            f"dataset tags are not supported in {uri!r}; use datasets:/NAME@VERSION",
            setting="dataset",
            value=uri,
        )
    version = int(ref.ref) if ref.ref is not None else None
    return get_store().get_dataset_version(ref.name, version)


def column_names(record: DatasetVersionRecord) -> list[str]:
    """Return the column names that the version's stored schema lists."""
    return [str(column["name"]) for column in record.schema]


def load_frame(record: DatasetVersionRecord) -> pd.DataFrame:
    """Load a table version as a DataFrame.

    Raises:
        DataError: the version is a set of files rather than a table.
    """
    import pandas as pd

    if record.media_type == MANIFEST_MEDIA_TYPE:
        raise DataError(
            f"{record.uri} is a set of files, not a table; model tests need a table "
            "with the model's input columns",
            source=record.uri,
        )
    buffer = io.BytesIO(get_objects().read_bytes(record.object_digest))
    if record.media_type == PARQUET:
        return pd.read_parquet(buffer)
    if record.media_type == "application/json":
        return pd.read_json(buffer)
    if record.media_type == "application/x-ndjson":
        return pd.read_json(buffer, lines=True)
    compression: Literal["zip"] | None = (
        "zip" if record.media_type == "application/zip" else None
    )
    return pd.read_csv(buffer, compression=compression, low_memory=False)
