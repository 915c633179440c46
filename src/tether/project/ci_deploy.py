"""The staging steps of ``tether ci``: deploy the tested version, test it, stop it."""

from __future__ import annotations

import logging
import time
from typing import Any

from tether.errors import NotFoundError
from tether.project.ci import (
    FAILED,
    PASSED,
    SKIPPED,
    CiRun,
    CiStepError,
    Step,
    StepResult,
)
from tether.project.spec import DeploymentEntry, ProjectSpec

logger = logging.getLogger(__name__)


def staging_steps(spec: ProjectSpec) -> list[Step]:
    """Return a deploy step and an application test step per staging deployment."""
    entries = spec.deployments_of("staging")
    if not entries:
        reason = "the project file declares no staging deployment"
        return [
            ("staging", lambda run: StepResult("staging", SKIPPED, reason)),
            (
                "application tests",
                lambda run: StepResult("application tests", SKIPPED, reason),
            ),
        ]
    steps: list[Step] = []
    for entry in entries:
        steps.append((f"staging {entry.name}", _deploy_step(entry)))
        steps.append((f"application tests {entry.name}", _tests_step(entry)))
    return steps


def model_uri(run: CiRun, entry: DeploymentEntry) -> str:
    """Return the version a deployment serves: the run's candidate, or the URI given."""
    if entry.model.startswith("models:/"):
        return entry.model
    candidate = run.candidates.get(entry.model)
    if candidate is None:
        raise CiStepError(
            f"no version of model {entry.model} was tested in this run, so "
            f"deployment {entry.name} has nothing to serve"
        )
    return candidate.uri


def deployment_settings(entry: DeploymentEntry) -> Any:
    """Return the deployment settings that ``entry`` declares."""
    from tether.deploy.spec import ApplicationTestSettings, DeploymentSettings

    tests = ApplicationTestSettings(
        load_requests=entry.tests.load_requests,
        load_concurrency=entry.tests.load_concurrency,
        p99_ms=entry.tests.p99_ms,
    )
    return DeploymentSettings(tests=tests, ready_timeout_seconds=entry.ready_timeout)


def _deploy_step(entry: DeploymentEntry) -> Any:
    def step(run: CiRun) -> StepResult:
        from tether.deploy.lifecycle import create_deployment

        uri = model_uri(run, entry)
        _remove_stopped(entry.name)
        run.staging.append(entry.name)
        result = create_deployment(
            entry.name,
            uri,
            host=entry.host,
            port=entry.port,
            settings=deployment_settings(entry),
            wait_seconds=run.options.wait_seconds,
        )
        lines = _test_lines(result.tests)
        if not result.applied:
            error = result.revision.error or "its first revision failed"
            raise CiStepError(f"deployment {entry.name} did not start: {error}", lines)
        return StepResult(
            f"staging {entry.name}",
            PASSED,
            f"{uri} serves on http://{entry.host}:{entry.port}",
            lines,
        )

    return step


def _remove_stopped(name: str) -> None:
    """Remove a staging deployment that an earlier run left stopped, so it can be created again."""
    from tether.deploy.lifecycle import remove_deployment, supervisor_running
    from tether.store import get_store

    try:
        record = get_store().get_deployment(name)
    except NotFoundError:
        return
    if supervisor_running(record):
        raise CiStepError(
            f"staging deployment {name} is still running from an earlier run; stop "
            f"it with `tether deploy stop {name}` and run again"
        )
    remove_deployment(name)


def _tests_step(entry: DeploymentEntry) -> Any:
    def step(run: CiRun) -> StepResult:
        reports = _tests_once_serving(entry.name, run.options.wait_seconds)
        lines = tuple(
            f"{_state(result.to_dict())} {result.name}: {result.detail}"
            for report in reports
            for result in report.results
        )
        failed = [name for report in reports for name in report.failed_names]
        if failed:
            raise CiStepError(
                f"application tests failed on {entry.name}: {', '.join(failed)}", lines
            )
        count = sum(len(report.results) for report in reports)
        return StepResult(
            f"application tests {entry.name}",
            PASSED,
            f"{count} application tests passed or were skipped",
            lines,
        )

    return step


SERVING_POLL_SECONDS = 0.5
MAX_SERVING_WAIT_SECONDS = 30.0


def _tests_once_serving(name: str, wait_seconds: float) -> list[Any]:
    """Run the deployment's application tests once each routed server is running.

    Right after a deployment starts, its supervisor may still be recording
    a server as starting, so the tests retry for up to 30 s (or
    ``wait_seconds`` when shorter) before the error is raised.
    """
    from tether.deploy.changes import run_deployment_tests
    from tether.errors import ServingError

    deadline = time.monotonic() + min(wait_seconds, MAX_SERVING_WAIT_SECONDS)
    while True:
        try:
            return run_deployment_tests(name)
        except ServingError:
            if time.monotonic() > deadline:
                raise
            time.sleep(SERVING_POLL_SECONDS)


def _test_lines(tests: list[Any]) -> tuple[str, ...]:
    return tuple(
        f"{_state(result)} {result.get('name')}: {result.get('detail')}"
        for test in tests
        for result in test.results
        if not result.get("passed")
    )


def _state(result: dict[str, Any]) -> str:
    if result.get("skipped"):
        return "skipped"
    return "passed" if result.get("passed") else "FAILED"


def stop_staging(run: CiRun) -> StepResult | None:
    """Stop the staging deployments the run created; None when it created none."""
    from tether.deploy.lifecycle import stop_deployment

    if not run.staging:
        return None
    if run.options.keep_staging:
        names = ", ".join(run.staging)
        return StepResult(
            "stop staging", SKIPPED, f"kept running (--keep-staging): {names}"
        )
    lines, failed = [], False
    for name in run.staging:
        try:
            stopped = stop_deployment(name)
        except NotFoundError:
            continue  # its creation failed before it was recorded
        except Exception as error:  # cleanup goes on to the next deployment
            logger.exception("could not stop staging deployment %s", name)
            lines.append(f"{name}: {type(error).__name__}: {error}")
            failed = True
            continue
        lines.append(f"{name}: supervisor {stopped.supervisor}")
    status = FAILED if failed else PASSED
    detail = "could not stop every staging deployment" if failed else "stopped"
    return StepResult("stop staging", status, detail, tuple(lines))
