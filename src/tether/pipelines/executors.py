"""Executors of step calls: threads of this process, local processes, or Ray.

Every executor runs the same :func:`tether.pipelines.worker.execute` on a
:class:`~tether.pipelines.worker.StepTask`, so caching, retries, logs and
errors behave the same on all of them. They differ in where the call runs and
in how inputs travel: the in-process executor hands values over as they are,
the others pass references to the artifact store.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
from abc import ABC, abstractmethod
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from types import FrameType
from typing import Any

from tether.errors import ConfigError, PipelineError
from tether.pipelines.step_spec import Resources
from tether.pipelines.worker import StepResult, StepTask, execute

logger = logging.getLogger("tether.pipelines")

EXECUTOR_ENV = "TETHER_EXECUTOR"
RAY_ADDRESS_ENV = "TETHER_RAY_ADDRESS"
EXECUTORS = ("inprocess", "processes", "ray")
RAY_CONNECT_TIMEOUT_SECONDS = 5.0


class Executor(ABC):
    """Runs step tasks and returns a future of each result."""

    name: str = ""
    remote: bool = False
    """Whether tasks run in other processes, so inputs travel by reference."""

    @abstractmethod
    def submit(self, task: StepTask, resources: Resources) -> Future[StepResult]:
        """Start ``task`` and return the future of its result."""

    def close(self) -> None:  # noqa: B027 - executors without resources need no close
        """Release workers and connections."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Run steps on threads of this process; with one worker, in the calling thread.

    Independent steps run at the same time on up to ``workers`` threads.
    NumPy, pandas, scikit-learn and I/O release the GIL for much of their
    work, so threads overlap well; pure-Python steps take turns.
    """

    name = "inprocess"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = _workers(workers)
        self._pool = (
            ThreadPoolExecutor(self.workers, thread_name_prefix="tether-step")
            if self.workers > 1
            else None
        )

    def submit(self, task: StepTask, resources: Resources) -> Future[StepResult]:
        if self._pool is not None:
            return self._pool.submit(execute, task)
        future: Future[StepResult] = Future()
        future.set_result(execute(task))
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class ProcessExecutor(Executor):
    """Run steps in a pool of local worker processes, started with ``spawn``.

    ``spawn`` starts each worker as a fresh interpreter, which is safe with
    the store's connections and the writer thread of the parent. Workers
    import the step's module by name, so steps must be defined at module
    level. A worker stays up for the whole pipeline run.
    """

    name = "processes"
    remote = True

    def __init__(self, workers: int | None = None) -> None:
        self.workers = _workers(workers)
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_pool_worker,
        )
        # The pool starts a worker only when a task finds none idle, and a
        # worker takes seconds to import the worker module. Starting them all
        # now lets the first independent steps overlap instead of queueing.
        for _ in range(self.workers):
            self._pool.submit(_warm_up)

    def submit(self, task: StepTask, resources: Resources) -> Future[StepResult]:
        return self._pool.submit(_execute_in_pool_worker, task)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(Executor):
    """Run steps as Ray tasks on a cluster, or on a local cluster started here.

    Each step's ``cpus``, ``memory`` and ``gpus`` become the task's
    ``num_cpus``, ``memory`` and ``num_gpus``. Workers read and write the same
    store and artifact location as the driver, so on a cluster of several
    machines point both at shared services (PostgreSQL, object storage).
    """

    name = "ray"
    remote = True

    def __init__(self, address: str | None = None, **init_options: Any) -> None:
        try:
            import ray
        except ImportError:
            raise PipelineError(
                "the ray executor needs Ray, which is not installed; run "
                "pip install 'ray>=2.9' or choose executor='processes'"
            ) from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            self._connect(address, init_options)
        self._remote = ray.remote(max_retries=0)(execute)

    def _connect(self, address: str | None, init_options: dict[str, Any]) -> None:
        if address is not None:
            _check_reachable(address)
        try:
            if address is None:
                start_local_ray(**init_options)
            else:
                self._ray.init(address=address, **_ray_options(init_options))
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a new local cluster"
            raise PipelineError(
                f"cannot start or reach the Ray cluster at {where}: {exc}; check the "
                "address (ray://HOST:10001 or auto) and that the cluster is running"
            ) from exc
        self._started = True
        logger.info("connected to Ray at %s", address or "a new local cluster")

    def submit(self, task: StepTask, resources: Resources) -> Future[StepResult]:
        options: dict[str, Any] = {"num_cpus": resources.cpus}
        if resources.memory is not None:
            options["memory"] = resources.memory
        if resources.gpus:
            options["num_gpus"] = resources.gpus
        reference = self._remote.options(**options).remote(task)
        future: Future[StepResult] = reference.future()
        return future

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")
CLOSED_LOCAL_PROXY = "http://127.0.0.1:9"
RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""A proxy address on which nothing listens: requests sent there fail at once."""


