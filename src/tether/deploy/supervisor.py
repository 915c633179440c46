"""The supervisor process of one deployment: the gateway and the model servers.

``python -m tether.deploy.supervisor DEPLOYMENT_ID`` runs until SIGTERM. In
one asyncio event loop it

- serves the gateway (:mod:`tether.deploy.gateway`) on uvicorn;
- applies the deployment's pending revisions in order: start a server for
  each new version, wait until it is ready, run the application tests when
  the revision requests them, switch the gateway's routing, wait for the
  requests in flight to the servers that left the routing, then stop those;
- restarts a model server that exits, after a backoff that doubles with each
  exit in a row (1 s, 2 s, 4 s, up to 30 s) and resets once the server ran
  for 60 s;
- on SIGTERM stops the gateway, then every server (SIGTERM, then SIGKILL
  after the deployment's grace period), and marks the deployment stopped.

It wakes up for a new revision on SIGHUP, and looks for one every 0.5 s in
any case. Its state (status, pid, servers) is written to the store after
every change. If the first revision fails, the deployment is marked failed
and the supervisor exits with code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

import uvicorn

from tether.deploy.application_tests import ApplicationTestReport, run_tests_on_version
from tether.deploy.gateway import Gateway
from tether.deploy.paths import deployment_folder, server_log, shadow_log
from tether.deploy.processes import ServerProcess, free_port
from tether.deploy.spec import DeploymentSettings, Routing
from tether.errors import ServingError, TetherError
from tether.store import get_store
from tether.store.deployment_ops import DeploymentRecord, RevisionRecord

logger = logging.getLogger("tether.deploy.supervisor")

T = TypeVar("T")

POLL_SECONDS = 0.5
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 60.0
DRAIN_TIMEOUT_SECONDS = 60.0


def restart_delay(exits_in_a_row: int) -> float:
    """Return the pause before restarting a server that exited ``exits_in_a_row`` times."""
    exponent = max(0, exits_in_a_row - 1)
    return float(min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**exponent))


class _GatewayServer(uvicorn.Server):
    """uvicorn without its signal handlers, because the supervisor handles SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Supervisor:
    """Runs one deployment; see the module docstring."""

    def __init__(self, record: DeploymentRecord) -> None:
        self.record = record
        self.store = get_store()
        self.settings = DeploymentSettings.from_dict(record.settings)
        self.folder = deployment_folder(record.name)
        self.gateway = Gateway(record.name, shadow_log(self.folder))
        self.servers: dict[str, ServerProcess] = {}
        self.routing: Routing | None = None
        self.revision: int | None = None
        self.error: str | None = None
        self._last_failure = ""
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> int:
        """Serve the deployment until SIGTERM; return the process exit code."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._request_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, self._wake.set)
        await self._call(
            self.store.update_deployment,
            self.record.id,
            supervisor_pid=os.getpid(),
            error=None,
        )
        logger.info(
            "supervisor of deployment %s started (pid %d)",
            self.record.name,
            os.getpid(),
        )
        server, serving = await self._start_gateway()
        watcher = asyncio.create_task(self._watch_servers())
        try:
            if server is not None:
                await self._apply_revisions()
        finally:
            watcher.cancel()
            await self._shutdown(server, serving)
        return 1 if self.error else 0

    def _request_stop(self, signum: int) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        self._stop.set()
        self._wake.set()

    async def _start_gateway(
        self,
    ) -> tuple[_GatewayServer | None, asyncio.Task[None] | None]:
        host, port = self.record.host, self.record.port
        try:
            listener = _bind(host, port)
        except OSError as exc:
            self.error = (
                f"the gateway cannot listen on {host}:{port}: {exc.strerror}; pick another "
                "port with --port"
            )
            logger.error("%s", self.error)
            return None, None
        config = uvicorn.Config(
            self.gateway.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(self.settings.stop_grace_seconds),
        )
        server = _GatewayServer(config)
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        if serving.done():
            self.error = (
                f"the gateway on {host}:{port} failed to start; see the log above"
            )
            logger.error("%s", self.error)
            return None, None
        logger.info("gateway listening on http://%s:%d", host, port)
        return server, serving

    async def _apply_revisions(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            pending = await self._call(self.store.next_pending_revision, self.record.id)
            if pending is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                continue
            applying = asyncio.create_task(self._apply(pending))
            stopping = asyncio.create_task(self._stop.wait())
            await asyncio.wait(
                {applying, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            stopping.cancel()
            if not applying.done():
                applying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await applying
                return
            if not applying.result() and self.revision is None:
                self.error = f"revision {pending.revision} failed: {self._last_failure}"
                return

    async def _apply(self, revision: RevisionRecord) -> bool:
        """Apply one revision; return whether it took effect."""
        number = revision.revision
        try:
            routing = Routing.from_dict(revision.routing)
        except (TetherError, KeyError, TypeError, ValueError) as exc:
            await self._fail(revision, f"the routing is invalid: {exc}")
            return False
        if revision.base_revision != self.revision:
            await self._fail(
                revision,
                f"it was requested on revision {revision.base_revision}, but revision "
                f"{self.revision} is in effect; request the change again",
            )
            return False
        logger.info(
            "applying revision %d (%s, requested by %s): %s",
            number,
            revision.action,
            revision.actor,
            routing.describe(),
        )
        started = self._start_new_servers(routing)
        await self._report()
        try:
            await self._wait_ready(routing, started)
        except ServingError as exc:
            await self._discard(started)
            await self._fail(revision, str(exc))
            return False
        if revision.run_tests:
            reports = await asyncio.to_thread(self._run_tests, routing, number)
            failed = [report for report in reports if not report.passed]
            if failed:
                await self._discard(started)
                await self._fail(revision, _failed_tests_message(failed))
                return False
        await self._switch(revision, routing)
        return True

    def _start_new_servers(self, routing: Routing) -> list[ServerProcess]:
        started = []
        for target in routing.targets().values():
            if target.uri in self.servers:
                continue
            server = ServerProcess(target, free_port(), server_log(self.folder, target))
            server.start()
            self.servers[target.uri] = server
            started.append(server)
        return started

    async def _wait_ready(self, routing: Routing, started: list[ServerProcess]) -> None:
        """Wait for the new servers, and for kept servers that are restarting."""
        timeout = self.settings.ready_timeout_seconds
        waits = [asyncio.to_thread(server.wait_ready, timeout) for server in started]
        await asyncio.gather(*waits)
        for server in started:
            server.state = "running"
        deadline = time.monotonic() + timeout
        for target in routing.targets().values():
            server = self.servers[target.uri]
            while server.state != "running":
                if time.monotonic() >= deadline:
                    raise ServingError(
                        f"model server {target.uri} is {server.state} and was not ready "
                        f"within {timeout:g} s; see its log {server.log_path}"
                    )
                await asyncio.sleep(0.1)

    def _run_tests(
        self, routing: Routing, revision: int
    ) -> list[ApplicationTestReport]:
        """Run the application tests on the versions that serve clients, storing each result."""
        reports = []
        for target in routing.routed_targets():
            server = self.servers[target.uri]
            report = run_tests_on_version(server.url, target.uri, self.settings.tests)
            self.store.add_deployment_test(
                self.record.id,
                revision=revision,
                model_uri=target.uri,
                passed=report.passed,
                results=report.to_list(),
            )
            outcome = (
                "passed"
                if report.passed
                else "failed: " + ", ".join(report.failed_names)
            )
            logger.info("application tests of %s %s", target.uri, outcome)
            reports.append(report)
        return reports

    async def _switch(self, revision: RevisionRecord, routing: Routing) -> None:
        previous = self.routing
        kept = set(routing.targets_by_uri())
        urls = {uri: self.servers[uri].url for uri in kept}
        self.gateway.switch(revision.revision, routing, urls)
        self.routing = routing
        self.revision = revision.revision
        leaving = [uri for uri in self.servers if uri not in kept]
        if leaving and not await self.gateway.drain(leaving, DRAIN_TIMEOUT_SECONDS):
            logger.warning(
                "requests to %s were still in flight %g s after the switch; stopping anyway",
                ", ".join(leaving),
                DRAIN_TIMEOUT_SECONDS,
            )
        await self._discard([self.servers[uri] for uri in leaving])
        details: dict[str, Any] = {
            "previous_primary": previous.primary.uri if previous else None,
            "primary": routing.primary.uri,
        }
        await self._call(
            self.store.finish_revision,
            self.record.id,
            revision.revision,
            status="applied",
            details=details,
        )
        await self._call(self.store.update_deployment, self.record.id, status="running")
        await self._report()
        logger.info("revision %d applied", revision.revision)

    async def _discard(self, servers: list[ServerProcess]) -> None:
        grace = self.settings.stop_grace_seconds
        await asyncio.gather(
            *(asyncio.to_thread(server.terminate, grace) for server in servers)
        )
        for server in servers:
            self.servers.pop(server.target.uri, None)
            logger.info("stopped model server %s", server.target.uri)

    async def _fail(self, revision: RevisionRecord, reason: str) -> None:
        logger.error("revision %d failed: %s", revision.revision, reason)
        self._last_failure = reason
        await self._call(
            self.store.finish_revision,
            self.record.id,
            revision.revision,
            status="failed",
            error=reason,
        )
        await self._report()

    async def _watch_servers(self) -> None:
        """Restart servers in the routing that exit, with a growing backoff."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            now = time.monotonic()
            changed = False
            for server in list(self.servers.values()):
                if server.state == "running" and server.exit_code() is not None:
                    self._schedule_restart(server, now)
                    changed = True
                elif server.state == "restarting" and now >= (server.next_start or now):
                    server.restarts += 1
                    server.start()
                    self._spawn(self._await_restart(server))
                    changed = True
            if changed:
                try:
                    await self._report()
                except TetherError as exc:
                    logger.error(
                        "could not write the servers' state to the store: %s", exc
                    )

    def _schedule_restart(self, server: ServerProcess, now: float) -> None:
        code = server.exit_code()
        server.last_exit_code = code
        if now - server.started_at >= STABLE_SECONDS:
            server.exits_in_a_row = 0
        server.exits_in_a_row += 1
        delay = restart_delay(server.exits_in_a_row)
        server.state = "restarting"
        server.next_start = now + delay
        self.gateway.set_available(server.target.uri, False)
        logger.warning(
            "model server %s (pid %s, port %d) exited with code %s; restarting it in "
            "%g s (restart %d)",
            server.target.uri,
            server.pid,
            server.port,
            code,
            delay,
            server.restarts + 1,
        )

    async def _await_restart(self, server: ServerProcess) -> None:
        try:
            await asyncio.to_thread(
                server.wait_ready, self.settings.ready_timeout_seconds
            )
        except ServingError as exc:
            logger.warning(
                "restart %d of %s failed: %s", server.restarts, server.target.uri, exc
            )
            if server.exit_code() is None:
                await asyncio.to_thread(
                    server.terminate, self.settings.stop_grace_seconds
                )
            self._schedule_restart(server, time.monotonic())
            await self._report()
            return
        if (
            server.state != "starting"
            or self.servers.get(server.target.uri) is not server
        ):
            return
        server.state = "running"
        self.gateway.set_available(server.target.uri, True)
        logger.info(
            "model server %s is ready again after restart %d (pid %s)",
            server.target.uri,
            server.restarts,
            server.pid,
        )
        await self._report()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shutdown(
        self, server: _GatewayServer | None, serving: asyncio.Task[None] | None
    ) -> None:
        name = self.record.name
        logger.info("stopping deployment %s", name)
        if not self.error:
            await self._call(
                self.store.update_deployment, self.record.id, status="stopping"
            )
        for task in list(self._tasks):
            task.cancel()
        if server is not None and serving is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await serving
            logger.info("gateway stopped")
        await self._discard(list(self.servers.values()))
        pending = await self._call(self.store.next_pending_revision, self.record.id)
        if pending is not None:
            reason = (
                self.error or "the deployment stopped before the change was applied"
            )
            await self._fail(pending, reason)
        # The log line comes first: `tether deploy logs --follow` stops
        # reading once the store shows
        # stopped, and it must still print the line.
        logger.info("deployment %s %s", name, "failed" if self.error else "stopped")
        await self._call(
            self.store.update_deployment,
            self.record.id,
            status="failed" if self.error else "stopped",
            error=self.error,
            processes=[],
        )

    async def _report(self) -> None:
        """Write the servers' state to the store."""
        snapshots = []
        for uri, server in self.servers.items():
            roles = self.routing.roles_of(uri) if self.routing else []
            snapshots.append(server.snapshot(roles))
        await self._call(
            self.store.update_deployment, self.record.id, processes=snapshots
        )

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call in a thread, so the gateway keeps serving meanwhile."""
        return await asyncio.to_thread(function, *args, **kwargs)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    return listener


def _failed_tests_message(reports: list[ApplicationTestReport]) -> str:
    parts = [
        f"{report.model_uri} ({', '.join(report.failed_names)})" for report in reports
    ]
    return (
        f"application tests failed on {'; '.join(parts)}; see `tether deploy status` "
        "for each test's detail"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the supervisor of the deployment whose id is the only argument."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print(
            "usage: python -m tether.deploy.supervisor DEPLOYMENT_ID", file=sys.stderr
        )
        return 2
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("tether").setLevel(logging.INFO)
    record = get_store().get_deployment_by_id(arguments[0])
    try:
        return asyncio.run(Supervisor(record).run())
    except Exception as exc:
        logger.exception("supervisor of deployment %s failed", record.name)
        get_store().update_deployment(
            record.id, status="failed", error=f"the supervisor failed: {exc}"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
