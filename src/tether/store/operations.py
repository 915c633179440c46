"""The catalogue of store operations that the HTTP API exposes.

Every public method of the SQL store is an operation, except the account
operations (users, tokens, workspaces), which only the server's own commands
call, and ``close``. Each operation needs a role in its workspace: reading
needs ``viewer``, changing needs ``editor``, and purging deleted rows needs
``admin``. The server builds one route per operation from the method's
signature and type hints, and the HTTP client calls the same methods through
those routes, so both sides read their types from one place.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args, get_origin

_READS = frozenset(
    {
        "alert_events",
        "artifact_with_digest",
        "audit_trail",
        "count_runs",
        "dataset_version_by_id",
        "dataset_version_tags",
        "dataset_versions_with_digest",
        "deployment_tests",
        "edges_from",
        "edges_into",
        "experiment_exists",
        "find_cached_call",
        "fired_keys",
        "get_alert_rule",
        "get_dataset_version",
        "get_deployment",
        "get_deployment_by_id",
        "get_model_version",
        "get_monitor",
        "get_revision",
        "get_run",
        "get_schedule",
        "latest_dataset_version",
        "list_alert_rules",
        "list_alerts",
        "list_artifacts",
        "list_dataset_versions",
        "list_deployments",
        "list_firings",
        "list_model_versions",
        "list_monitors",
        "list_revisions",
        "list_runs",
        "list_schedules",
        "metric_history",
        "model_version_by_id",
        "next_pending_revision",
        "prediction_log_paths",
        "resolve_alias",
        "runs_with_artifact",
        "running_processes",
        "search_dataset_versions",
        "search_runs",
        "step_call",
        "test_results",
        "test_suite",
        "window_results",
    }
)
_ADMIN = frozenset({"purge_deleted"})
_NOT_EXPOSED = frozenset({"close"})

_GROUPS = {
    "alert": "monitors",
    "monitor": "monitors",
    "window": "monitors",
    "dataset": "datasets",
    "deployment": "deployments",
    "revision": "deployments",
    "model": "models",
    "alias": "models",
    "test": "models",
    "audit": "models",
    "schedule": "schedules",
    "firing": "schedules",
    "fired": "schedules",
    "edge": "lineage",
    "prediction": "lineage",
    "step": "pipelines",
    "cached": "pipelines",
    "purge": "maintenance",
}


@dataclass(frozen=True)
class Operation:
    """One store method as the API exposes it."""

    name: str
    role: str
    group: str
    signature: inspect.Signature
    hints: dict[str, Any]

    @property
    def reads(self) -> bool:
        """Whether the operation changes nothing."""
        return self.role == "viewer"

    @property
    def parameters(self) -> dict[str, Any]:
        """Each parameter's type hint, in signature order."""
        return {name: self.hints[name] for name in self.signature.parameters}

    @property
    def returns(self) -> Any:
        """The return type hint."""
        return self.hints["return"]


@cache
def operations() -> dict[str, Operation]:
    """Return every exposed operation by name."""
    from tether.store.account_ops import AccountOps
    from tether.store.sql import SqlStore

    private = {name for name in vars(AccountOps) if not name.startswith("_")}
    found = {}
    for name, method in inspect.getmembers(SqlStore, inspect.isfunction):
        if name.startswith("_") or name in _NOT_EXPOSED or name in private:
            continue
        found[name] = _operation(name, method)
    return found


def _operation(name: str, method: Callable[..., Any]) -> Operation:
    signature = inspect.signature(method)
    parameters = [p for p in signature.parameters.values() if p.name != "self"]
    return Operation(
        name=name,
        role=_role(name),
        group=_group(name),
        signature=signature.replace(parameters=parameters),
        hints=typing.get_type_hints(method),
    )


def _role(name: str) -> str:
    if name in _ADMIN:
        return "admin"
    return "viewer" if name in _READS else "editor"


def _group(name: str) -> str:
    for word in name.split("_"):
        key = word.removesuffix("s")
        if key in _GROUPS:
            return _GROUPS[key]
    return "runs"


def wire_type(hint: Any) -> Any:
    """Return ``hint`` with lazy iterables replaced by lists, which validate eagerly."""
    if get_origin(hint) is Iterable:
        return list[get_args(hint)[0]]  # type: ignore[misc]
    return hint
