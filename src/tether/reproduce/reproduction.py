"""``reproduce``: re-run the pipeline run behind a model version or run and compare."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tether.artifacts import get_objects
from tether.errors import ConfigError
from tether.pipelines.history import pipeline_record
from tether.reproduce.compare import (
    compare_code,
    compare_data,
    compare_metrics,
    compare_models,
    compare_packages,
    compare_python,
    model_metrics,
)
from tether.reproduce.records import DIFF, RunTree, run_tree
from tether.reproduce.report import Reproduction
from tether.reproduce.rerun import Rerun, rerun
from tether.reproduce.resolve import Target, resolve_target
from tether.reproduce.worktree import checkout, repository_root, require_commit
from tether.store import get_store
from tether.store.records import ModelVersionRecord, RunRecord

logger = logging.getLogger(__name__)


def reproduce(
    uri: str, *, repository: str | Path | None = None, keep: bool = False
) -> Reproduction:
    """Re-run the pipeline run behind ``uri`` at its recorded code and data; compare.

    The recorded commit is checked out in a temporary git worktree of the
    repository, and the recorded uncommitted diff is applied. The pipeline
    then runs in a child process with the recorded arguments. Every step runs
    again (``force``), and unversioned dataset lookups are pinned (see
    :mod:`tether.reproduce.pins`). The new pipeline run is in the same store
    and tagged ``tether.reproduces`` with the original run's id.

    Args:
        uri: ``models:/NAME/N``, ``models:/NAME@ALIAS``, ``runs:/ID`` or a run id.
        repository: A folder in the project's git repository; default the
            current folder.
        keep: Leave the worktree in place; its folder is in the report.

    Raises:
        ConfigError: the folder is not a git repository, the run recorded no
            commit, or some of its arguments were not recorded.
        NotFoundError: the URI's entity, or the commit, does not exist.
        PipelineError: the diff does not apply, or the re-run failed.
    """
    target = resolve_target(uri)
    original = target.pipeline_run
    record = pipeline_record(original.id)
    require_recorded_arguments(record, original.id)
    root = repository_root(Path(repository or Path.cwd()).absolute())
    git = original.source.get("git", {})
    commit = git.get("commit")
    if not commit:
        raise ConfigError(
            f"pipeline run {original.id} recorded no commit "
            f"({git.get('error') or 'no git state'}), so its code cannot be checked "
            "out; only runs started inside a git repository can be reproduced",
            setting="uri",
            value=uri,
        )
    require_commit(root, commit, original.id, git.get("remote"))
    recorded_root = Path(git["root"]) if git.get("root") else None
    diff = recorded_diff(original)
    with checkout(
        root, commit, diff, keep=keep, recorded_root=recorded_root
    ) as worktree:
        result = rerun(original, record, worktree, project=Path.cwd())
        kept_folder = str(worktree.path) if keep else None
    report = compare(
        target, result, record["reference"], commit, diff_applied=bool(diff)
    )
    report.kept_checkout = kept_folder
    return report


def require_recorded_arguments(record: dict[str, Any], run_id: str) -> None:
    """Raise ConfigError when the pipeline run had arguments it could not record."""
    unrecorded = record.get("unrecorded_arguments") or []
    if unrecorded:
        raise ConfigError(
            f"pipeline run {run_id} had arguments that are neither JSON nor paths "
            f"({', '.join(unrecorded)}), so they were not recorded and the run "
            "cannot be re-run with them; pass such values as JSON or paths",
            setting="uri",
            value=run_id,
        )


def recorded_diff(run: RunRecord) -> bytes | None:
    """Return the run's recorded uncommitted diff, or None for a clean work tree."""
    digest = run.source.get("artifacts", {}).get(DIFF)
    if not digest:
        if run.source.get("git", {}).get("dirty"):
            logger.warning(
                "run %s was dirty but recorded no diff; reproducing its commit as is",
                run.id,
            )
        return None
    return get_objects().read_bytes(digest)


def compare(
    target: Target, result: Rerun, pipeline: str, commit: str, *, diff_applied: bool
) -> Reproduction:
    """Compare the original pipeline run with its re-run."""
    original = run_tree(target.pipeline_run)
    reproduced = run_tree(get_store().get_run(result.run_id))
    models = originals(target, original)
    remade = {
        name: reproduced.models[name] for name in models if name in reproduced.models
    }
    compared, differences = compare_metrics(
        {**original.metrics(), **model_metrics(models)},
        {**reproduced.metrics(), **model_metrics(remade)},
    )
    return Reproduction(
        uri=target.uri,
        original_run=target.pipeline_run.id,
        reproduction_run=result.run_id,
        pipeline=pipeline,
        commit=commit,
        diff_applied=diff_applied,
        metrics_compared=compared,
        metric_differences=differences,
        models=compare_models(models, reproduced.models),
        packages=compare_packages(original.packages(), reproduced.packages()),
        python=compare_python(original, reproduced),
        data=compare_data(original, reproduced),
        code=compare_code(original, reproduced),
        pins=result.pins,
    )


def originals(target: Target, tree: RunTree) -> dict[str, ModelVersionRecord]:
    """Return the model versions to compare: the one named by the URI, else all the run made."""
    if target.model_version is not None:
        return {target.model_version.name: target.model_version}
    return dict(tree.models)
