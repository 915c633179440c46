"""``tether deploy``: supervised local deployments with canary, shadow and release tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from tether.cli.render import check_format, print_json, table
from tether.deploy.spec import DEFAULT_CANARY_TRAFFIC, KEEP

if TYPE_CHECKING:
    from tether.deploy.lifecycle import ReleaseResult
    from tether.deploy.spec import ApplicationTestSettings
    from tether.store.deployment_ops import DeploymentTestRecord

app = typer.Typer(
    help="Run models behind a local gateway: canary, shadow, tests, promote, rollback.",
    no_args_is_help=True,
)

FORMAT_HELP = "text or json."
WAIT_HELP = "Seconds to wait for the supervisor to apply the change."
LOAD_REQUESTS_HELP = "Requests the load test sends. Default: 100, or the deployment's."
LOAD_CONCURRENCY_HELP = (
    "Requests the load test keeps in flight. Default: 4, or the deployment's."
)
P99_HELP = (
    "The load test fails above this 99th percentile latency, in milliseconds. "
    "Default: 1000, or the deployment's."
)


@app.command("create")
def create_command(
    name: str = typer.Argument(..., help="The deployment's name."),
    model: str = typer.Option(
        ..., "--model", help="The primary version, e.g. models:/flight-delay@champion."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address the gateway listens on."
    ),
    port: int = typer.Option(8000, "--port", help="TCP port the gateway listens on."),
    canary: str | None = typer.Option(
        None, "--canary", help="A version that gets --traffic percent of the requests."
    ),
    traffic: int | None = typer.Option(
        None,
        "--traffic",
        help=f"Percentage of requests (0 to 100) sent to the canary. Default with "
        f"--canary: {DEFAULT_CANARY_TRAFFIC}.",
    ),
    sticky_header: str | None = typer.Option(
        None,
        "--sticky-header",
        help="A request header, e.g. X-User, whose value keeps a client on one version.",
    ),
    shadow: str | None = typer.Option(
        None,
        "--shadow",
        help="A version that gets a copy of every scoring request; its responses are "
        "logged, never returned.",
    ),
    load_requests: int | None = typer.Option(
        None, "--load-requests", help=LOAD_REQUESTS_HELP
    ),
    load_concurrency: int | None = typer.Option(
        None, "--load-concurrency", help=LOAD_CONCURRENCY_HELP
    ),
    p99_ms: float | None = typer.Option(None, "--p99-ms", help=P99_HELP),
    ready_timeout: float = typer.Option(
        120.0,
        "--ready-timeout",
        help="Seconds a new model server may take to become ready.",
    ),
    grace: float = typer.Option(
        10.0,
        "--grace",
        help="Seconds a process may take to exit after SIGTERM before SIGKILL.",
    ),
    wait: float = typer.Option(300.0, "--wait", help=WAIT_HELP),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Create a deployment, test its versions and start serving (exit 1 when a test fails)."""
    from tether.deploy.lifecycle import create_deployment
    from tether.deploy.spec import ApplicationTestSettings, DeploymentSettings

    check_format(output, ["text", "json"])
    if traffic is None:
        traffic = DEFAULT_CANARY_TRAFFIC if canary else 0
    tests = _test_settings(
        ApplicationTestSettings(), load_requests, load_concurrency, p99_ms
    )
    settings = DeploymentSettings(
        tests=tests, ready_timeout_seconds=ready_timeout, stop_grace_seconds=grace
    )
    result = create_deployment(
        name,
        model,
        host=host,
        port=port,
        canary=canary,
        traffic=traffic,
        sticky_header=sticky_header,
        shadow=shadow,
        settings=settings,
        wait_seconds=wait,
    )
    _finish_release(result, output)


