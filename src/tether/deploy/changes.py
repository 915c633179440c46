"""Promote, roll back, reroute and test a running deployment.

A promotion or rollback adds a revision that the supervisor applies with no
failed request. The version that takes over is running and ready before the
gateway switches to it. The version that leaves is stopped only after its
requests in flight got their responses. A promotion runs the application
tests first and fails without a switch when one fails. A rollback runs no
tests, because it restores a version that served before and a failing
load budget must not block the way back. A reroute changes the canary, its
share of the traffic, the sticky header or the shadow. It runs the tests
when a version that was not serving clients is about to.
"""

from __future__ import annotations

from dataclasses import replace

from tether.config import current_user
from tether.deploy.application_tests import ApplicationTestReport, run_tests_on_version
from tether.deploy.lifecycle import (
    DEFAULT_WAIT_SECONDS,
    ReleaseResult,
    check_same_inputs,
    require_running,
    resolve_target,
    wait_for_revision,
    wake_supervisor,
)
from tether.deploy.processes import SERVER_HOST
from tether.deploy.spec import (
    DEFAULT_CANARY_TRAFFIC,
    KEEP,
    ApplicationTestSettings,
    DeploymentSettings,
    ModelTarget,
    Routing,
    check_traffic,
)
from tether.errors import ConfigError, ServingError
from tether.store import get_store
from tether.store.deployment_ops import DeploymentRecord, RevisionRecord


def current_routing(record: DeploymentRecord) -> Routing:
    """Return the routing of the revision in effect."""
    if record.revision is None:
        raise ConfigError(
            f"deployment {record.name} has no routing in effect yet",
            setting="name",
            value=record.name,
        )
    revision = get_store().get_revision(record.id, record.revision)
    return Routing.from_dict(revision.routing)


def promote(name: str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> ReleaseResult:
    """Make the canary of ``name`` the primary, with all the traffic, once its tests pass.

    Raises:
        ConfigError: The deployment is not running or has no canary.
    """
    record = require_running(name)
    routing = current_routing(record).promoted()
    return _request(
        record, "promote", routing, run_tests=True, wait_seconds=wait_seconds
    )


def rollback(name: str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> ReleaseResult:
    """Make the previous primary version of ``name`` the primary again, with no canary.

    Raises:
        ConfigError: The deployment is not running or never had another primary.
    """
    record = require_running(name)
    routing = current_routing(record)
    previous = previous_primary(get_store().list_revisions(record.id), routing.primary)
    if previous is None:
        raise ConfigError(
            f"deployment {name} has had no other primary version than "
            f"{routing.primary.uri}, so there is nothing to roll back to",
            setting="name",
            value=name,
        )
    new_routing = routing.rolled_back(previous)
    return _request(
        record, "rollback", new_routing, run_tests=False, wait_seconds=wait_seconds
    )


def reroute(
    name: str,
    *,
    canary: str | None = KEEP,
    traffic: int | None = None,
    sticky_header: str | None = KEEP,
    shadow: str | None = KEEP,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> ReleaseResult:
    """Change the canary, its traffic, the sticky header or the shadow of ``name``.

    An argument left at :data:`KEEP` (or ``traffic`` at None) keeps its
    setting; None removes the canary, the sticky header or the shadow.
    Removing the canary sets its traffic to 0. A new canary gets the traffic
    given, else the current canary's, else :data:`DEFAULT_CANARY_TRAFFIC`.
    When a version starts to get client traffic, the application tests run
    on every version that will get it, before the switch.

    Raises:
        ConfigError: The deployment is not running, the new routing is
            invalid (for example traffic without a canary), or nothing changes.
    """
    record = require_running(name)
    routing = current_routing(record)
    changes: dict[str, object] = {}
    if canary != KEEP:
        changes["canary"] = resolve_target(canary) if canary is not None else None
        if canary is None:
            changes["traffic"] = 0
            changes["sticky_header"] = None
        elif routing.canary is None:
            changes["traffic"] = DEFAULT_CANARY_TRAFFIC
    if traffic is not None:
        check_traffic(traffic)
        changes["traffic"] = traffic
    if sticky_header != KEEP:
        changes["sticky_header"] = sticky_header
    if shadow != KEEP:
        changes["shadow"] = resolve_target(shadow) if shadow is not None else None
    new_routing = replace(routing, **changes)  # type: ignore[arg-type]
    check_same_inputs(new_routing)
    if new_routing == routing:
        raise ConfigError(
            f"deployment {name} already routes {routing.describe()}; give a new "
            "--canary, --traffic, --sticky-header or --shadow",
            setting="name",
            value=name,
        )
    serving = {target.uri for target in routing.routed_targets()}
    new_versions = [
        target for target in new_routing.routed_targets() if target.uri not in serving
    ]
    return _request(
        record,
        "reroute",
        new_routing,
        run_tests=bool(new_versions),
        wait_seconds=wait_seconds,
    )


def previous_primary(
    revisions: list[RevisionRecord], current: ModelTarget
) -> ModelTarget | None:
    """Return the primary before ``current`` took over, from the applied revisions.

    The newest applied revision with another primary decides, so a second
    rollback returns to the version the first one replaced.
    """
    for revision in reversed(revisions):
        if revision.status != "applied":
            continue
        primary = Routing.from_dict(revision.routing).primary
        if primary.uri != current.uri:
            return primary
    return None


def run_deployment_tests(
    name: str, settings: ApplicationTestSettings | None = None
) -> list[ApplicationTestReport]:
    """Run the application tests on the versions of ``name`` that serve clients.

    Each version is tested on its own model server, and each result is
    stored with the deployment. ``settings`` default to the deployment's.

    Raises:
        ServingError: A version's server is not running (it is restarting).
    """
    store = get_store()
    record = require_running(name)
    routing = current_routing(record)
    settings = settings or DeploymentSettings.from_dict(record.settings).tests
    ports = {
        process["uri"]: process["port"]
        for process in record.processes
        if process.get("state") == "running"
    }
    reports = []
    for target in routing.routed_targets():
        port = ports.get(target.uri)
        if port is None:
            raise ServingError(
                f"the model server of {target.uri} is not running; check "
                f"`tether deploy status {name}` and test again once it is running"
            )
        report = run_tests_on_version(
            f"http://{SERVER_HOST}:{port}", target.uri, settings
        )
        store.add_deployment_test(
            record.id,
            revision=record.revision,
            model_uri=target.uri,
            passed=report.passed,
            results=report.to_list(),
        )
        reports.append(report)
    return reports


def _request(
    record: DeploymentRecord,
    action: str,
    routing: Routing,
    *,
    run_tests: bool,
    wait_seconds: float,
) -> ReleaseResult:
    store = get_store()
    number = store.add_revision(
        record.id,
        action=action,
        routing=routing.to_dict(),
        base_revision=record.revision,
        run_tests=run_tests,
        actor=current_user(),
    )
    wake_supervisor(record)
    return wait_for_revision(record.name, number, wait_seconds)
