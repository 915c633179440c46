"""A team on one server: an admin sets it up, users log runs over HTTP, roles apply.

The server runs as a real `tether server` process on PostgreSQL and a blob
folder. Every step goes through the commands and the SDK, as a team would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

TETHER = [sys.executable, "-m", "tether"]
START_SECONDS = 60.0

LOG_RUN = """
import sys
import tether
with tether.start_run(experiment="churn", name=sys.argv[1]) as run:
    run.log_params({"owner": sys.argv[1]})
    for step in range(50):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
print(run.id)
"""


@dataclass
class Team:
    """The running server and the tokens of its people."""

    url: str
    store_url: str
    tokens: dict[str, str]
    home: Path

    def env(self, user: str, workspace: str) -> dict[str, str]:
        """Return the environment of ``user`` working in ``workspace`` over HTTP."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
        env.update(
            TETHER_STORE=self.url,
            TETHER_TOKEN=self.tokens[user],
            TETHER_WORKSPACE=workspace,
            TETHER_HOME=str(self.home / user),
        )
        return env

    def run(
        self, user: str, workspace: str, *args: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a tether command as ``user`` in ``workspace``."""
        return subprocess.run(
            [*TETHER, *args],
            env=self.env(user, workspace),
            capture_output=True,
            text=True,
            timeout=120,
        )


def admin(store_url: str, *args: str) -> str:
    """Run an admin command on the server's database and return its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    done = subprocess.run(
        [*TETHER, *args, "--store", store_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def team(postgres_url: str, tmp_path: Path) -> Iterator[Team]:
    """Set up the team's server as its admin would, and start it."""
    root_token = admin(postgres_url, "server", "init", "--admin", "root")
    for workspace in ("churn", "fraud"):
        admin(postgres_url, "workspaces", "add", workspace)
    for user, workspace, role in (
        ("ana", "churn", "editor"),
        ("ben", "churn", "editor"),
        ("vic", "churn", "viewer"),
        ("ola", "fraud", "editor"),
    ):
        admin(postgres_url, "users", "add", user)
        admin(postgres_url, "workspaces", "grant", workspace, user, role)
    tokens = {
        user: admin(postgres_url, "tokens", "create", user).splitlines()[-1]
        for user in ("ana", "ben", "vic", "ola")
    }
    tokens["root"] = root_token.splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [
            *TETHER,
            "server",
            "--store",
            postgres_url,
            "--artifacts",
            str(tmp_path / "objects"),
            "--port",
            str(port),
            "--auth",
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("TETHER_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_until_up(url, server)
    yield Team(url, postgres_url, tokens, tmp_path)
    server.terminate()
    server.wait(timeout=30)
    if server.stderr is not None:
        server.stderr.close()


def _wait_until_up(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"the server exited: {server.stderr.read() if server.stderr else ''}"
            )
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def log_run(team: Team, user: str, workspace: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", LOG_RUN, user],
        env=team.env(user, workspace),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_team_flow(team: Team) -> None:
    ana_run = log_run(team, "ana", "churn")
    ben_run = log_run(team, "ben", "churn")

    listed = team.run("vic", "churn", "runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert ana_run in listed.stdout
    assert ben_run in listed.stdout

    refused = team.run("vic", "churn", "runs", "delete", ana_run)
    assert refused.returncode != 0
    assert "editor" in refused.stderr
    assert "Traceback" not in refused.stderr

    outsider = team.run("ola", "churn", "runs", "list")
    assert outsider.returncode != 0
    assert "workspace 'churn' not found" in outsider.stderr

    own = team.run("ola", "fraud", "runs", "list")
    assert own.returncode == 0, own.stderr
    assert ana_run not in own.stdout

    page = httpx.get(
        f"{team.url}/ui/churn/runs", cookies={"tether_token": team.tokens["vic"]}
    )
    assert page.status_code == 200
    assert ana_run in page.text
    assert ben_run in page.text
    hidden = httpx.get(
        f"{team.url}/ui/churn/runs", cookies={"tether_token": team.tokens["ola"]}
    )
    assert hidden.status_code == 404
    assert ana_run not in hidden.text


def test_denials_are_audited(team: Team) -> None:
    team.run("ola", "churn", "runs", "list")
    from tether.store import SqlStore

    store = SqlStore(team.store_url)
    trail = store.audit_trail("requests/")
    store.close()
    denied = [e for e in trail if e.actor == "ola"]
    assert denied[-1].action == "denied"
    assert denied[-1].details["workspace"] == "churn"
