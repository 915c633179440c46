"""The process that re-runs a pipeline inside a checkout.

:mod:`tether.reproduce.rerun` starts it as ``python -m tether.reproduce.child
SPEC RESULT`` with the checkout as its working folder, so the pipeline's
modules are imported from the checked-out code and the new run records the
checkout's commit and diff. ``SPEC`` is a JSON file written by the parent;
the child writes ``RESULT`` with the pins it used and the error, if any.
"""

from __future__ import annotations

import inspect
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from tether.errors import ConfigError, TetherError
from tether.pipelines.references import load_pipeline
from tether.reproduce.pins import PinnedStore
from tether.store import SqlStore, bound_store, get_store


def main(argv: list[str]) -> int:
    """Re-run the pipeline that the spec file ``argv[0]`` describes; return the exit code."""
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    result: dict[str, Any] = {"pins": [], "error": None}
    code = 0
    try:
        result["pins"] = rerun(spec)
    except TetherError as exc:
        result["error"] = str(exc)
        code = 1
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    result_path.write_text(json.dumps(result))
    return code


def rerun(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the pipeline with the recorded arguments, the cache off and datasets pinned.

    The in-process executor with one worker runs every step in this thread,
    which is where the pinned store is bound. The pipelines guide states that
    a step behaves the same on every executor, so the recorded executor is
    not needed to reproduce the results.
    """
    pinned = PinnedStore(get_store(), datetime.fromisoformat(spec["as_of"]))
    with bound_store(cast(SqlStore, pinned)):
        pipeline = load_pipeline(spec["reference"])
        require_inside(pipeline.function, Path(spec["checkout"]))
        pipeline.run(
            executor="inprocess",
            workers=1,
            force=True,
            run_id=spec["run_id"],
            **call_arguments(spec["arguments"], spec["path_arguments"]),
        )
    return [pin.to_dict() for pin in pinned.pins]


def call_arguments(arguments: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Return the recorded arguments with those recorded as paths as ``Path`` values."""
    return {
        name: Path(value) if name in paths else value
        for name, value in arguments.items()
    }


def require_inside(function: Any, checkout: Path) -> None:
    """Raise ConfigError unless ``function`` was imported from a file in ``checkout``."""
    source = Path(inspect.getfile(function)).resolve()
    if source.is_relative_to(checkout.resolve()):
        return
    raise ConfigError(
        f"the pipeline {function.__module__}:{function.__qualname__} was imported from "
        f"{source}, not from the checkout of the recorded commit; run tether reproduce "
        "from the folder the pipeline was run from, with the same PYTHONPATH, and "
        "make sure the project is not installed as a package that shadows it",
        setting="pipeline",
        value=str(source),
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
