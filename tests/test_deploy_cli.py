"""``tether deploy`` with real processes: bad input, release, split, restart, switch, stop.

Three versions of one model are registered once per module and shared.
Every deployment a test creates is stopped by the ``deployments`` fixture,
by pid, if the test did not stop it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

import tether
from cli_helpers import one_line_error, run_json
from tether import config
from tether.cli.main import main
from tether.deploy.processes import free_port, pid_alive
from tether.deploy.splitting import sticky_bucket
from tether.store import get_store, reset_store

USER = "deployer"
WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store with versions 1, 2 and 3 of model ``m``, predicting 1, 0 and 1."""
    home = tmp_path_factory.mktemp("deploy") / ".tether"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.HOME_ENV, str(home))
        patch.delenv(config.STORE_ENV, raising=False)
        patch.delenv(config.ARTIFACTS_ENV, raising=False)
        reset_store()
        frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "n": [1, 0, 1, 0]})
        for constant in (1, 0, 1):
            model = DummyClassifier(strategy="constant", constant=constant)
            model.fit(frame, [0, 0, 1, 1])
            tether.models.register_model(model, "m", input_example=frame)
        other = pd.DataFrame({"y": ["a", "b", "a", "b"]})
        model = DummyClassifier(strategy="constant", constant=1).fit(
            other, [0, 0, 1, 1]
        )
        tether.models.register_model(model, "other", input_example=other)
        reset_store()
        yield home
    reset_store()


@pytest.fixture
def home(registry_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(config.HOME_ENV, str(registry_home))
    monkeypatch.setenv(config.USER_ENV, USER)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    reset_store()
    yield registry_home
    reset_store()


@pytest.fixture
def deployments(home: Path) -> Iterator[list[str]]:
    """Names of the deployments a test creates; any still running is stopped after it."""
    from tether.deploy.lifecycle import stop_deployment, supervisor_running

    names: list[str] = []
    yield names
    for name in names:
        record = get_store().get_deployment(name)
        if supervisor_running(record) or record.processes:
            stop_deployment(name)


def status_of(capsys: pytest.CaptureFixture[str], name: str) -> dict[str, Any]:
    return run_json(capsys, "deploy", "status", name)  # type: ignore[no-any-return]


def wait_until(
    check: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS
) -> None:
    """Poll ``check`` until it is true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def score(client: httpx.Client, port: int, **headers: str) -> httpx.Response:
    body = {"records": [{"x": 1.0, "n": 1}]}
    return client.post(f"http://127.0.0.1:{port}/predict", json=body, headers=headers)


class ClientLoop(threading.Thread):
    """Sends scoring requests one after another until stopped, keeping every response."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.responses: list[tuple[int | str, str | None]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.halt.is_set():
                try:
                    response = score(client, self.port)
                except httpx.HTTPError as exc:
                    self.responses.append((type(exc).__name__, None))
                    continue
                version = response.headers.get("x-tether-model-version")
                self.responses.append((response.status_code, version))

    def wait_for(self, count: int) -> None:
        wait_until(lambda: len(self.responses) >= count, f"{count} responses")

    def stop(self) -> None:
        self.halt.set()
        self.join(60)


def switch_under_load(port: int, change: Callable[[], None]) -> tuple[ClientLoop, int]:
    """Run ``change`` while a client sends requests in a loop.

    Returns the loop and how many responses it had when ``change`` returned.
    """
    loop = ClientLoop(port)
    loop.start()
    try:
        loop.wait_for(5)
        change()
        switched = len(loop.responses)
        loop.wait_for(switched + 5)
    finally:
        loop.stop()
    return loop, switched


def started_server_pids(home: Path, name: str) -> list[int]:
    log = (home / "deployments" / name / "supervisor.log").read_text()
    return [
        int(pid) for pid in re.findall(r"started model server \S+ \(pid (\d+),", log)
    ]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


# -- bad input: one line, exit 2, nothing recorded or started ----------------


def create_args(name: str, *extra: str) -> list[str]:
    return ["deploy", "create", name, "--model", "models:/m/1", *extra]


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (
            ["--model", "models:/nope/1"],
            ["model 'nope' not found", "tether models list"],
        ),
        (["--model", "nope"], ["invalid model URI 'nope'", "models:/NAME@ALIAS"]),
        (
            ["--canary", "models:/m/2", "--traffic", "101"],
            ["invalid --traffic 101", "from 0 to 100"],
        ),
        (
            ["--canary", "models:/m/2", "--traffic", "-1"],
            ["invalid --traffic -1", "from 0 to 100"],
        ),
        (["--traffic", "10"], ["--traffic 10 needs a canary", "--canary URI"]),
        (["--sticky-header", "X-User"], ["--sticky-header needs a canary"]),
        (
            ["--canary", "models:/m/1"],
            ["models:/m/1 is both the primary and the canary"],
        ),
        (["--canary", "models:/m/9"], ["model 'm' has no version 9"]),
        (["--p99-ms", "-5"], ["invalid --p99-ms -5"]),
    ],
)
def test_create_bad_input(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    fragments: list[str],
) -> None:
    line = one_line_error(
        capsys, *create_args("bad", "--port", str(free_port()), *extra)
    )
    for fragment in fragments:
        assert fragment in line
    assert "bad" not in [record.name for record in get_store().list_deployments()]
    assert not (home / "deployments" / "bad").exists()


