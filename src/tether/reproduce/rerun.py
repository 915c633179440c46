"""Re-run a recorded pipeline run in a checkout, in a child process, and tag the new run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from tether.config import ARTIFACTS_ENV, HOME_ENV, STORE_ENV, resolve
from tether.errors import NotFoundError, PipelineError
from tether.ids import new_id
from tether.reproduce.pins import Pin
from tether.reproduce.worktree import Checkout
from tether.store import get_store
from tether.store.records import RunRecord

REPRODUCES_TAG = "tether.reproduces"
"""The tag of a reproduction's pipeline run; its value is the original run's id."""
SPEC_FILE = "rerun.json"
RESULT_FILE = "result.json"
MAX_OUTPUT_CHARS = 2000
"""How much of the child's stderr an error quotes when the child left no result."""


@dataclass
class Rerun:
    """The pipeline run that re-ran the original one.

    Attributes:
        run_id: The new pipeline run's id.
        pins: The dataset lookups that returned a pinned version.
    """

    run_id: str
    pins: list[Pin] = field(default_factory=list)


def rerun(
    original: RunRecord,
    record: dict[str, Any],
    checkout: Checkout,
    *,
    project: Path,
) -> Rerun:
    """Run the pipeline of ``original`` again in ``checkout`` and return the new run.

    Args:
        original: The pipeline run to reproduce.
        record: Its ``pipeline.json``: the reference and the arguments.
        checkout: The worktree at its commit, with its diff applied.
        project: The folder the command runs in. The re-run runs in the
            checkout's copy of it, so relative paths and imports resolve as
            they did.

    Raises:
        PipelineError: the re-run failed; the message has the run's error.
    """
    run_id = new_id()
    spec = {
        "reference": record["reference"],
        "arguments": checkout_arguments(record, checkout),
        "path_arguments": list(record.get("path_arguments", [])),
        "run_id": run_id,
        "as_of": original.start_time.isoformat(),
        "checkout": str(checkout.path),
    }
    with tempfile.TemporaryDirectory(prefix="tether-reproduce-") as scratch:
        spec_path = Path(scratch) / SPEC_FILE
        result_path = Path(scratch) / RESULT_FILE
        spec_path.write_text(json.dumps(spec, indent=2))
        command = ["-m", "tether.reproduce.child", str(spec_path), str(result_path)]
        completed = subprocess.run(
            [sys.executable, *command],
            cwd=working_folder(project, checkout),
            env=child_environment(checkout),
            capture_output=True,
            text=True,
            check=False,
        )
        result = _result(result_path, completed)
    tagged = _tag(run_id, original.id)
    if result.get("error") or completed.returncode != 0:
        where = f"pipeline run {run_id}" if tagged else "the re-run"
        raise PipelineError(
            f"{where} of {original.id} failed: {result.get('error') or 'no error text'}"
        )
    pins = [Pin(**pin) for pin in result.get("pins", [])]
    return Rerun(run_id, pins)


def checkout_arguments(record: dict[str, Any], checkout: Checkout) -> dict[str, Any]:
    """Return the recorded arguments, with paths inside the repository moved into the checkout."""
    arguments = dict(record.get("arguments", {}))
    for name in record.get("path_arguments", []):
        arguments[name] = str(in_checkout(Path(arguments[name]), checkout))
    return arguments


def in_checkout(path: PurePath, checkout: Checkout) -> PurePath:
    """Return ``path`` in the checkout when it is an absolute path inside the repository.

    The repository is the one checked out, or the one the original run
    recorded, which differs when the project moved or is a clone.
    """
    if not path.is_absolute():
        return path
    resolved = Path(path).resolve()
    for root in checkout.roots:
        if resolved.is_relative_to(root):
            return checkout.path / resolved.relative_to(root)
    return path


def working_folder(project: Path, checkout: Checkout) -> Path:
    """Return the checkout's copy of ``project``, or its root when ``project`` is outside."""
    moved = in_checkout(project.absolute(), checkout)
    return Path(moved) if Path(moved).is_dir() else checkout.path


def child_environment(checkout: Checkout) -> dict[str, str]:
    """Return the child's environment: the same store, and PYTHONPATH moved into the checkout.

    The store locations are passed as absolute paths, because the default
    ``.tether`` folder is relative to the working folder, which changes.
    """
    settings = resolve()
    environment = dict(os.environ)
    environment[HOME_ENV] = str(settings.home)
    if STORE_ENV in os.environ:
        environment[STORE_ENV] = settings.store_url
    if settings.artifacts_set:
        environment[ARTIFACTS_ENV] = settings.artifacts_url
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if paths:
        moved = [str(in_checkout(Path(p), checkout)) for p in paths]
        environment["PYTHONPATH"] = os.pathsep.join(moved)
    return environment


def _tag(run_id: str, original_id: str) -> bool:
    """Tag the new pipeline run with the original's id; False when it was never created."""
    store = get_store()
    try:
        store.get_run(run_id)
    except NotFoundError:
        return False
    store.set_tags(run_id, {REPRODUCES_TAG: original_id})
    return True


def _result(path: Path, completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Read the child's result, or describe how it ended when it wrote none."""
    if path.is_file():
        result: dict[str, Any] = json.loads(path.read_text())
        return result
    output = completed.stderr.strip()[-MAX_OUTPUT_CHARS:]
    last = output.splitlines()[-1] if output else "no output"
    return {"error": f"the re-run process exited with {completed.returncode}: {last}"}