def start_local_ray(**init_options: Any) -> None:
    """Start a local Ray cluster that listens on 127.0.0.1 and calls no outside host.

    Its node address stays 127.0.0.1, so its servers listen on loopback only.
    Ray 2.60 starts a dashboard process even with ``include_dashboard=False``,
    and its usage module requests cloud metadata addresses (169.254.169.254)
    to learn which cloud it runs on, whether or not usage statistics are enabled. While the
    cluster's processes start, the HTTP proxy variables name a closed local
    port, so those requests fail at once; usage statistics are off. Step
    workers get the caller's own proxy settings back through the runtime
    environment.
    """
    local_only = {"RAY_USAGE_STATS_ENABLED": "0", RAY_CLUSTER_ENV: "0"}
    saved = {name: os.environ.get(name) for name in (*PROXY_VARIABLES, *local_only)}
    # Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it is imported. With it
    # off, Ray keeps 127.0.0.1 as the node address instead of replacing it by
    # the machine's network address, so its servers listen on loopback only.
    os.environ.update(local_only)
    try:
        import ray

        _keep_loopback(ray)
        options = _ray_options(init_options)
        options.setdefault("_node_ip_address", "127.0.0.1")
        worker_env = options["runtime_env"].setdefault("env_vars", {})
        for name in PROXY_VARIABLES:
            worker_env.setdefault(name, saved[name] or "")
        os.environ.update(dict.fromkeys(PROXY_VARIABLES, CLOSED_LOCAL_PROXY))
        ray.init(**options)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _keep_loopback(ray: Any) -> None:
    """Keep 127.0.0.1 as the node address when Ray was imported before the variable."""
    # NOTE: ray._private.ray_constants is private; Ray 2.60 reads this flag
    # from there each time it picks the node address.
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
        constants.ENABLE_RAY_CLUSTER = False


def _ray_options(init_options: dict[str, Any]) -> dict[str, Any]:
    """Return ``ray.init`` options: quiet, no dashboard, the driver's import path."""
    paths = [p for p in sys.path if p]
    options: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "runtime_env": {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}},
        **init_options,
    }
    options["runtime_env"] = {
        **options["runtime_env"],
        "env_vars": dict(options["runtime_env"].get("env_vars", {})),
    }
    return options


def _check_reachable(address: str) -> None:
    """Raise PipelineError unless a TCP connection to a HOST:PORT address opens.

    ``ray.init`` keeps retrying an address that refuses connections, so a typo
    would hang the pipeline instead of failing it.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms are resolved by Ray itself.
    try:
        with socket.create_connection(
            (host, int(port)), timeout=RAY_CONNECT_TIMEOUT_SECONDS
        ):
            return
    except OSError as exc:
        raise PipelineError(
            f"cannot start or reach the Ray cluster at {address}: {exc.strerror or exc}; "
            "check the address (HOST:6379 for the head node, ray://HOST:10001 for Ray "
            "Client, or auto) and that the cluster is running"
        ) from None


def _warm_up() -> None:
    """Do nothing: submitted once per worker so the pool starts them all."""


_running_step = False
"""Whether this pool worker process is running a step now."""


def _init_pool_worker() -> None:
    """Set how a pool worker process handles SIGTERM and SIGINT, before any task.

    The pool ends its workers with SIGTERM when it breaks because a worker
    died, so SIGTERM keeps its default action: the worker exits at once,
    without a traceback, and the driver records its step run as failed.
    Ctrl-C sends SIGINT to the driver and to its workers. A worker that runs
    a step raises KeyboardInterrupt in it, so the step run is KILLED as in the
    driver. An idle worker ignores the signal and exits when the driver shuts
    the pool down. A worker of a driver that ignores SIGINT, such as a
    background job, inherits that and keeps ignoring it.
    """
    from tether.tracking.signals import keep_default_sigterm

    keep_default_sigterm()
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupt_running_step)


def _interrupt_running_step(signum: int, frame: FrameType | None) -> None:
    if _running_step:
        raise KeyboardInterrupt


def _execute_in_pool_worker(task: StepTask) -> StepResult:
    global _running_step
    _running_step = True
    try:
        return execute(task)
    finally:
        _running_step = False


def make_executor(
    executor: str | Executor | None = None,
    *,
    workers: int | None = None,
    address: str | None = None,
) -> Executor:
    """Return the executor named by ``executor``, else ``TETHER_EXECUTOR``, else in-process.

    Args:
        executor: ``"inprocess"``, ``"processes"``, ``"ray"``, or an executor.
        workers: Threads or processes of the local executors; default: CPU count.
        address: Ray cluster address; default ``TETHER_RAY_ADDRESS``, else a
            new local cluster. An address without ``executor`` chooses
            ``"ray"``.

    Raises:
        ConfigError: the executor is unknown, or ``address`` is given with
            another executor than ``"ray"``.
    """
    if isinstance(executor, Executor):
        return executor
    name = executor_name(executor, address)
    if name == "inprocess":
        return InProcessExecutor(workers)
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "ray":
        return RayExecutor(address or os.environ.get(RAY_ADDRESS_ENV) or None)
    raise ConfigError(
        f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}",
        setting=EXECUTOR_ENV,
        value=name,
    )


def executor_name(executor: str | None, address: str | None = None) -> str:
    """Return the name of the executor that ``executor`` and ``address`` choose.

    An address means Ray: without ``executor`` it chooses ``"ray"`` (over
    ``TETHER_EXECUTOR``), and with another executor it is an error, because
    that executor would ignore it.
    """
    if address is not None and executor is None:
        return "ray"
    name = executor or os.environ.get(EXECUTOR_ENV) or "inprocess"
    if address is not None and name != "ray":
        raise ConfigError(
            f"a Ray address ({address}) was given with the {name} executor, which "
            "does not use it; choose the ray executor or leave the address out",
            setting="address",
            value=address,
        )
    return name


def _workers(workers: int | None) -> int:
    if workers is None:
        return max(os.cpu_count() or 1, 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(
            f"invalid workers {workers!r}; use a whole number of 1 or more",
            setting="workers",
            value=workers,
        )
    return workers
