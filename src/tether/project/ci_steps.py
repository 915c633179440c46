"""The build steps of ``tether ci``: validate, datasets, pipelines, model tests, register."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.errors import NotFoundError
from tether.project.checks import add_project_to_path, check_project, resolve_path
from tether.project.ci import PASSED, SKIPPED, CiRun, CiStepError, Step, StepResult
from tether.project.spec import ModelEntry, PipelineEntry, ProjectSpec
from tether.store.records import ModelVersionRecord


def build_steps(spec: ProjectSpec) -> list[Step]:
    """Return the steps that build and test: validate, datasets, pipelines, models."""
    steps: list[Step] = [("validate", _validate), ("datasets", _datasets)]
    if spec.pipelines:
        for entry in spec.pipelines.values():
            steps.append((f"pipeline {entry.name}", _pipeline_step(entry)))
    else:
        steps.append(("pipelines", _not_declared("pipelines", "pipelines")))
    if spec.models:
        for model in spec.models.values():
            steps.append((f"model tests {model.name}", _model_tests_step(model)))
        for model in spec.models.values():
            steps.append((f"register {model.name}", _register_step(model)))
    else:
        steps.append(("model tests", _not_declared("model tests", "models")))
        steps.append(("register", _not_declared("register", "models")))
    return steps


def _not_declared(name: str, section: str) -> Any:
    def skip(run: CiRun) -> StepResult:
        return StepResult(name, SKIPPED, f"the project file declares no {section}")

    return skip


def _validate(run: CiRun) -> StepResult:
    problems = check_project(run.spec)
    if problems:
        raise CiStepError(
            f"{len(problems)} problem(s) in {run.spec.file.name}",
            tuple(str(problem) for problem in problems),
        )
    _remember_baseline(run)
    return StepResult(
        "validate", PASSED, f"{run.spec.file.name} and the code and files it names"
    )


def _remember_baseline(run: CiRun) -> None:
    from tether.models.registry import list_versions

    for name in run.spec.models:
        try:
            versions = list_versions(name)
        except NotFoundError:
            versions = []
        run.baseline[name] = max((v.version for v in versions), default=0)


def _datasets(run: CiRun) -> StepResult:
    from tether.data.acquisition import acquire, acquire_sql

    if not run.spec.datasets:
        return StepResult("datasets", SKIPPED, "the project file declares no datasets")
    lines = []
    for entry in run.spec.datasets.values():
        if entry.query is not None:
            acquired = acquire_sql(entry.name, entry.source, entry.query)
        else:
            source: Any = entry.source
            if not entry.source.startswith(("http://", "https://", "s3://")):
                source = resolve_path(run.spec, entry.source)
            acquired = acquire(
                entry.name, source, format=entry.format, timeout=entry.timeout
            )
        state = "new version" if acquired.new else "unchanged"
        lines.append(f"{acquired.version.uri}: {state}")
    return StepResult(
        "datasets", PASSED, f"{len(lines)} dataset(s) acquired", tuple(lines)
    )


def _pipeline_step(entry: PipelineEntry) -> Any:
    def step(run: CiRun) -> StepResult:
        from tether.pipelines.references import load_pipeline

        add_project_to_path(run.spec)
        pipeline = load_pipeline(entry.target)
        value = pipeline.run(
            executor=entry.executor, workers=entry.workers, **entry.params
        )
        run.values[entry.name] = value
        run.run_ids[entry.name] = str(pipeline.last_run_id)
        return StepResult(
            f"pipeline {entry.name}",
            PASSED,
            f"pipeline run {pipeline.last_run_id} of {entry.target} finished",
        )

    return step


def _model_tests_step(model: ModelEntry) -> Any:
    def step(run: CiRun) -> StepResult:
        from tether.models.testing import run_tests

        version = find_candidate(run, model)
        run.candidates[model.name] = version
        suite = _attach_suite(run, model)
        result = run_tests(version.uri, suite)
        lines = tuple(
            f"{'passed' if r.passed else 'FAILED'} {r.name}"
            f"{'' if r.required else ' (not required)'}: {r.message}"
            for r in result.results
        )
        failing = _gate_failures(model, result)
        if failing:
            raise CiStepError(
                f"{version.uri} failed the gate test(s) {', '.join(failing)}", lines
            )
        passed = sum(1 for r in result.results if r.passed)
        return StepResult(
            f"model tests {model.name}",
            PASSED,
            f"{version.uri}: {passed} of {len(result.results)} tests passed, gates met",
            lines,
        )

    return step


def _attach_suite(run: CiRun, model: ModelEntry) -> Any:
    """Attach the model's suite, so ``tether models test`` runs the same one later."""
    from tether.config import current_user
    from tether.models.testing import attach_suite
    from tether.models.testing.sources import is_reference
    from tether.project.load_models import inline_suite, inline_suite_yaml
    from tether.store import get_store

    if model.suite is None:
        suite = inline_suite(model)
        get_store().set_test_suite(
            model.name, {"yaml": inline_suite_yaml(model)}, actor=current_user()
        )
        return suite
    source = model.suite
    if not is_reference(source):
        source = str(resolve_path(run.spec, source))
    return attach_suite(model.name, source)


def _gate_failures(model: ModelEntry, result: Any) -> list[str]:
    by_name = {r.name: r for r in result.results}
    if not model.gates.tests:
        return [r.name for r in result.results if r.required and not r.passed]
    failing = []
    for name in model.gates.tests:
        found = by_name.get(name)
        if found is None:
            failing.append(f"{name} (not in the suite; check gates.tests)")
        elif not found.passed:
            failing.append(name)
    return failing


def find_candidate(run: CiRun, model: ModelEntry) -> ModelVersionRecord:
    """Return the version of ``model`` that this run built.

    It is the version whose URI the pipeline returned (as text, in a list or
    mapping, or as a registered version), else the newest version
    registered since the run began.

    Raises:
        CiStepError: no pipeline returned or registered a version of the model.
    """
    from tether.models.registry import get_version, list_versions

    names = [model.pipeline] if model.pipeline else list(run.values)
    for name in names:
        for uri in _model_uris(run.values.get(name)):
            if uri.startswith(f"models:/{model.name}/"):
                return get_version(uri)
    try:
        versions = list_versions(model.name)
    except NotFoundError:
        versions = []
    newer = [v for v in versions if v.version > run.baseline.get(model.name, 0)]
    if newer:
        return max(newer, key=lambda v: v.version)
    source = f"pipeline {model.pipeline}" if model.pipeline else "no pipeline"
    raise CiStepError(
        f"{source} returned or registered no version of model {model.name}; "
        "register it in a step with tether.models.register_model and return "
        "its URI from the pipeline"
    )


def _model_uris(value: Any) -> list[str]:
    if isinstance(value, ModelVersionRecord):
        return [value.uri]
    if isinstance(value, str):
        return [value] if value.startswith("models:/") else []
    if isinstance(value, Mapping):
        return [uri for item in value.values() for uri in _model_uris(item)]
    if isinstance(value, list | tuple):
        return [uri for item in value for uri in _model_uris(item)]
    return []


def _register_step(model: ModelEntry) -> Any:
    def step(run: CiRun) -> StepResult:
        from tether.models.registry import set_status, tag

        version = run.candidates[model.name]
        tags = {"ci.branch": run.source.branch or "unknown"}
        if run.source.commit:
            tags["ci.commit"] = run.source.commit
        tag(version.uri, tags)
        set_status(version.uri, "approved")
        return StepResult(
            f"register {model.name}",
            PASSED,
            f"{version.uri} is approved, tagged with its branch and commit",
        )

    return step