@pytest.mark.parametrize("role", ["--canary", "--shadow"])
def test_create_refuses_a_version_with_other_inputs(
    home: Path, capsys: pytest.CaptureFixture[str], role: str
) -> None:
    port = str(free_port())
    line = one_line_error(
        capsys, *create_args("mixed", "--port", port), role, "models:/other/1"
    )
    assert f"the {role[2:]} models:/other/1 takes other inputs than the primary" in line
    assert "it lacks n, x; it adds y" in line
    assert "mixed" not in [record.name for record in get_store().list_deployments()]


def test_create_invalid_name(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, *create_args("no spaces"))
    assert "invalid deployment name 'no spaces'" in line


def test_create_port_in_use(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(capsys, *create_args("busy", "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "--port" in line
    assert "busy" not in [record.name for record in get_store().list_deployments()]


def record_idle_deployment(name: str) -> None:
    """Store a deployment that never started: no supervisor, no processes."""
    from tether.deploy.lifecycle import resolve_target
    from tether.deploy.spec import Routing

    routing = Routing(primary=resolve_target("models:/m/1"))
    get_store().add_deployment(
        name,
        host="127.0.0.1",
        port=free_port(),
        settings={},
        routing=routing.to_dict(),
        actor=USER,
    )


def test_create_taken_name(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_idle_deployment("taken")
    line = one_line_error(capsys, *create_args("taken", "--port", str(free_port())))
    assert "deployment 'taken' exists" in line
    assert "tether deploy remove taken" in line


@pytest.mark.parametrize(
    "command", ["stop", "status", "promote", "rollback", "test", "logs"]
)
def test_unknown_deployment(
    home: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    line = one_line_error(capsys, "deploy", command, "ghost")
    assert "deployment 'ghost' not found" in line
    assert "tether deploy list" in line


def test_promote_needs_running_deployment(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_idle_deployment("idle")
    line = one_line_error(capsys, "deploy", "promote", "idle")
    assert "deployment idle is not running" in line


def test_remove_idle_deployment(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_idle_deployment("gone")
    assert main(["deploy", "remove", "gone"]) == 0
    assert "removed deployment gone" in capsys.readouterr().out
    assert "gone" not in [row["name"] for row in run_json(capsys, "deploy", "list")]


# -- real deployments ----------------------------------------------------------


def test_canary_shadow_promote_rollback_stop(
    home: Path, deployments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = "full"
    port = free_port()
    deployments.append(name)
    created = run_json(
        capsys,
        *create_args(name, "--port", str(port)),
        "--canary",
        "models:/m/2",
        "--traffic",
        "30",
        "--sticky-header",
        "X-User",
        "--shadow",
        "models:/m/3",
        "--load-requests",
        "20",
    )
    assert created["status"] == "applied"
    assert created["gateway"] == f"http://127.0.0.1:{port}"
    assert [test["model_uri"] for test in created["tests"]] == [
        "models:/m/1",
        "models:/m/2",
    ]
    assert all(test["passed"] for test in created["tests"])

    status = status_of(capsys, name)
    assert status["status"] == "running"
    assert status["traffic_split"] == {"models:/m/1": 70, "models:/m/2": 30}
    assert status["gateway_health"]["ok"]
    roles = {process["uri"]: process["roles"] for process in status["processes"]}
    assert roles == {
        "models:/m/1": ["primary"],
        "models:/m/2": ["canary"],
        "models:/m/3": ["shadow"],
    }
    assert all(process["alive"] for process in status["processes"])
    assert all(process["health"] == "ready" for process in status["processes"])
    ports = {process["port"] for process in status["processes"]}
    assert len(ports) == 3
    assert port not in ports
    seen_pids = {status["supervisor_pid"]} | {p["pid"] for p in status["processes"]}

    listed = {row["name"]: row for row in run_json(capsys, "deploy", "list")}
    assert listed[name]["status"] == "running"
    assert listed[name]["canary"] == "models:/m/2"
    assert listed[name]["traffic"] == 30

    # Split by count: exactly 30 of 100 requests without the header reach the canary.
    with httpx.Client() as client:
        responses = [score(client, port) for _ in range(100)]
        sticky = {
            user: {
                score(client, port, **{"X-User": user}).headers["x-tether-route"]
                for _ in range(3)
            }
            for user in (f"user-{i}" for i in range(10))
        }
    assert {response.status_code for response in responses} == {200}
    canary_responses = [a for a in responses if a.headers["x-tether-route"] == "canary"]
    assert len(canary_responses) == 30
    assert {a.json()["predictions"][0] for a in canary_responses} == {0}
    for user, routes in sticky.items():
        expected = "canary" if sticky_bucket(user) < 30 else "primary"
        assert routes == {expected}, user

    # Every scoring request was copied to the shadow, and no response came from it.
    shadow_log = home / "deployments" / name / "shadow.jsonl"
    copies = 100 + 30
    wait_until(
        lambda: (
            shadow_log.exists() and len(shadow_log.read_text().splitlines()) >= copies
        ),
        "the shadow log",
    )
    shadowed = [json.loads(line) for line in shadow_log.read_text().splitlines()]
    assert {record["shadow"] for record in shadowed} == {"models:/m/3"}
    assert {record["shadow_status"] for record in shadowed} == {200}
    assert all(a.headers["x-tether-model-version"] != "models:/m/3" for a in responses)

    # A crashed server is restarted on its port with a new pid.
    canary = next(p for p in status["processes"] if p["uri"] == "models:/m/2")
    os.kill(canary["pid"], signal.SIGKILL)

    def restarted() -> bool:
        current = next(
            p for p in status_of(capsys, name)["processes"] if p["uri"] == "models:/m/2"
        )
        return current["restarts"] == 1 and current["health"] == "ready"

    wait_until(restarted, "the canary's restart")
    after_crash = status_of(capsys, name)
    new_canary = next(p for p in after_crash["processes"] if p["uri"] == "models:/m/2")
    assert new_canary["pid"] != canary["pid"]
    assert new_canary["port"] == canary["port"]
    seen_pids.add(new_canary["pid"])
    assert main(["deploy", "logs", name]) == 0
    log = capsys.readouterr().out
    assert (
        f"model server models:/m/2 (pid {canary['pid']}, port {canary['port']}) exited"
        in log
    )
    assert "restarting it in 1 s (restart 1)" in log

    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tether.cli",
            "deploy",
            "logs",
            name,
            "--follow",
            "-n",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Promote while a client sends requests: every response is 200.
        def promote() -> None:
            assert main(["deploy", "promote", name, "--format", "json"]) == 0

        loop, switched = switch_under_load(port, promote)
        promoted = json.loads(capsys.readouterr().out)
        assert promoted["action"] == "promote"
        assert promoted["status"] == "applied"
        assert [test["model_uri"] for test in promoted["tests"]] == ["models:/m/2"]
        assert {status for status, _ in loop.responses} == {200}
        assert {version for _, version in loop.responses[:switched]} >= {"models:/m/1"}
        assert {version for _, version in loop.responses[switched:]} == {"models:/m/2"}
        status = status_of(capsys, name)
        assert status["traffic_split"] == {"models:/m/2": 100}
        assert sorted(p["uri"] for p in status["processes"]) == [
            "models:/m/2",
            "models:/m/3",
        ]

        # Roll back while a client sends requests: every response is 200.
        def roll_back() -> None:
            assert main(["deploy", "rollback", name, "--format", "json"]) == 0

        loop, switched = switch_under_load(port, roll_back)
        rolled_back = json.loads(capsys.readouterr().out)
        assert rolled_back["action"] == "rollback"
        assert rolled_back["tests"] == []
        assert {status for status, _ in loop.responses} == {200}
        assert {version for _, version in loop.responses[switched:]} == {"models:/m/1"}
        status = status_of(capsys, name)
        assert status["routing"]["primary"]["uri"] == "models:/m/1"
        assert status["routing"]["canary"] is None
        seen_pids |= {p["pid"] for p in status["processes"]}

        events = get_store().audit_trail(f"deployments:/{name}")
        assert [(e.action, e.actor) for e in events] == [
            ("create", USER),
            ("promote", USER),
            ("rollback", USER),
        ]
        assert events[1].details["previous_primary"] == "models:/m/1"
        assert events[1].details["primary"] == "models:/m/2"
        assert events[2].details["primary"] == "models:/m/1"

        assert main(["deploy", "stop", name]) == 0
        assert "(supervisor terminated)" in capsys.readouterr().out
        followed, _ = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert follower.returncode == 0
    assert f"deployment {name} stopped" in followed

    seen_pids |= set(started_server_pids(home, name))
    assert len(seen_pids) >= 6
    assert [pid for pid in seen_pids if pid_alive(pid)] == []
    assert port_is_free(port)
    stopped = status_of(capsys, name)
    assert stopped["status"] == "stopped"
    assert stopped["processes"] == []
    assert get_store().audit_trail(f"deployments:/{name}")[-1].action == "stop"


def test_failed_tests_block_release(
    home: Path, deployments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = "blocked"
    port = free_port()
    deployments.append(name)
    code = main(
        [
            *create_args(name, "--port", str(port)),
            "--p99-ms",
            "0",
            "--load-requests",
            "5",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "application tests of models:/m/1: FAILED" in captured.out
    assert captured.err.strip() == (
        f"error: create of deployment {name} failed: application tests failed on "
        "models:/m/1 (load.p99); see `tether deploy status` for each test's detail"
    )
    status = status_of(capsys, name)
    assert status["status"] == "failed"
    assert "revision 1 failed: application tests failed" in status["error"]
    assert status["revisions"][0]["status"] == "failed"
    failed = [r["name"] for r in status["tests"][0]["results"] if not r["passed"]]
    assert failed == ["load.p99"]
    pids = [status["supervisor_pid"], *started_server_pids(home, name)]
    assert len(pids) == 2
    assert [pid for pid in pids if pid_alive(pid)] == []
    assert status["processes"] == []
    assert port_is_free(port)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only"
)
def test_killed_supervisor_leaves_no_server(
    home: Path, deployments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = "orphans"
    deployments.append(name)
    run_json(
        capsys, *create_args(name, "--port", str(free_port()), "--load-requests", "5")
    )
    status = status_of(capsys, name)
    server_pid = status["processes"][0]["pid"]
    os.kill(status["supervisor_pid"], signal.SIGKILL)
    wait_until(
        lambda: not pid_alive(server_pid), "the server to exit with its supervisor"
    )
    assert status_of(capsys, name)["status"] == "exited"
    assert main(["deploy", "stop", name]) == 0
    assert "(supervisor not running)" in capsys.readouterr().out
    assert status_of(capsys, name)["status"] == "stopped"


def test_route_adds_ramps_and_removes_a_canary(
    home: Path, deployments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = "ramp"
    port = free_port()
    deployments.append(name)
    created = run_json(
        capsys, *create_args(name, "--port", str(port)), "--load-requests", "20"
    )
    assert created["status"] == "applied"

    def add_canary() -> None:
        args = ["deploy", "route", name, "--canary", "models:/m/2", "--format", "json"]
        assert main(args) == 0

    loop, _ = switch_under_load(port, add_canary)
    added = json.loads(capsys.readouterr().out)
    assert added["action"] == "reroute"
    assert added["status"] == "applied"
    # A new version in the split gets both versions tested before the switch.
    assert [test["model_uri"] for test in added["tests"]] == [
        "models:/m/1",
        "models:/m/2",
    ]
    assert {status for status, _ in loop.responses} == {200}
    assert status_of(capsys, name)["traffic_split"] == {
        "models:/m/1": 90,
        "models:/m/2": 10,
    }

    ramped = run_json(capsys, "deploy", "route", name, "--traffic", "50")
    assert ramped["tests"] == []
    with httpx.Client() as client:
        routes = [score(client, port).headers["x-tether-route"] for _ in range(40)]
    assert routes.count("canary") == 20

    unchanged = one_line_error(capsys, "deploy", "route", name, "--traffic", "50")
    assert f"deployment {name} already routes" in unchanged
    both = one_line_error(
        capsys, "deploy", "route", name, "--shadow", "models:/m/3", "--no-shadow"
    )
    assert "--shadow and --no-shadow contradict each other" in both
    other = one_line_error(
        capsys, "deploy", "route", name, "--canary", "models:/other/1"
    )
    assert "takes other inputs than the primary models:/m/1" in other

    removed = run_json(capsys, "deploy", "route", name, "--no-canary")
    assert removed["status"] == "applied"
    status = status_of(capsys, name)
    assert status["traffic_split"] == {"models:/m/1": 100}
    assert [p["uri"] for p in status["processes"]] == ["models:/m/1"]
    actions = [e.action for e in get_store().audit_trail(f"deployments:/{name}")]
    assert actions == ["create", "reroute", "reroute", "reroute"]
    assert main(["deploy", "stop", name]) == 0
