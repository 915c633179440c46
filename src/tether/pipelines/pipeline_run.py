"""``@tether.pipeline``: a function whose step calls form a graph that runs as one run.

Calling a pipeline first calls its function to build the step graph (no step
runs yet), then runs the graph on the chosen executor. The pipeline run
stores ``pipeline.json``: the function, the arguments, the executor and the
graph, which ``tether pipeline explain`` and ``resume`` read.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import PurePath
from typing import Any, Generic, ParamSpec, TypeVar

from tether.artifacts.materializers import is_json, json_text, plain_json
from tether.config import resolve
from tether.errors import PipelineError
from tether.pipelines import context as ctx
from tether.pipelines.cache import CachedOutputs
from tether.pipelines.executors import Executor, make_executor
from tether.pipelines.graph import StepGraph
from tether.pipelines.history import PIPELINE_FILE
from tether.pipelines.scheduler import PipelineState, resolve_returned, run_graph
from tether.tracking.run import FAILED, FINISHED, KILLED, Run, start_run

P = ParamSpec("P")
R = TypeVar("R")

RUN_OPTIONS = frozenset(
    {
        "reporter",
        "force",
        "executor",
        "workers",
        "address",
        "resume",
        "parent_run_id",
        "run_id",
    }
)


class Pipeline(Generic[P, R]):
    """A pipeline function. Call it to run it, or use :meth:`run` for options.

    Example:
        >>> @tether.pipeline
        ... def flights(max_depth: int = 6) -> None:
        ...     frame = prepare(acquire())
        ...     train(frame, max_depth=max_depth)
        >>> flights.run(max_depth=8, executor="processes")
    """

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        experiment: str | None = None,
    ) -> None:
        self.function = function
        self.name = name or function.__name__
        self.experiment = experiment or self.name
        functools.update_wrapper(self, function)
        self.last_run_id: str | None = None
        reserved = RUN_OPTIONS & set(inspect.signature(function).parameters)
        if reserved:
            raise PipelineError(
                f"pipeline {self.name!r} has parameter(s) {', '.join(sorted(reserved))}, "
                "which Pipeline.run uses for its options; rename them"
            )

    def check_arguments(self, names: list[str]) -> None:
        """Raise ConfigError unless ``names`` are parameters and cover the required ones.

        Sweeps and schedules check their arguments this way when they are
        defined, so a mistake fails at once instead of in every run.
        """
        from tether.errors import ConfigError

        parameters = inspect.signature(self.function).parameters
        unknown = [name for name in names if name not in parameters]
        if unknown:
            raise ConfigError(
                f"pipeline {self.name!r} has no parameter {', '.join(unknown)}; its "
                f"parameters are {', '.join(parameters) or 'none'}",
                setting="params",
                value=unknown,
            )
        missing = [
            name
            for name, parameter in parameters.items()
            if parameter.default is inspect.Parameter.empty and name not in names
        ]
        if missing:
            raise ConfigError(
                f"pipeline {self.name!r} needs a value for {', '.join(missing)}; pass "
                "it as a param",
                setting="params",
                value=missing,
            )

    @property
    def reference(self) -> str:
        """Return ``module:qualname``, which imports the pipeline elsewhere."""
        return f"{self.function.__module__}:{self.function.__qualname__}"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.run(*args, **kwargs)  # type: ignore[arg-type]

    def run(
        self,
        *args: Any,
        reporter: ctx.Reporter | None = None,
        force: bool = False,
        executor: str | Executor | None = None,
        workers: int | None = None,
        address: str | None = None,
        resume: str | None = None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
        **kwargs: Any,
    ) -> R:
        """Run the pipeline as a run of kind "pipeline" and return its value.

        Args:
            reporter: Called with a :class:`StepEvent` as each step starts and ends.
            force: Run every step even when a cached result exists.
            executor: ``"inprocess"`` (default), ``"processes"``, ``"ray"``, or
                an executor; ``TETHER_EXECUTOR`` sets the default.
            workers: Threads or processes of the local executors.
            address: Ray cluster address; by default a new local cluster.
            resume: The id of an earlier run of this pipeline whose finished
                steps are reused when their key is unchanged (see
                ``tether pipeline resume``).
            parent_run_id: Make the pipeline run a child of this run (a sweep's).
            run_id: The id of the new pipeline run, chosen by the caller.
        """
        if ctx.current_build() is not None:
            raise PipelineError(
                f"pipeline {self.name!r} cannot be called while another pipeline "
                "is being built; call its steps directly instead"
            )
        try:
            bound = self._bind(args, kwargs)
            reuse = _finished_steps(resume) if resume else {}
            # Before the run starts, so that the run's captured output does not
            # take in what Ray prints while it starts a cluster.
            runner = make_executor(executor, workers=workers, address=address)
        except Exception as exc:
            # Invalid arguments and an executor that cannot start still leave
            # a FAILED run with the error.
            self._start(parent_run_id, run_id).end(FAILED, error=_error_text(exc))
            raise
        run = self._start(parent_run_id, run_id)
        try:
            try:
                value = self._execute(run, bound, runner, reporter, force, reuse)
            finally:
                # An executor passed in belongs to the caller, who may share it.
                if runner is not executor:
                    runner.close()
        except KeyboardInterrupt as exc:
            run.end(KILLED, error=str(exc) or "interrupted")
            raise
        except BaseException as exc:
            run.end(FAILED, error=_error_text(exc))
            raise
        run.end(FINISHED)
        return value  # type: ignore[no-any-return]

    def _start(self, parent_run_id: str | None, run_id: str | None) -> Run:
        run = start_run(
            experiment=self.experiment,
            name=self.name,
            kind="pipeline",
            nested=False,
            parent_id=parent_run_id,
            run_id=run_id,
        )
        self.last_run_id = run.id
        return run

    def _bind(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> inspect.BoundArguments:
        try:
            bound = inspect.signature(self.function).bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(
                f"pipeline {self.name!r} was called with invalid arguments: {exc}"
            ) from None
        bound.apply_defaults()
        return bound

    def _execute(
        self,
        run: Run,
        bound: inspect.BoundArguments,
        executor: Executor,
        reporter: ctx.Reporter | None,
        force: bool,
        reuse: dict[str, CachedOutputs],
    ) -> Any:
        recorded, _, _ = recorded_arguments(bound.arguments)
        run.log_params(
            {k: v if isinstance(v, str) else json_text(v) for k, v in recorded.items()}
        )
        graph = StepGraph()
        ctx.set_build(ctx.BuildContext(graph))
        try:
            returned = self.function(*bound.args, **bound.kwargs)
        finally:
            ctx.set_build(None)
        graph.order()
        # Not log_dict, which sorts keys: a dict argument keeps its key order,
        # which a resumed run passes on and the steps' cache keys depend on.
        record = json.dumps(self._record(bound, executor, graph, force), indent=2)
        run.log_bytes(record.encode(), PIPELINE_FILE, media_type="application/json")
        settings = resolve()
        state = PipelineState(
            run_id=run.id,
            experiment=run.experiment,
            source={k: v for k, v in run.source.items() if k != "process"},
            reporter=reporter or ctx.log_reporter,
            force=force,
            settings={
                "store": settings.store_url,
                "artifacts": settings.artifacts_url,
                "home": str(settings.home),
            },
            reuse=reuse,
        )
        done = run_graph(graph, executor, state)
        return resolve_returned(returned, done)

    def _record(
        self,
        bound: inspect.BoundArguments,
        executor: Executor,
        graph: StepGraph,
        force: bool,
    ) -> dict[str, Any]:
        recorded, paths, unrecorded = recorded_arguments(bound.arguments)
        return {
            "pipeline": self.name,
            "reference": self.reference,
            "arguments": recorded,
            "path_arguments": paths,
            "unrecorded_arguments": unrecorded,
            "executor": executor.name,
            "force": force,
            "steps": graph.describe(),
        }


def pipeline(
    function: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    experiment: str | None = None,
) -> Any:
    """Make ``function`` a pipeline whose ``@tether.step`` calls form its graph."""

    def decorate(fn: Callable[P, R]) -> Pipeline[P, R]:
        return Pipeline(fn, name=name, experiment=experiment)

    return decorate(function) if function is not None else decorate


def recorded_arguments(
    arguments: dict[str, Any],
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Split a pipeline's arguments into what its run records and what it cannot.

    Returns the recorded arguments (JSON values, and ``Path`` values as their
    text), the names of the ``Path`` arguments, and the sorted names of the
    arguments that are not recorded.
    """
    recorded: dict[str, Any] = {}
    paths: list[str] = []
    for name, value in arguments.items():
        if isinstance(value, PurePath):
            recorded[name] = str(value)
            paths.append(name)
        elif is_json(value):
            recorded[name] = plain_json(value)
    unrecorded = sorted(set(arguments) - set(recorded))
    return recorded, paths, unrecorded


def _error_text(exc: BaseException) -> str:
    """Return the pipeline run's error: the failed step, the error type and text."""
    from tether.pipelines.scheduler import failed_step

    text = f"{type(exc).__name__}: {exc}"
    step = failed_step(exc)
    if step is None or f"step {step[0]!r}" in text:
        return text
    return f"step {step[0]!r} failed: {text}"


def _finished_steps(run_id: str) -> dict[str, CachedOutputs]:
    from tether.pipelines.history import finished_steps

    return finished_steps(run_id)
