"""Find the pipeline run behind a model version or run that is to be reproduced."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.errors import ConfigError, InvalidURIError
from tether.models.registry import get_version
from tether.store import SqlStore, get_store
from tether.store.records import ModelVersionRecord, RunRecord
from tether.uris import parse_run_uri

MAX_PARENTS = 20
"""How many parents are followed from a run to its pipeline run; more means a cycle."""
_RUN_ID = re.compile(r"[0-9a-z]+")


@dataclass(frozen=True)
class Target:
    """The pipeline run that ``tether reproduce`` re-runs, and the entity named.

    Attributes:
        uri: The URI as given.
        pipeline_run: The pipeline run that made the model version or run.
        model_version: The model version, when ``uri`` names one.
    """

    uri: str
    pipeline_run: RunRecord
    model_version: ModelVersionRecord | None = None


def resolve_target(uri: str) -> Target:
    """Return the pipeline run behind ``models:/NAME/N``, ``models:/NAME@ALIAS``,
    ``runs:/ID`` or a bare run id.

    A step run leads to its pipeline run, and a run started inside a step to
    that step's pipeline run.

    Raises:
        InvalidURIError: ``uri`` has none of the accepted forms.
        NotFoundError: the model version or run does not exist.
        ConfigError: the model version records no run, or the run is not
            part of a pipeline run.
    """
    store = get_store()
    if uri.startswith("models:/"):
        version = get_version(uri)
        run_id = version.run_id or version.details.get("training_run_id")
        if not run_id:
            raise ConfigError(
                f"{version.uri} records no run that registered it, so there is no "
                "pipeline to re-run; reproduce the run that trained it with "
                "tether reproduce runs:/RUN_ID",
                setting="uri",
                value=uri,
            )
        return Target(uri, pipeline_of(store, str(run_id), uri), version)
    return Target(uri, pipeline_of(store, _run_id(uri), uri))


def pipeline_of(store: SqlStore, run_id: str, uri: str) -> RunRecord:
    """Return the pipeline run that ``run_id`` is, or is a step (or a child) of."""
    run = store.get_run(run_id)
    for _ in range(MAX_PARENTS):
        if run.kind == "pipeline":
            return run
        if run.parent_id is None:
            break
        run = store.get_run(run.parent_id)
    raise ConfigError(
        f"run {run_id} ({uri}) is not part of a pipeline run; tether reproduce "
        "re-runs @tether.pipeline functions, so pass a model version, pipeline run "
        "or step run that a pipeline made",
        setting="uri",
        value=uri,
    )


def _run_id(uri: str) -> str:
    if uri.startswith("runs:/"):
        return parse_run_uri(uri).run_id
    if _RUN_ID.fullmatch(uri) is None:
        raise InvalidURIError(
            f"invalid URI {uri!r}; use models:/NAME/VERSION, models:/NAME@ALIAS, "
            "runs:/RUN_ID or a bare run id",
            uri=uri,
        )
    return uri
