"""``tether import mlflow``: copy an MLflow tracking store into the Tether store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tether.artifacts import get_objects
from tether.errors import ConfigError
from tether.importers.mlflow_copy import ImportContext, copy_runs
from tether.importers.mlflow_database import redact
from tether.importers.mlflow_records import MlflowExperiment
from tether.importers.mlflow_registry import copy_registry
from tether.importers.mlflow_store import (
    DEFAULT_WORKSPACE,
    open_mlflow_store,
    select_experiments,
)
from tether.importers.summary import ImportEntry, ImportSummary
from tether.store import get_store


def import_mlflow(
    source_url: str,
    *,
    artifacts: str | Path | None = None,
    experiments: Sequence[str] = (),
    dry_run: bool = False,
    load_pickles: bool = False,
    workspace: str = DEFAULT_WORKSPACE,
) -> ImportSummary:
    """Copy experiments, runs and registered models from MLflow into the Tether store.

    The store and artifact folder are those of the current settings
    (``TETHER_STORE``, ``TETHER_ARTIFACTS``). Deleted MLflow experiments and
    runs are left out. Running the import again copies only what is new.

    Args:
        source_url: MLflow's database: ``sqlite:///PATH`` or
            ``postgresql://USER@HOST/DB``.
        artifacts: The folder that now contains MLflow's artifacts, when the
            recorded locations moved or are relative to a tracking server.
        experiments: Copy only these experiments, and only the model
            versions their runs made; all when empty.
        dry_run: Write nothing; the summary lists what would be copied.
        load_pickles: Unpickle scikit-learn models that MLflow stored as
            pickles, which runs code from the files, to register them.
        workspace: The MLflow workspace to read (MLflow 3.x databases).

    Raises:
        ConfigError: the URL is not supported, or a folder does not exist.
        NotFoundError: a named experiment is not in the MLflow database.
        StoreError: the MLflow database cannot be read.
    """
    root = _artifact_root(artifacts)
    with open_mlflow_store(source_url, workspace=workspace) as source:
        chosen = select_experiments(source.experiments(), experiments)
        summary = ImportSummary(source=redact(source_url), dry_run=dry_run)
        context = ImportContext(
            source=source,
            store=get_store(),
            objects=get_objects(),
            summary=summary,
            root=root,
            dry_run=dry_run,
            load_pickles=load_pickles,
        )
        copy_runs(context, _active(chosen, summary))
        copy_registry(context, only_chosen_runs=bool(experiments))
    return summary


def _active(
    experiments: Sequence[MlflowExperiment], summary: ImportSummary
) -> list[MlflowExperiment]:
    """Return the experiments not deleted in MLflow; record the others as skipped."""
    active = []
    for experiment in experiments:
        if experiment.deleted:
            summary.add(
                ImportEntry(
                    "experiment",
                    experiment.name,
                    experiment.id,
                    "skip",
                    "deleted in MLflow",
                )
            )
            continue
        summary.experiments.append(experiment.name)
        active.append(experiment)
    return active


def _artifact_root(artifacts: str | Path | None) -> Path | None:
    if artifacts is None:
        return None
    root = Path(artifacts).expanduser().absolute()
    if not root.is_dir():
        raise ConfigError(
            f"artifact folder {str(root)!r} not found; pass --artifacts with the "
            "folder that contains MLflow's artifacts (./mlruns by default)",
            setting="--artifacts",
            value=str(artifacts),
        )
    return root
