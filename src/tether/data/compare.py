"""Compare two dataset versions using only their stored metadata.

:func:`diff` reports schema changes, row counts and the columns whose
statistics moved most, computed from the column profiles stored when the
versions were registered, so it never reads the data itself. How each
column's distance is estimated is described in :mod:`tether.data.distances`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tether.artifacts.objects import MANIFEST_MEDIA_TYPE
from tether.data.catalog import VersionReference, version_of
from tether.data.distances import (
    ks_distance,
    standardized_mean_change,
    top_values_distance,
)
from tether.errors import DataError, NotFoundError
from tether.store.records import DatasetVersionRecord

NUMERIC_TYPES = ("integer", "float")


@dataclass(frozen=True)
class ColumnShift:
    """The change of one column present in both versions, from the profiles.

    ``distance`` is in [0, 1]: the Kolmogorov-Smirnov estimate (``measure``
    ``"ks"``) for numbers and datetimes, or the total-variation distance of
    the top values (``"tvd"``) for other columns. It is None when either side
    has no value to compare or the type changed between kinds that cannot be
    compared (``measure`` ``"none"``). ``score`` is the larger of
    ``distance`` and the absolute change in the share of nulls, and ranks the
    columns.
    """

    name: str
    type_a: str
    type_b: str
    measure: str
    distance: float | None
    null_share_change: float | None
    mean_change: float | None
    score: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the shift as plain data, for JSON output."""
        return asdict(self)


@dataclass(frozen=True)
class DatasetDiff:
    """The differences between dataset versions ``a`` and ``b``.

    For two tables, ``columns`` lists every column present in both,
    highest ``score`` first. For two sets of files (``kind`` ``"files"``), the ``files_*`` lists
    name the paths added, removed or changed, and ``columns`` is empty.
    """

    a: str
    b: str
    kind: str
    same_content: bool
    rows_a: int | None
    rows_b: int | None
    size_a: int
    size_b: int
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    type_changes: list[dict[str, str]] = field(default_factory=list)
    columns: list[ColumnShift] = field(default_factory=list)
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)

    @property
    def schema_changed(self) -> bool:
        """Whether a column was added, removed or changed type."""
        return bool(self.added or self.removed or self.type_changes)

    def shift(self, name: str) -> ColumnShift:
        """Return the shift of one column.

        Raises:
            NotFoundError: the column is not in both versions.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFoundError(
            f"column {name!r} is not in both {self.a} and {self.b}",
            kind="column",
            name=name,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the diff as plain data, for JSON output."""
        data = asdict(self)
        data["schema_changed"] = self.schema_changed
        return data


def diff(a: VersionReference, b: VersionReference) -> DatasetDiff:
    """Compare two dataset versions by schema, row count and column profiles.

    Both versions must be tables, or both sets of files (a folder stored as a
    manifest of its files). Column statistics come from the profiles stored
    at registration, and :mod:`tether.data.distances` describes how each
    column's distance is estimated.

    Raises:
        NotFoundError: a dataset or version does not exist.
        DataError: one version is a table and the other a set of files.
    """
    first, second = version_of(a), version_of(b)
    kinds = (_kind(first), _kind(second))
    if kinds[0] != kinds[1]:
        described = {"table": "a table", "files": "a set of files"}
        raise DataError(
            f"cannot diff {first.uri} ({described[kinds[0]]}) with {second.uri} "
            f"({described[kinds[1]]}); diff compares two tables or two sets of "
            "files, so pick two versions of the same kind",
            source=f"{first.uri} {second.uri}",
        )
    common: dict[str, Any] = {
        "a": first.uri,
        "b": second.uri,
        "kind": kinds[0],
        "same_content": first.digest == second.digest,
        "rows_a": first.rows,
        "rows_b": second.rows,
        "size_a": first.size,
        "size_b": second.size,
    }
    if kinds[0] == "files":
        return DatasetDiff(**common, **_file_changes(first, second))
    return DatasetDiff(**common, **_table_changes(first, second))


def _kind(record: DatasetVersionRecord) -> str:
    return "files" if record.media_type == MANIFEST_MEDIA_TYPE else "table"


def _table_changes(
    first: DatasetVersionRecord, second: DatasetVersionRecord
) -> dict[str, Any]:
    types_a = {str(entry["name"]): entry for entry in first.schema}
    types_b = {str(entry["name"]): entry for entry in second.schema}
    shared = [name for name in types_b if name in types_a]
    changed = [
        {"name": name, "a": types_a[name]["type"], "b": types_b[name]["type"]}
        for name in shared
        if types_a[name]["type"] != types_b[name]["type"]
    ]
    profiles = (first.profile.get("columns", {}), second.profile.get("columns", {}))
    rows = (_profile_rows(first), _profile_rows(second))
    shifts = [
        _column_shift(
            name,
            (types_a[name]["type"], types_b[name]["type"]),
            (profiles[0].get(name, {}), profiles[1].get(name, {})),
            rows,
        )
        for name in shared
    ]
    shifts.sort(key=lambda shift: (shift.score is None, -(shift.score or 0.0)))
    return {
        "added": [entry for name, entry in types_b.items() if name not in types_a],
        "removed": [entry for name, entry in types_a.items() if name not in types_b],
        "type_changes": changed,
        "columns": shifts,
    }


def _profile_rows(record: DatasetVersionRecord) -> int:
    rows = record.profile.get("rows", record.rows)
    return int(rows or 0)


def _column_shift(
    name: str,
    types: tuple[str, str],
    summaries: tuple[Mapping[str, Any], Mapping[str, Any]],
    rows: tuple[int, int],
) -> ColumnShift:
    first, second = summaries
    measure = _measure(types)
    distance = None
    mean_change = None
    if measure == "ks":
        datetime_columns = types[0] == "datetime"
        distance = ks_distance(first, second, datetime=datetime_columns)
        if not datetime_columns:
            mean_change = standardized_mean_change(first, second)
    elif measure == "tvd":
        distance = top_values_distance(first, second, rows)
    nulls = _null_share_change(first, second)
    null_move = abs(nulls) if nulls is not None else None
    present = [value for value in (distance, null_move) if value is not None]
    return ColumnShift(
        name=name,
        type_a=types[0],
        type_b=types[1],
        measure=measure,
        distance=distance,
        null_share_change=nulls,
        mean_change=mean_change,
        score=max(present) if present else None,
    )


def _measure(types: tuple[str, str]) -> str:
    if all(kind in NUMERIC_TYPES for kind in types):
        return "ks"
    if types == ("datetime", "datetime"):
        return "ks"
    if not any(kind in (*NUMERIC_TYPES, "datetime") for kind in types):
        return "tvd"
    return "none"


def _null_share_change(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    before, after = a.get("null_share"), b.get("null_share")
    if before is None or after is None:
        return None
    return float(after - before)


def _file_changes(
    first: DatasetVersionRecord, second: DatasetVersionRecord
) -> dict[str, Any]:
    from tether.artifacts import get_objects

    objects = get_objects()
    files_a = {e["path"]: e["digest"] for e in objects.manifest(first.object_digest)}
    files_b = {e["path"]: e["digest"] for e in objects.manifest(second.object_digest)}
    return {
        "files_added": sorted(files_b.keys() - files_a.keys()),
        "files_removed": sorted(files_a.keys() - files_b.keys()),
        "files_changed": sorted(
            path
            for path in files_a.keys() & files_b.keys()
            if files_a[path] != files_b[path]
        ),
    }
