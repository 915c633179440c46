"""Create, stop and remove deployments, and wait for their supervisor's work.

These functions run in the ``tether deploy`` command. The work itself
happens in the deployment's supervisor process (:mod:`tether.deploy.supervisor`),
which this module starts detached, in a session of its own, so that it
outlives the command. The two talk through the store: the command adds a
revision and the supervisor marks it applied or failed.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass

from tether.config import (
    ARTIFACTS_ENV,
    HOME_ENV,
    STORE_ENV,
    current_user,
    resolve,
)
from tether.deploy.paths import deployment_folder, supervisor_log
from tether.deploy.processes import is_process_of, pid_alive, terminate_pid
from tether.deploy.spec import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DeploymentSettings,
    ModelTarget,
    Routing,
    check_name,
    check_traffic,
)
from tether.errors import ConfigError, NotFoundError, ServingError
from tether.store import get_store
from tether.store.deployment_ops import (
    ACTIVE_STATUSES,
    DeploymentRecord,
    DeploymentTestRecord,
    RevisionRecord,
)

logger = logging.getLogger(__name__)

WAIT_POLL_SECONDS = 0.2
DEFAULT_WAIT_SECONDS = 300.0
# Time the supervisor gets beyond two grace periods (one for the gateway, one
# for the model servers) to write its final state before it gets SIGKILL.
STOP_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class ReleaseResult:
    """A revision after the supervisor finished with it, and its application tests.

    Attributes:
        tests: The test results stored while the revision was applied.
    """

    deployment: DeploymentRecord
    revision: RevisionRecord
    tests: list[DeploymentTestRecord]

    @property
    def applied(self) -> bool:
        """Whether the revision took effect."""
        return self.revision.status == "applied"

    @property
    def tests_failed(self) -> bool:
        """Whether a stored application test of this revision failed."""
        return any(not test.passed for test in self.tests)


@dataclass(frozen=True)
class StopResult:
    """The outcome of stopping a deployment.

    Attributes:
        supervisor: ``"terminated"``, ``"killed"`` or ``"not running"``.
        leftovers: Model servers that outlived the supervisor and were stopped by pid.
    """

    deployment: DeploymentRecord
    supervisor: str
    leftovers: int


def resolve_target(uri: str) -> ModelTarget:
    """Pin a ``models:/`` URI to the version it points at now.

    Raises:
        InvalidURIError: ``uri`` is not a model URI.
        NotFoundError: The model, version or alias does not exist.
    """
    from tether.models.registry import get_version

    record = get_version(uri)
    return ModelTarget(
        uri=record.uri, requested=uri, name=record.name, version=record.version
    )


def check_same_inputs(routing: Routing) -> None:
    """Raise ConfigError when the canary or shadow takes other inputs than the primary.

    Clients send one request shape to the gateway, so every version that
    gets requests must accept it: the same input names with the same types.
    """
    from tether.models.registry import get_version

    def inputs(target: ModelTarget) -> list[tuple[str, str]]:
        signature = get_version(target.uri).signature or {}
        return [
            (str(column.get("name")), str(column.get("type")))
            for column in signature.get("inputs", [])
        ]

    expected = inputs(routing.primary)
    for role in ("canary", "shadow"):
        target = getattr(routing, role)
        if target is None:
            continue
        found = inputs(target)
        if found != expected:
            missing = sorted({n for n, _ in expected} - {n for n, _ in found})
            extra = sorted({n for n, _ in found} - {n for n, _ in expected})
            detail = (
                "; ".join(
                    part
                    for part in (
                        f"it lacks {', '.join(missing)}" if missing else "",
                        f"it adds {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
                or "the same names have other types or order"
            )
            raise ConfigError(
                f"the {role} {target.uri} takes other inputs than the primary "
                f"{routing.primary.uri} ({detail}), so requests for one would fail "
                f"on the other; give a version of a model with the same signature",
                setting=role,
                value=target.uri,
            )


def create_deployment(
    name: str,
    model: str,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    canary: str | None = None,
    traffic: int = 0,
    sticky_header: str | None = None,
    shadow: str | None = None,
    settings: DeploymentSettings | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> ReleaseResult:
    """Record a deployment, start its supervisor and wait until revision 1 is done.

    The inputs are checked first, so a bad name, a taken name, an unknown
    model, a traffic outside 0 to 100 or a port in use raises before
    anything is recorded or started.

    Raises:
        ConfigError: An invalid input or a deployment that exists.
        NotFoundError: An unknown model, version or alias.
        ServingError: The port is in use, or the supervisor exited or timed
            out before it finished revision 1.
    """
    from tether.serving.server import check_port

    check_name(name)
    check_traffic(traffic)
    store = get_store()
    _require_new(name)
    routing = Routing(
        primary=resolve_target(model),
        canary=resolve_target(canary) if canary else None,
        traffic=traffic,
        sticky_header=sticky_header,
        shadow=resolve_target(shadow) if shadow else None,
    )
    check_same_inputs(routing)
    check_port(host, port)
    settings = settings or DeploymentSettings()
    record = store.add_deployment(
        name,
        host=host,
        port=port,
        settings=settings.to_dict(),
        routing=routing.to_dict(),
        actor=current_user(),
    )
    pid = spawn_supervisor(record)
    store.update_deployment(record.id, supervisor_pid=pid)
    logger.info("started the supervisor of deployment %s (pid %d)", name, pid)
    result = wait_for_revision(record.name, 1, wait_seconds)
    if result.applied:
        return result
    # A deployment whose first revision failed has nothing to serve, so its
    # supervisor stops the servers and exits. Waiting for that lets the
    # caller see the final status, with no process of the deployment left.
    grace = settings.stop_grace_seconds
    _wait_for_exit(pid, 2 * grace + STOP_MARGIN_SECONDS)
    return _release(name, result.revision)


def spawn_supervisor(record: DeploymentRecord) -> int:
    """Start the supervisor of ``record`` detached from this process; return its pid.

    It runs in a new session, with stdin from /dev/null and stdout and
    stderr appended to the deployment's ``supervisor.log``. The store and
    artifact locations are passed as absolute settings, so the supervisor
    does not depend on this process's working folder.
    """
    folder = deployment_folder(record.name)
    folder.mkdir(parents=True, exist_ok=True)
    settings = resolve()
    environment = {
        **os.environ,
        HOME_ENV: str(settings.home),
        STORE_ENV: settings.store_url,
        ARTIFACTS_ENV: settings.artifacts_url,
    }
    log_flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    file_actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(supervisor_log(folder)), log_flags, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    arguments = [sys.executable, "-m", "tether.deploy.supervisor", record.id]
    # posix_spawn returns a pid without a Popen object, which would warn when
    # it is garbage-collected while the supervisor still runs.
    return os.posix_spawn(
        sys.executable,
        arguments,
        environment,
        file_actions=file_actions,
        setsid=True,
        setsigmask=(),
    )


def wait_for_revision(name: str, revision: int, wait_seconds: float) -> ReleaseResult:
    """Wait until the supervisor of ``name`` applied or failed ``revision``.

    Raises:
        ServingError: The supervisor exited first, or ``wait_seconds`` passed.
    """
    store = get_store()
    deployment = store.get_deployment(name)
    deadline = time.monotonic() + wait_seconds
    while True:
        record = store.get_revision(deployment.id, revision)
        if record.status != "pending":
            return _release(name, record)
        current = store.get_deployment(name)
        pid = current.supervisor_pid
        if pid is None or not pid_alive(pid):
            record = store.get_revision(deployment.id, revision)
            if record.status != "pending":
                return _release(name, record)
            reason = f": {current.error}" if current.error else ""
            raise ServingError(
                f"the supervisor of deployment {name} exited before it finished revision "
                f"{revision}{reason}; read its log with `tether deploy logs {name}`"
            )
        if time.monotonic() >= deadline:
            raise ServingError(
                f"timed out after {wait_seconds:g} s waiting for revision {revision} of "
                f"deployment {name}; it may still finish, check `tether deploy status {name}`"
            )
        time.sleep(WAIT_POLL_SECONDS)


def _wait_for_exit(pid: int, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(WAIT_POLL_SECONDS)
    return True


def _release(name: str, revision: RevisionRecord) -> ReleaseResult:
    store = get_store()
    deployment = store.get_deployment(name)
    tests = [
        test
        for test in reversed(store.deployment_tests(deployment.id))
        if test.revision == revision.revision
    ]
    return ReleaseResult(deployment, revision, tests)


def stop_deployment(name: str) -> StopResult:
    """Stop the supervisor of ``name`` by pid, then any model server it left behind.

    The supervisor gets SIGTERM and stops the gateway and the servers
    itself. It gets SIGKILL when it is still running after two grace
    periods and a margin. Servers still running after that (checked by pid
    and port) get SIGTERM, then SIGKILL after the grace period.

    Raises:
        NotFoundError: No deployment has that name.
    """
    store = get_store()
    record = store.get_deployment(name)
    grace = DeploymentSettings.from_dict(record.settings).stop_grace_seconds
    supervisor = "not running"
    if record.supervisor_pid is not None:
        supervisor = terminate_pid(
            record.supervisor_pid, 2 * grace + STOP_MARGIN_SECONDS, record.id
        )
    current = store.get_deployment(name)
    leftovers = 0
    for process in record.processes + current.processes:
        pid, port = process.get("pid"), process.get("port")
        if pid is None or port is None:
            continue
        if terminate_pid(int(pid), grace, str(port)) != "not running":
            leftovers += 1
            logger.warning(
                "stopped model server %s (pid %s) left by the supervisor",
                process["uri"],
                pid,
            )
    status = "failed" if current.status == "failed" else "stopped"
    store.update_deployment(record.id, status=status, processes=[])
    store.record_deployment_event(
        name,
        "stop",
        current_user(),
        {"supervisor": supervisor, "leftover_servers": leftovers},
    )
    return StopResult(store.get_deployment(name), supervisor, leftovers)


def remove_deployment(name: str) -> None:
    """Delete a deployment that is not running, with its revisions, tests and logs.

    Raises:
        ConfigError: Its supervisor is still running; stop it first.
    """
    store = get_store()
    record = store.get_deployment(name)
    if supervisor_running(record):
        raise ConfigError(
            f"deployment {name} is running; stop it first with `tether deploy stop {name}`",
            setting="name",
            value=name,
        )
    if record.processes:
        # A supervisor that died leaves its servers recorded; stop them by
        # pid and port before their record goes, so none is left unnamed.
        stop_deployment(name)
    store.remove_deployment(name, actor=current_user())
    shutil.rmtree(deployment_folder(name), ignore_errors=True)


def supervisor_running(record: DeploymentRecord) -> bool:
    """Return whether the supervisor recorded for a deployment is running."""
    pid = record.supervisor_pid
    return pid is not None and is_process_of(pid, record.id)


def require_running(name: str) -> DeploymentRecord:
    """Return deployment ``name`` when its supervisor runs and a revision is in effect.

    Raises:
        NotFoundError: No deployment has that name.
        ConfigError: The deployment is not running.
    """
    record = get_store().get_deployment(name)
    if record.status not in ACTIVE_STATUSES or not supervisor_running(record):
        state = record.status if record.status not in ACTIVE_STATUSES else "not running"
        raise ConfigError(
            f"deployment {name} is {state}; clean it up with `tether deploy stop "
            f"{name}` and `tether deploy remove {name}`, then create it again with "
            "`tether deploy create`",
            setting="name",
            value=name,
        )
    if record.revision is None:
        raise ConfigError(
            f"deployment {name} is still starting; wait for `tether deploy status {name}` "
            "to show it running",
            setting="name",
            value=name,
        )
    return record


def wake_supervisor(record: DeploymentRecord) -> None:
    """Send SIGHUP to the supervisor, so it looks for a new revision at once."""
    pid = record.supervisor_pid
    if pid is not None and is_process_of(pid, record.id):
        os.kill(pid, signal.SIGHUP)


def _require_new(name: str) -> None:
    try:
        get_store().get_deployment(name)
    except NotFoundError:
        return
    raise ConfigError(
        f"deployment {name!r} exists; pick another name, or stop and remove it with "
        f"`tether deploy stop {name}` and `tether deploy remove {name}`",
        setting="name",
        value=name,
    )
