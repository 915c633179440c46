"""Pin the dataset versions that a re-run reads to those the original run read.

Pipelines name data by URI, and ``datasets:/NAME`` without a version means
the latest version, which may be newer than the one the original run read.
:class:`PinnedStore` wraps the store of the re-run process and is bound with
:func:`tether.store.bound_store`, so ``get_store()`` returns it to every SDK
call. A lookup of the latest version of a dataset returns:

1. the version the re-run itself registered or acquired (linked to one of
   its runs) most recently, so a step reads what an upstream step of the
   same re-run made;
2. otherwise the newest version created when the original pipeline run
   started, which is the version the original run saw as the latest;
3. otherwise, when no version existed then, the latest version.

Lookups of a numbered version (``datasets:/NAME@3``) pass through unchanged.
Acquisition is not pinned: it compares its source with the real latest
version, and its result is compared by digest with what the original run
acquired.

NOTE: the binding is a context variable, so it applies in the thread that
runs the steps. A thread that a step starts itself does not inherit it, and
its lookups are not pinned.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tether.store import SqlStore
from tether.store.records import DatasetVersionRecord, Edge
from tether.store.time import aware


@dataclass(frozen=True)
class Pin:
    """A lookup of the latest version of a dataset that returned a pinned version.

    Attributes:
        name: The dataset's name.
        version: The version returned.
        digest: Its content digest.
        latest: The dataset's latest version when the lookup happened.
    """

    name: str
    version: int
    digest: str
    latest: int

    def to_dict(self) -> dict[str, Any]:
        """Return the pin as JSON-compatible data."""
        return asdict(self)


class PinnedStore:
    """A store whose lookups of a dataset's latest version return pinned versions.

    Every other attribute is the wrapped store's.
    """

    def __init__(self, store: SqlStore, as_of: datetime) -> None:
        self._store = store
        self._as_of = aware(as_of)
        self._lock = threading.Lock()
        self._rerun_versions: dict[str, DatasetVersionRecord] = {}
        self._pins: dict[str, Pin] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def pins(self) -> list[Pin]:
        """The pinned lookups, one per dataset, sorted by name."""
        with self._lock:
            return [self._pins[name] for name in sorted(self._pins)]

    def get_dataset_version(
        self, name: str, version: int | None = None
    ) -> DatasetVersionRecord:
        """Return version ``version`` of ``name``, or the pinned version for None."""
        if version is not None:
            return self._store.get_dataset_version(name, version)
        with self._lock:
            own = self._rerun_versions.get(name)
        if own is not None:
            return own
        pinned = self._version_as_of(name)
        if pinned is None:
            # No version existed when the original run started: it cannot
            # have read this dataset by name, so the lookup is left alone.
            return self._store.get_dataset_version(name)
        latest = self._store.get_dataset_version(name)
        with self._lock:
            self._pins[name] = Pin(name, pinned.version, pinned.digest, latest.version)
        return pinned

    def add_dataset_version(
        self, name: str, **fields: Any
    ) -> tuple[DatasetVersionRecord, bool]:
        """Add a version, and remember it as what the re-run made of ``name``."""
        record, created = self._store.add_dataset_version(name, **fields)
        self._remember(record)
        return record, created

    def add_edge(self, edge: Edge) -> None:
        """Add a lineage edge; a dataset version linked to a run counts as the re-run's."""
        self._store.add_edge(edge)
        if edge.src_kind == "dataset_version" and edge.dst_kind == "run":
            self._remember(self._store.dataset_version_by_id(edge.src_id))
        elif edge.src_kind == "run" and edge.dst_kind == "dataset_version":
            self._remember(self._store.dataset_version_by_id(edge.dst_id))

    def _remember(self, record: DatasetVersionRecord) -> None:
        with self._lock:
            self._rerun_versions[record.name] = record

    def _version_as_of(self, name: str) -> DatasetVersionRecord | None:
        """Return the newest version of ``name`` created by the pin time, if any."""
        versions = self._store.list_dataset_versions(name)
        earlier = [v for v in versions if aware(v.created_at) <= self._as_of]
        return max(earlier, key=lambda v: v.version, default=None)
