"""Register data as dataset versions and load them back.

A version is immutable and known by the BLAKE3 digest of its content: the
file's bytes for a file, the Parquet encoding for a DataFrame. Registering
unchanged content again returns the latest version and copies nothing.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tether.artifacts import get_objects
from tether.artifacts.materializers import PARQUET, to_bytes
from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.data.profiles import profile as profile_of
from tether.data.profiles import schema_of
from tether.data.readers import MEDIA_TYPES, media_type_of, read_table
from tether.errors import ConfigError, DataError
from tether.store import get_store
from tether.store.records import DatasetVersionRecord, Edge
from tether.uris import NAME_PATTERN, parse_dataset_uri

if TYPE_CHECKING:
    import pandas as pd

    from tether.active import RunLike as Run

logger = logging.getLogger(__name__)

DatasetVersion = DatasetVersionRecord
MAX_DATASET_NAME_LENGTH = 250  # the length of the datasets.name column

# The file suffix of each table media type, for writing a version back to a file.
SUFFIXES = {media_type: suffix for suffix, media_type in MEDIA_TYPES.items()}


def register(
    name: str,
    data: pd.DataFrame | str | Path,
    *,
    run: Run | None = None,
    role: str = "input",
    source: Mapping[str, Any] | None = None,
    parents: Sequence[DatasetVersionRecord] = (),
    expected_latest: int | None = None,
) -> DatasetVersionRecord:
    """Register a file or a DataFrame as a version of dataset ``name``.

    Args:
        name: the dataset's name, e.g. ``"flights"``.
        data: a path to a CSV, zipped CSV, Parquet or JSON file, or a DataFrame.
        run: the run that read or produced the data; defaults to the active run.
        role: ``"input"`` when the run read the data, ``"output"`` when it made it.
        source: where the data came from (package, URL, query), kept for lineage.
        parents: versions this data was derived from.
        expected_latest: the version number the data was built from (0 for
            none); the version is added only if that is still the latest, else
            :class:`~tether.errors.VersionConflictError` is raised.

    Returns:
        The new version, or the latest one when the content is unchanged.

    Raises:
        ConfigError: ``data`` is neither a DataFrame nor a file path, or
            ``name`` or ``role`` is invalid.
        DataError: the DataFrame has duplicate column names, or the file is
            missing or cannot be parsed.
    """
    from tether.active import current

    _check_role(role)
    run = run or current()
    frame, payload, media_type, source_record = _load_input(data, source)
    blob = get_objects().put_bytes(payload, media_type)
    record, _ = add_version(
        name,
        VersionContent(
            digest=blob.digest,
            object_digest=blob.digest,
            media_type=media_type,
            rows=len(frame),
            size=blob.size,
            schema=schema_of(frame),
            profile=profile_of(frame),
        ),
        source=source_record,
        run=run,
        role=role,
        parents=parents,
        expected_latest=expected_latest,
    )
    return record


@dataclass(frozen=True)
class VersionContent:
    """Content of a dataset version: digests, media type, size, schema and profile.

    ``digest`` identifies the content and decides whether a version is new.
    ``object_digest`` names the blob to read back, and must already be stored.
    """

    digest: str
    object_digest: str
    media_type: str
    rows: int | None
    size: int
    schema: list[dict[str, Any]]
    profile: dict[str, Any]


def add_version(
    name: str,
    content: VersionContent,
    *,
    source: Mapping[str, Any],
    run: Run | None,
    role: str = "input",
    parents: Sequence[DatasetVersionRecord] = (),
    expected_latest: int | None = None,
) -> tuple[DatasetVersionRecord, bool]:
    """Add a version of dataset ``name`` whose blobs are already stored, and link it.

    Returns:
        The version and whether it was created. When the latest version has
        the same digest, that version is returned with False, and it is still
        linked to ``run``.
    """
    _check_role(role)
    check_dataset_name(name)
    record, created = get_store().add_dataset_version(
        name,
        digest=content.digest,
        object_digest=content.object_digest,
        media_type=content.media_type,
        rows=content.rows,
        size=content.size,
        schema=content.schema,
        profile=content.profile,
        source=dict(source),
        run_id=run.id if run else None,
        expected_latest=expected_latest,
    )
    link_version(record, run, role, parents)
    logger.info(
        "%s %s (%s rows, digest %s)",
        "registered" if created else "unchanged",
        record.uri,
        record.rows,
        record.digest[:12],
    )
    return record, created


def load(reference: str | DatasetVersionRecord) -> pd.DataFrame:
    """Load a dataset version as a DataFrame from ``datasets:/name@3`` or a record."""
    record = _record_of(reference)
    if record.media_type == MANIFEST_MEDIA_TYPE:
        raise DataError(
            f"{record.uri} is a set of files, not a table; write its files to a "
            f"folder with tether.data.load_files({record.uri!r}, FOLDER)",
            source=record.uri,
        )
    data = get_objects().read_bytes(record.object_digest)
    return _frame_from_bytes(data, record.media_type)


def load_files(reference: str | DatasetVersionRecord, target: str | Path) -> Path:
    """Write the files of a file-set version under folder ``target`` and return it.

    A table version is written as one file named after the dataset.
    """
    record = _record_of(reference)
    objects = get_objects()
    target = Path(target)
    if record.media_type == MANIFEST_MEDIA_TYPE:
        return objects.get_dir(record.object_digest, target)
    suffix = SUFFIXES.get(record.media_type, "")
    target.mkdir(parents=True, exist_ok=True)
    destination = target / f"{record.name}{suffix}"
    destination.write_bytes(objects.read_bytes(record.object_digest))
    return target


def resolve(uri: str) -> DatasetVersionRecord:
    """Return the version a ``datasets:/`` URI (or a bare name) points at."""
    ref = parse_dataset_uri(uri if uri.startswith("datasets:/") else f"datasets:/{uri}")
    version = int(ref.ref) if ref.ref and ref.ref.isdigit() else None
    if ref.ref and version is None:
        raise ConfigError(
            f"dataset tags are not supported yet in {uri!r}; use datasets:/NAME@VERSION",
            setting="uri",
            value=uri,
        )
    return get_store().get_dataset_version(ref.name, version)


def _record_of(reference: str | DatasetVersionRecord) -> DatasetVersionRecord:
    if isinstance(reference, DatasetVersionRecord):
        return reference
    return resolve(reference)


def _load_input(
    data: pd.DataFrame | str | Path, source: Mapping[str, Any] | None
) -> tuple[pd.DataFrame, bytes, str, dict[str, Any]]:
    import pandas as pd

    extra = dict(source or {})
    if isinstance(data, pd.DataFrame):
        _require_unique_columns(data)
        payload, _, media_type = to_bytes(data)
        return data, payload, media_type, {"type": "dataframe", **extra}
    if not isinstance(data, str | os.PathLike):
        got = "None" if data is None else type(data).__qualname__
        raise ConfigError(
            "data must be a pandas DataFrame or a file path, got "
            f"{got}; {_conversion_hint(data)}",
            setting="data",
            value=got,
        )
    path = Path(data)
    media_type = media_type_of(path)
    frame = read_table(path, media_type)
    stat = path.stat()
    record = {
        "type": "file",
        "path": str(path.absolute()),
        "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
        **extra,
    }
    return frame, path.read_bytes(), media_type, record


def _conversion_hint(data: Any) -> str:
    """Return how to turn ``data`` into something :func:`register` accepts."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.Series):
        return "pass series.to_frame() for one column"
    if isinstance(data, np.ndarray):
        return "pass pd.DataFrame(array, columns=[...]) with a name for each column"
    if isinstance(data, Mapping):
        return "pass pd.DataFrame(data) to make a column of each key"
    return "pass a pandas DataFrame, or the path of a CSV, Parquet or JSON file"