@app.command("list")
def list_command(
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """List deployments with their status, gateway and versions."""
    from tether.deploy.status import list_rows

    check_format(output, ["text", "json"])
    rows = list_rows()
    if output == "json":
        print_json(rows)
        return
    columns = ["name", "status", "gateway", "revision", "primary", "canary", "traffic"]
    columns += ["shadow", "supervisor_pid"]
    table("deployments", columns, [[row[key] for key in columns] for row in rows])


@app.command("status")
def status_command(
    name: str = typer.Argument(..., help="The deployment's name."),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Show a deployment's processes, ports, versions, traffic split, health and tests."""
    from tether.deploy.status import deployment_status

    check_format(output, ["text", "json"])
    status = deployment_status(name)
    if output == "json":
        print_json(status)
        return
    _print_status(status)


@app.command("logs")
def logs_command(
    name: str = typer.Argument(..., help="The deployment's name."),
    server: str | None = typer.Option(
        None,
        "--server",
        help="Show a model server's log instead of the supervisor's: primary, canary, "
        "shadow or a version URI.",
    ),
    lines: int | None = typer.Option(
        None, "--lines", "-n", min=0, help="Show only the last N lines."
    ),
    follow: bool = typer.Option(
        False,
        "--follow",
        "-f",
        help="Keep printing new lines until the deployment stops.",
    ),
) -> None:
    """Print the supervisor's log (starts, switches, restarts, errors) or a server's log."""
    from tether.deploy.logs import follow as follow_log
    from tether.deploy.logs import log_path, read_log
    from tether.deploy.status import effective_status
    from tether.store import get_store
    from tether.store.deployment_ops import ACTIVE_STATUSES

    path = log_path(name, server)
    if not follow:
        text, _ = read_log(path, lines)
        typer.echo(text, nl=False)
        return
    start = 0
    if path.exists():
        text, start = read_log(path, lines)
        typer.echo(text, nl=False)
    store = get_store()

    def running() -> bool:
        record = store.get_deployment(name)
        return effective_status(record) in ACTIVE_STATUSES

    def write(text: str) -> None:
        typer.echo(text, nl=False)

    follow_log(path, write, running=running, start=start)


@app.command("test")
def test_command(
    name: str = typer.Argument(..., help="The deployment's name."),
    load_requests: int | None = typer.Option(
        None, "--load-requests", help=LOAD_REQUESTS_HELP
    ),
    load_concurrency: int | None = typer.Option(
        None, "--load-concurrency", help=LOAD_CONCURRENCY_HELP
    ),
    p99_ms: float | None = typer.Option(None, "--p99-ms", help=P99_HELP),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Run the application tests on the primary and canary (exit 1 when one fails)."""
    from tether.deploy.changes import run_deployment_tests
    from tether.deploy.spec import DeploymentSettings
    from tether.store import get_store

    check_format(output, ["text", "json"])
    record = get_store().get_deployment(name)
    base = DeploymentSettings.from_dict(record.settings).tests
    settings = _test_settings(base, load_requests, load_concurrency, p99_ms)
    reports = run_deployment_tests(name, settings)
    if output == "json":
        print_json(
            [
                {"model_uri": r.model_uri, "passed": r.passed, "results": r.to_list()}
                for r in reports
            ]
        )
    else:
        for report in reports:
            _print_report(report.model_uri, report.passed, report.to_list())
    if not all(report.passed for report in reports):
        raise typer.Exit(1)


@app.command("promote")
def promote_command(
    name: str = typer.Argument(..., help="The deployment's name."),
    wait: float = typer.Option(300.0, "--wait", help=WAIT_HELP),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Make the canary the primary with all traffic, after its tests pass (exit 1 if not)."""
    from tether.deploy.changes import promote

    check_format(output, ["text", "json"])
    _finish_release(promote(name, wait_seconds=wait), output)


@app.command("rollback")
def rollback_command(
    name: str = typer.Argument(..., help="The deployment's name."),
    wait: float = typer.Option(300.0, "--wait", help=WAIT_HELP),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Return to the previous primary version, with no canary."""
    from tether.deploy.changes import rollback

    check_format(output, ["text", "json"])
    _finish_release(rollback(name, wait_seconds=wait), output)


@app.command("route")
def route_command(
    name: str = typer.Argument(..., help="The deployment's name."),
    canary: str | None = typer.Option(
        None, "--canary", help="A new canary version, e.g. models:/flight-delay/4."
    ),
    no_canary: bool = typer.Option(
        False, "--no-canary", help="Remove the canary; the primary gets all traffic."
    ),
    traffic: int | None = typer.Option(
        None, "--traffic", help="Percentage of requests (0 to 100) sent to the canary."
    ),
    sticky_header: str | None = typer.Option(
        None,
        "--sticky-header",
        help="A request header that keeps a client on one version.",
    ),
    no_sticky: bool = typer.Option(
        False, "--no-sticky-header", help="Split requests by count again."
    ),
    shadow: str | None = typer.Option(
        None, "--shadow", help="A new shadow version that gets a copy of every request."
    ),
    no_shadow: bool = typer.Option(False, "--no-shadow", help="Remove the shadow."),
    wait: float = typer.Option(300.0, "--wait", help=WAIT_HELP),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Change the canary, its traffic, the sticky header or the shadow, with no failed request.

    A version that starts to get client traffic passes the application tests
    first (exit 1 when one fails, and the routing stays as it was).
    """
    from tether.deploy.changes import reroute

    check_format(output, ["text", "json"])
    result = reroute(
        name,
        canary=_choice("canary", canary, no_canary),
        traffic=traffic,
        sticky_header=_choice("sticky-header", sticky_header, no_sticky),
        shadow=_choice("shadow", shadow, no_shadow),
        wait_seconds=wait,
    )
    _finish_release(result, output)


def _choice(option: str, value: str | None, remove: bool) -> str | None:
    """Return the reroute argument of a ``--X VALUE`` / ``--no-X`` pair."""
    from tether.errors import ConfigError

    if value is not None and remove:
        raise ConfigError(
            f"--{option} and --no-{option} contradict each other; give one of them",
            setting=option,
            value=value,
        )
    if remove:
        return None
    return KEEP if value is None else value


@app.command("stop")
def stop_command(
    name: str = typer.Argument(..., help="The deployment's name."),
) -> None:
    """Stop the gateway and every model server of a deployment."""
    from tether.deploy.lifecycle import stop_deployment

    result = stop_deployment(name)
    extra = f"; stopped {result.leftovers} leftover servers" if result.leftovers else ""
    typer.echo(
        f"deployment {name} {result.deployment.status} (supervisor {result.supervisor}{extra})"
    )


@app.command("remove")
def remove_command(
    name: str = typer.Argument(..., help="The deployment's name."),
) -> None:
    """Delete a stopped deployment with its revisions, test results and logs."""
    from tether.deploy.lifecycle import remove_deployment

    remove_deployment(name)
    typer.echo(f"removed deployment {name}")


def _test_settings(
    base: ApplicationTestSettings,
    load_requests: int | None,
    load_concurrency: int | None,
    p99_ms: float | None,
) -> ApplicationTestSettings:
    from dataclasses import replace

    changes: dict[str, Any] = {}
    if load_requests is not None:
        changes["load_requests"] = load_requests
    if load_concurrency is not None:
        changes["load_concurrency"] = load_concurrency
    if p99_ms is not None:
        changes["p99_ms"] = p99_ms
    return replace(base, **changes)


def _finish_release(result: ReleaseResult, output: str) -> None:
    """Print a finished revision; exit 1 when its tests failed, 2 when it failed otherwise."""
    from tether.deploy.status import gateway_url
    from tether.errors import ServingError

    name = result.deployment.name
    revision = result.revision
    if output == "json":
        print_json(
            {
                "name": name,
                "gateway": gateway_url(result.deployment),
                "revision": revision.revision,
                "action": revision.action,
                "status": revision.status,
                "error": revision.error,
                "routing": revision.routing,
                "tests": [_test_json(test) for test in result.tests],
            }
        )
    else:
        for test in result.tests:
            _print_report(test.model_uri, test.passed, test.results)
    if result.applied:
        if output == "text":
            from tether.deploy.spec import Routing

            summary = Routing.from_dict(revision.routing).describe()
            typer.echo(
                f"deployment {name} serving on {gateway_url(result.deployment)} "
                f"(revision {revision.revision}, {revision.action}): {summary}"
            )
        return
    if result.tests_failed:
        typer.echo(
            f"error: {revision.action} of deployment {name} failed: {revision.error}",
            err=True,
        )
        raise typer.Exit(1)
    raise ServingError(
        f"{revision.action} of deployment {name} failed: {revision.error}"
    )


def _test_json(test: DeploymentTestRecord) -> dict[str, Any]:
    return {"model_uri": test.model_uri, "passed": test.passed, "results": test.results}


def _print_report(model_uri: str, passed: bool, results: list[dict[str, Any]]) -> None:
    verdict = "passed" if passed else "FAILED"
    rows = [
        [
            result["name"],
            "skipped"
            if result.get("skipped")
            else ("passed" if result["passed"] else "FAILED"),
            result["detail"],
        ]
        for result in results
    ]
    table(
        f"application tests of {model_uri}: {verdict}",
        ["test", "result", "detail"],
        rows,
    )


def _print_status(status: dict[str, Any]) -> None:
    typer.echo(
        f"deployment {status['name']}: {status['status']} (revision {status['revision']})"
    )
    if status["error"]:
        typer.echo(f"error: {status['error']}")
    health = status["gateway_health"]
    if health is None:
        gateway_state = "not probed"
    elif health["ok"]:
        gateway_state = "ok"
    else:
        gateway_state = health["detail"]
    typer.echo(f"gateway {status['gateway']}: {gateway_state}")
    typer.echo(f"supervisor pid {status['supervisor_pid']}")
    routing = status["routing"]
    if routing is not None:
        from tether.deploy.spec import Routing

        typer.echo(f"traffic: {Routing.from_dict(routing).describe()}")
    processes = [
        [
            ", ".join(process["roles"]) or "-",
            process["uri"],
            process["pid"],
            process["port"],
            process["state"],
            process["restarts"],
            process["health"] or ("alive" if process["alive"] else "not running"),
        ]
        for process in status["processes"]
    ]
    columns = ["roles", "version", "pid", "port", "state", "restarts", "health"]
    table("model servers", columns, processes)
    tests = [
        [
            test["model_uri"],
            test["revision"],
            "passed" if test["passed"] else "FAILED",
            ", ".join(r["name"] for r in test["results"] if not r["passed"]) or "-",
        ]
        for test in status["tests"]
    ]
    table(
        "latest application tests", ["version", "revision", "result", "failed"], tests
    )
