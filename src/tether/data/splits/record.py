"""Record splits, samples and augmentations on the active run.

Each record is stored as a JSON artifact named after the method and the first
12 characters of its digest, so several splits in one run keep their own
files. Tags with a fixed prefix (``split.``, ``sample.``, ``augment.``) hold
the method, seed and digests of the latest record of each kind, for search.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, cast

from tether import active

DIGEST_PREFIX = 12


class RecordingRun(Protocol):
    """The part of a tracking run that records use."""

    def log_dict(self, data: Mapping[str, Any], artifact_path: str) -> Any: ...

    def set_tags(self, tags: Mapping[str, Any]) -> None: ...


def log_split(record: Mapping[str, Any], digest: str) -> None:
    """Log a split record on the active run, if there is one."""
    tags = {"split.method": record["method"], "split.seed": record["seed"]}
    tags.update({f"split.digest.{role}": d for role, d in record["digests"].items()})
    log_record("splits", record, digest, tags)


def log_record(
    folder: str, record: Mapping[str, Any], digest: str, tags: Mapping[str, Any]
) -> None:
    """Store ``record`` as ``{folder}/{method}-{digest[:12]}.json`` and set ``tags``.

    Does nothing when no run is active.
    """
    run = cast(RecordingRun | None, active.current())
    if run is None:
        return
    name = f"{folder}/{record['method']}-{digest[:DIGEST_PREFIX]}.json"
    run.log_dict(json.loads(json.dumps(record, default=str)), name)
    run.set_tags({key: value for key, value in tags.items() if value is not None})
