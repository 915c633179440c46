"""The release steps of ``tether ci``: whether this run releases, and what it releases.

A run releases when its branch is one of ``release.branches``, it builds
no pull or merge request, and the policy allows: ``auto`` always,
``manual`` with ``tether ci --release``, ``never`` not at all.
"""

from __future__ import annotations

from typing import Any

from tether.errors import NotFoundError
from tether.project.branch import BuildSource
from tether.project.ci import PASSED, SKIPPED, CiOptions, CiRun, Step, StepResult
from tether.project.ci_deploy import model_uri
from tether.project.spec import DeploymentEntry, ModelEntry, ProjectSpec


def release_decision(
    spec: ProjectSpec, options: CiOptions, source: BuildSource
) -> tuple[bool, str]:
    """Return whether the run releases, and the reason in one sentence."""
    policy = spec.release.policy
    branches = ", ".join(spec.release.branches)
    if options.no_release:
        return False, "release turned off with --no-release"
    if policy == "never":
        return False, "the release policy is 'never'"
    if source.change_request:
        return False, f"a pull or merge request of {source.branch} does not release"
    if source.branch is None:
        return False, (
            f"the branch is unknown ({source.origin}); pass --branch NAME to release"
        )
    if source.branch not in spec.release.branches:
        return (
            False,
            f"branch {source.branch} does not release (release.branches: {branches})",
        )
    if policy == "manual" and not options.release:
        return False, "the release policy is 'manual'; pass --release to release"
    return True, f"branch {source.branch} releases (policy {policy})"


def release_steps(spec: ProjectSpec, decision: tuple[bool, str]) -> list[Step]:
    """Return the release steps: the models, the production deployments, automation."""
    from tether.project.ci_automation import automation_step

    steps: list[Step] = []
    for model in spec.models.values():
        steps.append((f"release {model.name}", _model_step(model)))
    for entry in spec.deployments_of("production"):
        steps.append((f"release {entry.name}", _deployment_step(entry)))
    steps.append(("automation", automation_step))
    allowed, reason = decision
    if allowed:
        return steps
    return [(name, _skipped(name, f"not released: {reason}")) for name, _ in steps]


def _skipped(name: str, reason: str) -> Any:
    return lambda run: StepResult(name, SKIPPED, reason)


def _model_step(model: ModelEntry) -> Any:
    def step(run: CiRun) -> StepResult:
        from tether.models.registry import set_alias

        version = run.candidates[model.name]
        set_alias(model.name, model.gates.alias, version.version)
        return StepResult(
            f"release {model.name}",
            PASSED,
            f"{model.gates.alias} of {model.name} points at {version.uri}",
        )

    return step


def _deployment_step(entry: DeploymentEntry) -> Any:
    def step(run: CiRun) -> StepResult:
        from tether.deploy.lifecycle import supervisor_running
        from tether.store import get_store

        name = f"release {entry.name}"
        uri = model_uri(run, entry)
        try:
            record = get_store().get_deployment(entry.name)
        except NotFoundError:
            record = None
        if record is None or not supervisor_running(record):
            return StepResult(
                name,
                SKIPPED,
                f"deployment {entry.name} is not running where this run's store is; "
                f"create it with `tether deploy create {entry.name} --model {uri} "
                f"--port {entry.port}`",
            )
        lines = _promote_canary(run, entry)
        lines.append(_route_canary(run, entry, uri))
        return StepResult(name, PASSED, lines[-1], tuple(lines))

    return step


def _promote_canary(run: CiRun, entry: DeploymentEntry) -> list[str]:
    """Promote the running canary when the deployment's rule holds; return what happened."""
    from tether.deploy.changes import current_routing, promote
    from tether.project.promotion import evaluate_promotion
    from tether.store import get_store

    routing = current_routing(get_store().get_deployment(entry.name))
    if routing.canary is None:
        return []
    monitor = run.spec.monitors.get(entry.promote.monitor or "")
    decision = evaluate_promotion(entry.promote, routing, monitor)
    reasons = "; ".join(decision.reasons)
    if not decision.promote:
        return [f"kept canary {routing.canary.uri} unpromoted: {reasons}"]
    result = promote(entry.name, wait_seconds=run.options.wait_seconds)
    if not result.applied:
        error = result.revision.error or "the promotion failed"
        return [f"promotion of {routing.canary.uri} failed: {error}"]
    return [f"promoted canary {routing.canary.uri}: {reasons}"]


def _route_canary(run: CiRun, entry: DeploymentEntry, uri: str) -> str:
    """Give the released version the canary's share, unless it already serves."""
    from tether.deploy.changes import current_routing, reroute
    from tether.project.ci import CiStepError
    from tether.store import get_store

    routing = current_routing(get_store().get_deployment(entry.name))
    if uri in {target.uri for target in routing.routed_targets()}:
        return f"{uri} already serves in {entry.name}"
    result = reroute(
        entry.name,
        canary=uri,
        traffic=entry.canary,
        sticky_header=entry.sticky_header,
        wait_seconds=run.options.wait_seconds,
    )
    if not result.applied:
        error = result.revision.error or "the change failed"
        raise CiStepError(f"{uri} did not become the canary of {entry.name}: {error}")
    return f"{uri} is the canary of {entry.name} with {entry.canary}% of requests"
