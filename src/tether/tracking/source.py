"""Build the source record of a run: code, git state, entry point, environment."""

from __future__ import annotations

import logging
from typing import Any

from tether.artifacts import ObjectStore
from tether.lineage.capture import (
    entry_point,
    environment,
    git_state,
    installed_packages,
)

logger = logging.getLogger(__name__)


def capture_source(objects: ObjectStore) -> dict[str, Any]:
    """Capture git and environment facts; store the diff and package list as blobs."""
    git = git_state()
    env = environment()
    artifacts: dict[str, str] = {}
    if git.dirty and git.diff:
        artifacts["code/diff.patch"] = objects.put_bytes(
            git.diff.encode(), "text/x-diff"
        ).digest
    packages = "\n".join(installed_packages()) + "\n"
    artifacts["environment/requirements.txt"] = objects.put_bytes(
        packages.encode(), "text/plain"
    ).digest
    if git.error:
        logger.info("lineage: %s; recording the run without a commit", git.error)
    return {
        "entry_point": entry_point(),
        "git": git.to_dict(),
        "environment": env,
        "artifacts": artifacts,
    }
