"""``tether ci``: run what a project file declares, step by step, and report each step.

The steps, in order:

1. ``validate``: the project file, and the code and files it names;
2. ``datasets``: acquire each declared dataset;
3. ``pipeline NAME``: run each declared pipeline;
4. ``model tests NAME``: test the version the pipeline registered, and check its gates;
5. ``register NAME``: mark the tested version ``approved``, tagged with the commit;
6. ``staging NAME``: create each staging deployment with that version;
7. ``application tests NAME``: test the staging deployment over HTTP;
8. ``release ...``: on a releasing branch, when the release policy allows,
   move each model's gate alias and give each production deployment the
   new version as its canary. The previous canary is promoted first when
   its rule holds. Then the declared monitors, rules and triggers are created;
9. ``stop staging``: stop the staging deployments this run created.

A step that the project file does not declare is reported as skipped, and
so is every step after a failed one, except the final cleanup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tether.errors import TetherError
from tether.project.branch import BuildSource, detect_source
from tether.project.problems import ProjectFileError
from tether.project.spec import ProjectSpec
from tether.store.records import ModelVersionRecord

logger = logging.getLogger(__name__)

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class StepResult:
    """The outcome of one step.

    Attributes:
        status: ``passed``, ``failed`` or ``skipped``.
        detail: One line: what the step did, or why it failed or was skipped.
        lines: More detail, one item per line (each test, each version).
    """

    name: str
    status: str
    detail: str
    lines: tuple[str, ...] = ()


class CiStepError(TetherError):
    """A step failed; raised inside a step to end it with a message and details."""

    def __init__(self, message: str, lines: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.lines = lines


@dataclass(frozen=True)
class CiOptions:
    """Options of a run.

    Attributes:
        release: Release under the ``manual`` policy (``--release``).
        no_release: Do not release, whatever the branch (``--no-release``).
        keep_staging: Leave the staging deployments running at the end.
        branch: The branch, in place of the one the CI variables or git name.
        wait_seconds: How long a deployment change may take.
    """

    release: bool = False
    no_release: bool = False
    keep_staging: bool = False
    branch: str | None = None
    wait_seconds: float = 300.0


@dataclass
class CiRun:
    """The state that the steps of one run share: the project, options and results.

    Attributes:
        baseline: The newest version of each declared model before the pipelines ran.
        values: What each pipeline returned, by pipeline name.
        run_ids: Each pipeline's run id, by pipeline name.
        candidates: The version of each model that this run tests and releases.
        staging: The staging deployments this run created.
    """

    spec: ProjectSpec
    options: CiOptions
    source: BuildSource
    baseline: dict[str, int] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    candidates: dict[str, ModelVersionRecord] = field(default_factory=dict)
    staging: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CiReport:
    """Every step of a run, in order.

    Attributes:
        release: Whether this run was allowed to release, and why (or why not).
    """

    steps: list[StepResult]
    source: BuildSource
    release: tuple[bool, str]

    @property
    def passed(self) -> bool:
        """Whether no step failed."""
        return not self.failed_steps

    @property
    def failed_steps(self) -> list[StepResult]:
        """The steps that failed."""
        return [step for step in self.steps if step.status == FAILED]


Step = tuple[str, Callable[[CiRun], StepResult]]


def run_ci(
    spec: ProjectSpec,
    options: CiOptions | None = None,
    *,
    on_step: Callable[[StepResult], None] | None = None,
) -> CiReport:
    """Run every step of ``tether ci`` on a loaded project and return the report.

    Args:
        on_step: Called with each step's result as soon as it is known.
    """
    from tether.project.ci_deploy import staging_steps, stop_staging
    from tether.project.ci_steps import build_steps
    from tether.project.release import release_decision, release_steps

    options = options or CiOptions()
    source = detect_source(spec.root)
    if options.branch is not None:
        source = replace(source, branch=options.branch, origin="--branch")
    run = CiRun(spec, options, source)
    decision = release_decision(spec, options, source)
    steps = [*build_steps(spec), *staging_steps(spec), *release_steps(spec, decision)]
    results: list[StepResult] = []
    try:
        failed: str | None = None
        for name, action in steps:
            if failed is not None:
                result = StepResult(name, SKIPPED, f"not run, because {failed} failed")
            else:
                result = _run_step(name, action, run)
                failed = name if result.status == FAILED else None
            results.append(result)
            if on_step is not None:
                on_step(result)
    finally:
        cleanup = stop_staging(run)
        if cleanup is not None:
            results.append(cleanup)
            if on_step is not None:
                on_step(cleanup)
    return CiReport(results, source, decision)


def invalid_file_report(
    error: ProjectFileError, folder: Path, options: CiOptions | None = None
) -> CiReport:
    """Return the report of a run whose project file did not load: validate failed."""
    options = options or CiOptions()
    source = detect_source(folder)
    if options.branch is not None:
        source = replace(source, branch=options.branch, origin="--branch")
    problems = tuple(str(problem) for problem in error.problems)
    failed = StepResult(
        "validate", FAILED, f"{len(problems)} problem(s) in the project file", problems
    )
    return CiReport([failed], source, (False, "the project file is invalid"))


def _run_step(
    name: str, action: Callable[[CiRun], StepResult], run: CiRun
) -> StepResult:
    logger.info("tether ci: %s", name)
    try:
        return action(run)
    except CiStepError as failure:
        return StepResult(name, FAILED, failure.message, failure.lines)
    except TetherError as error:
        return StepResult(name, FAILED, str(error))
    except Exception as error:  # a pipeline's own code can raise anything
        logger.exception("step %s raised", name)
        return StepResult(name, FAILED, f"{type(error).__name__}: {error}")