def _require_unique_columns(frame: pd.DataFrame) -> None:
    """Raise DataError when two columns share a name, which Parquet cannot store."""
    repeated = frame.columns[frame.columns.duplicated()].unique()
    if len(repeated):
        names = ", ".join(repr(name) for name in repeated)
        raise DataError(
            f"the DataFrame has duplicate column names ({names}), which Parquet "
            "cannot store; rename the columns so that each name is unique, or keep "
            "the first of each with frame.loc[:, ~frame.columns.duplicated()]"
        )


def _frame_from_bytes(data: bytes, media_type: str) -> pd.DataFrame:
    import pandas as pd

    buffer = io.BytesIO(data)
    if media_type == PARQUET:
        return pd.read_parquet(buffer)
    if media_type == "application/json":
        return pd.read_json(buffer)
    if media_type == "application/x-ndjson":
        return pd.read_json(buffer, lines=True)
    compression: Literal["zip"] | None = (
        "zip" if media_type == "application/zip" else None
    )
    return pd.read_csv(buffer, compression=compression, low_memory=False)


def link_version(
    record: DatasetVersionRecord,
    run: Run | None,
    role: str = "input",
    parents: Sequence[DatasetVersionRecord] = (),
) -> None:
    """Record that ``run`` read (or made) ``record``, and what it derives from."""
    store = get_store()
    if run is not None:
        if role == "input":
            store.add_edge(Edge("dataset_version", record.id, "run", run.id, "input"))
        else:
            store.add_edge(Edge("run", run.id, "dataset_version", record.id, "output"))
    for parent in parents:
        store.add_edge(
            Edge("dataset_version", parent.id, "dataset_version", record.id, "derived")
        )


def check_dataset_name(name: str) -> None:
    """Reject a dataset name that a ``datasets:/NAME@VERSION`` URI cannot address.

    Raises:
        ConfigError: ``name`` is not text, is longer than 250 characters, or
            is not ASCII letters, digits, ``.``, ``_`` and ``-`` starting with
            a letter or digit.
    """
    problem = ""
    if not isinstance(name, str) or not name.strip():
        problem = "a name needs at least one letter or digit"
    elif len(name) > MAX_DATASET_NAME_LENGTH:
        problem = f"a name has at most {MAX_DATASET_NAME_LENGTH} characters"
    elif "@" in name or "/" in name:
        problem = "'@' and '/' separate the parts of a dataset URI"
    elif re.fullmatch(NAME_PATTERN, name) is None:
        problem = (
            "a datasets:/ URI can only address names of ASCII letters, digits, "
            "'.', '_' and '-' that start with a letter or digit"
        )
    if problem:
        raise ConfigError(
            f"invalid dataset name {name!r}: {problem}; use letters, digits, '-', "
            "'_' or '.', for example 'flights-raw'",
            setting="name",
            value=name,
        )


def _check_role(role: str) -> None:
    if role not in ("input", "output"):
        raise ConfigError(
            f"invalid dataset role {role!r}; use 'input' or 'output'",
            setting="role",
            value=role,
        )
