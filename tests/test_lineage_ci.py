"""Tests for the CI job facts that lineage capture records in a run's source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tether
from cli_helpers import run_json
from tether.cli import render
from tether.cli.main import main
from tether.lineage.ci import ci_facts
from tether.store import get_store

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_RUN_ID": "9876543210",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "org/repo",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_REF": "refs/pull/7/merge",
    "GITHUB_TOKEN": "ghs_secret_token_value",
}
GITLAB = {
    "GITLAB_CI": "true",
    "CI_JOB_ID": "555",
    "CI_JOB_URL": "https://gitlab.example.com/org/repo/-/jobs/555",
    "CI_PIPELINE_SOURCE": "schedule",
    "CI_COMMIT_REF_NAME": "main",
    "CI_JOB_TOKEN": "glcbt-secret-token-value",
}


@pytest.fixture
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Clear the variables of both providers, as on a laptop."""
    for name in (*GITHUB, *GITLAB):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_github_actions_facts() -> None:
    assert ci_facts(GITHUB) == {
        "provider": "github-actions",
        "job_id": "9876543210",
        "run_url": "https://github.com/org/repo/actions/runs/9876543210",
        "trigger": "pull_request",
        "ref": "refs/pull/7/merge",
    }


def test_gitlab_ci_facts() -> None:
    assert ci_facts(GITLAB) == {
        "provider": "gitlab-ci",
        "job_id": "555",
        "run_url": "https://gitlab.example.com/org/repo/-/jobs/555",
        "trigger": "schedule",
        "ref": "main",
    }


def test_missing_variables_are_none() -> None:
    facts = ci_facts({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1"})

    assert facts is not None
    assert facts["job_id"] == "1"
    assert facts["run_url"] is None
    assert facts["trigger"] is None


def test_outside_ci_is_none() -> None:
    assert ci_facts({}) is None
    assert ci_facts({"GITHUB_ACTIONS": "false", "CI": "true"}) is None


def test_credentials_left_out_of_url() -> None:
    facts = ci_facts({**GITLAB, "CI_JOB_URL": "https://bot:pw@git.example.com/j/1"})

    assert facts is not None
    assert facts["run_url"] == "https://git.example.com/j/1"


@pytest.mark.parametrize("variables", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_run_source_records_ci(
    tether_home: Path, outside_ci: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name, value in variables.items():
        outside_ci.setenv(name, value)
    with tether.start_run(name="r") as run:
        pass

    source = get_store().get_run(run.id).source
    assert source["environment"]["ci"] == ci_facts(variables)
    stored = json.dumps(source)
    assert "secret" not in stored
    assert "TOKEN" not in stored


def test_run_outside_ci_has_no_ci(
    tether_home: Path, outside_ci: pytest.MonkeyPatch
) -> None:
    with tether.start_run(name="r") as run:
        pass

    assert "ci" not in get_store().get_run(run.id).source["environment"]


def test_lineage_shows_ci(
    tether_home: Path,
    outside_ci: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in GITHUB.items():
        outside_ci.setenv(name, value)
    with tether.start_run(name="r") as run:
        pass
    outside_ci.setattr(render.console, "_width", 200)

    assert main(["lineage", f"runs:/{run.id}"]) == 0
    output = capsys.readouterr().out
    assert (
        "ci github-actions job 9876543210, pull_request on refs/pull/7/merge  "
        "https://github.com/org/repo/actions/runs/9876543210"
    ) in output
    data = run_json(capsys, "lineage", f"runs:/{run.id}")
    assert data["details"]["ci"]["provider"] == "github-actions"
    assert data["details"]["ci"]["trigger"] == "pull_request"


def test_lineage_without_ci_has_no_line(
    tether_home: Path,
    outside_ci: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with tether.start_run(name="r") as run:
        pass

    assert main(["lineage", f"runs:/{run.id}"]) == 0
    assert "\n  ci " not in capsys.readouterr().out
    assert run_json(capsys, "lineage", f"runs:/{run.id}")["details"]["ci"] is None
