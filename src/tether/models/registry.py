"""The model registry: register versions, move aliases, review and delete versions.

Every change is recorded in the audit trail with who made it
(:func:`tether.config.current_user`). Moving a gated alias (``champion``)
requires the version's latest test result to show that every required test
passed. ``force=True`` with a reason moves it anyway and records the override.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tether.config import current_user
from tether.errors import ConfigError, InvalidURIError, PromotionError
from tether.models.flavors import flavor_for, get_flavor
from tether.models.folder import store_model_folder
from tether.store import get_store
from tether.store.records import Edge, ModelTestRecord, ModelVersionRecord
from tether.uris import parse_model_uri

if TYPE_CHECKING:
    import pandas as pd

    from tether.active import RunLike as Run
    from tether.models.signature import Signature

logger = logging.getLogger(__name__)

ModelVersion = ModelVersionRecord
STATUSES = ("candidate", "approved", "rejected", "archived")
"""The statuses a version can have; every version starts as ``candidate``."""
GATED_ALIASES = ("champion",)
"""Aliases that move only to a version whose required tests passed, in any case."""


def register_model(
    model: Any,
    name: str,
    *,
    run: Run | None = None,
    signature: Signature | None = None,
    input_example: pd.DataFrame | None = None,
    metrics: Mapping[str, Any] | None = None,
    training_run_id: str | None = None,
    flavor: str | None = None,
    description: str = "",
    tags: Mapping[str, Any] | None = None,
    trusted: bool = False,
    onnx: bool = False,
    flavor_options: Mapping[str, Any] | None = None,
) -> ModelVersionRecord:
    """Store ``model`` and register it as the next version of ``name``.

    The flavor is found from the model's type unless named. With an input
    example, the signature is inferred from it when not given. The example
    must match the signature and the model must predict on it, or nothing is
    registered. The version records the flavor, each file's
    digest, the Python version and package pins it needs, and the run that
    made it.

    Args:
        trusted: Mark the version safe to load although its files can run
            code (the Python flavor); the mark is an audit event.
        onnx: Also store a scikit-learn model as ONNX, checked against
            scikit-learn on the input example (the sklearn flavor's option
            ``onnx``); ``load(uri, runtime="onnx")`` runs it.
        flavor_options: Options of the flavor, such as ``{"save_as": "trace"}``
            for the pytorch flavor; docs/model-flavors.md lists them.
    """
    from tether.active import current

    _check_uri_part(name, f"models:/{name}/1", "model name")
    options = dict(flavor_options or {})
    if onnx:
        options["onnx"] = True
    chosen = get_flavor(flavor, **options) if flavor else flavor_for(model, **options)
    run = run or current()
    stored = store_model_folder(model, chosen, signature, input_example)
    details = {
        "files": stored.files,
        "training_run_id": training_run_id or (run.id if run else None),
        **stored.environment,
        "flavor_meta": stored.meta,
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
        "has_input_example": input_example is not None,
    }
    record = get_store().add_model_version(
        name,
        run_id=run.id if run else None,
        flavor=chosen.name,
        artifact_digest=stored.digest,
        signature=stored.signature.to_dict() if stored.signature else None,
        metrics=dict(metrics or {}),
        details=details,
        description=description,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        trusted=trusted,
        actor=current_user(),
    )
    if run is not None:
        get_store().add_edge(
            Edge("run", run.id, "model_version", record.id, "produced")
        )
    logger.info("registered %s from run %s", record.uri, run.id if run else None)
    return record


def set_alias(
    name: str, alias: str, version: int, *, force: bool = False, reason: str = ""
) -> ModelVersionRecord:
    """Point ``alias`` (e.g. ``champion``) at version ``version`` of model ``name``.

    Args:
        force: Move a gated alias although the tests did not pass.
        reason: Why, required with ``force``; the audit event records it.

    Raises:
        PromotionError: ``alias`` is gated and the version's latest test result
            did not pass every required test (or it has none), without ``force``.
        ConfigError: ``force`` without a reason.
    """
    if force and not reason.strip():
        raise ConfigError(
            "a forced alias move needs a reason; pass --reason TEXT (reason=...) "
            "saying why the tests may be overridden",
            setting="reason",
            value=reason,
        )
    if alias.isdigit():
        raise ConfigError(
            f"invalid alias {alias!r}; an alias cannot be a number",
            setting="alias",
            value=alias,
        )
    _check_uri_part(alias, f"models:/m@{alias}", "alias")
    store = get_store()
    record = store.get_model_version(name, version)
    details: dict[str, Any] = {}
    if alias.lower() in GATED_ALIASES:
        problem = _untested(record)
        if problem and not force:
            raise PromotionError(
                f"cannot move {alias} to {record.uri}: {problem}; run "
                f"`tether models test {record.uri}`, or pass --force with --reason",
                uri=record.uri,
                alias=alias,
            )
        if problem:
            details = {"forced": True, "reason": reason, "problem": problem}
    store.set_alias(name, alias, version, actor=current_user(), details=details)
    return store.get_model_version(name, version)


def remove_alias(name: str, alias: str) -> int:
    """Remove ``alias`` from model ``name``; return the version it pointed at."""
    return get_store().remove_alias(name, alias, actor=current_user())


def record_test_result(
    uri: str, suite: str, results: Sequence[Mapping[str, Any]]
) -> ModelTestRecord:
    """Store the outcome of testing a version, for tests run outside Tether.

    Each result is a mapping with at least ``name`` and ``passed``;
    ``required`` defaults to True. ``tether models test`` stores its results
    the same way.
    """
    rows = [dict(result) for result in results]
    for row in rows:
        if "name" not in row or "passed" not in row:
            raise ConfigError(
                f"test result {row!r} lacks 'name' or 'passed'; give each result "
                "both keys",
                setting="results",
                value=str(row),
            )
        row["passed"] = bool(row["passed"])
        row.setdefault("required", True)
    record = get_version(uri)
    return get_store().add_test_result(
        record.name,
        record.version,
        suite=suite,
        passed=all(row["passed"] for row in rows),
        required_passed=all(row["passed"] for row in rows if row["required"]),
        results=rows,
        actor=current_user(),
    )


def latest_test(record: ModelVersionRecord) -> ModelTestRecord | None:
    """Return the newest test result of a version, if it was ever tested."""
    results = get_store().test_results(record.name, record.version)
    return results[0] if results else None


def _untested(record: ModelVersionRecord) -> str:
    """Return why ``record`` may not hold a gated alias, or "" when it may."""
    result = latest_test(record)
    if result is None:
        return "it has no test results"
    if not result.required_passed:
        failed = [
            str(r.get("name"))
            for r in result.results
            if r.get("required", True) and not r.get("passed")
        ]
        return f"required tests failed in its latest test run: {', '.join(failed)}"
    return ""


def get_version(uri: str, *, include_deleted: bool = False) -> ModelVersionRecord:
    """Return the model version a ``models:/`` URI points at."""
    ref = parse_model_uri(uri)
    store = get_store()
    version = (
        ref.version
        if ref.version is not None
        else store.resolve_alias(ref.name, str(ref.alias))
    )
    return store.get_model_version(ref.name, version, include_deleted=include_deleted)


def list_versions(
    name: str | None = None, *, include_deleted: bool = False
) -> list[ModelVersionRecord]:
    """Return the versions of one model, or of every model, newest first."""
    return get_store().list_model_versions(name, include_deleted=include_deleted)


def set_status(uri: str, status: str) -> ModelVersionRecord:
    """Set the status of a version: one of :data:`STATUSES`."""
    if status not in STATUSES:
        raise ConfigError(
            f"unknown status {status!r}; use one of {', '.join(STATUSES)}",
            setting="status",
            value=status,
        )
    record = get_version(uri)
    return get_store().update_model_version(
        record.name, record.version, status=status, actor=current_user()
    )


def describe(uri: str, description: str) -> ModelVersionRecord:
    """Replace the description of a version."""
    record = get_version(uri)
    return get_store().update_model_version(
        record.name, record.version, description=description, actor=current_user()
    )


def tag(
    uri: str, tags: Mapping[str, Any] | None = None, *, remove: Sequence[str] = ()
) -> ModelVersionRecord:
    """Set tags on a version and remove the keys in ``remove``."""
    record = get_version(uri)
    return get_store().update_model_version(
        record.name,
        record.version,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        removed_tags=list(remove),
        actor=current_user(),
    )


def trust(uri: str, trusted: bool = True) -> ModelVersionRecord:
    """Mark a version's files safe (or no longer safe) to load although they run code.

    Raises:
        ConfigError: the version's flavor runs no code when it loads, so there
            is nothing to trust.
    """
    record = get_version(uri)
    if trusted and not get_flavor(record.flavor).runs_code_on_load:
        raise ConfigError(
            f"{record.uri} is a {record.flavor} model, whose files run no code when "
            "loaded, so it needs no trust mark; only python-flavor versions do",
            setting="uri",
            value=uri,
        )
    return get_store().update_model_version(
        record.name, record.version, trusted=trusted, actor=current_user()
    )


def delete_version(uri: str) -> list[str]:
    """Mark a version deleted and remove its aliases; return the aliases removed.

    Its rows and files stay until ``tether gc`` removes what nothing
    references any more.
    """
    record = get_version(uri)
    return get_store().delete_model_version(
        record.name, record.version, actor=current_user()
    )


def _check_uri_part(value: str, uri: str, what: str) -> None:
    """Raise ConfigError when ``value`` makes the model URI ``uri`` invalid."""
    try:
        parse_model_uri(uri)
    except InvalidURIError:
        raise ConfigError(
            f"invalid {what} {value!r}; use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
            setting=what,
            value=value,
        ) from None
