"""``tether ci`` on a real small project: pipeline, model tests, staging, release.

The project (written by ``write_project``) acquires the Palmer penguins
from a CSV file, and its pipeline splits them, registers the test split and
trains a classifier. Its staging deployment runs real supervisor and model server
processes on free loopback ports. The ``deployments`` fixture stops every
deployment that is still running after a test.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from palmerpenguins import load_penguins

import tether
from tether import config
from tether.cli.main import main
from tether.deploy.processes import free_port
from tether.project.branch import BuildSource, detect_source
from tether.project.ci import CiOptions
from tether.project.load import load_project
from tether.project.release import release_decision
from tether.store import get_store

PIPELINE = '''
"""Split the penguins, register the test split, train and register a classifier."""

import pandas as pd
from sklearn.linear_model import LogisticRegression

import tether

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species_id"


@tether.step
def load_table(source: str) -> pd.DataFrame:
    return tether.data.load(source)


@tether.step(outputs=2)
def split(table: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    test = table.sample(frac=0.3, random_state=seed)
    return table.drop(index=test.index).reset_index(drop=True), test.reset_index(drop=True)


@tether.step
def register_test(test: pd.DataFrame) -> str:
    return tether.data.register("penguins-test", test).uri


@tether.step
def train(train: pd.DataFrame) -> str:
    model = LogisticRegression(max_iter=2000).fit(train[FEATURES], train[LABEL])
    version = tether.models.register_model(
        model, "penguins", input_example=train[FEATURES].head(5)
    )
    return version.uri


@tether.pipeline(name="penguins-train", experiment="penguins")
def build(source: str = "datasets:/penguins-raw", seed: int = 7) -> dict:
    train_part, test_part = split(load_table(source), seed)
    return {"test": register_test(test_part), "model": train(train_part)}
'''

SUITE = """
name: penguins-gates
dataset: datasets:/penguins-test
label: species_id
tests:
  - name: {gate}
    kind: metric
    metric: {gate}
    {bound}
  - name: weighing_noise
    kind: invariance
    feature: body_mass_g
    perturb: noise
    scale: 25.0
    max_changed_share: 0.1
    required: false
"""

PROJECT = """
version: 1
pipelines:
  train:
    target: penguin_project.pipeline:build
    params: {{seed: 7}}
datasets:
  penguins-raw:
    source: data/penguins.csv
models:
  penguins:
    pipeline: train
    suite: model-tests.yaml
    gates:
      alias: champion
      tests: [{gate}]
deployments:
  penguins-staging:
    model: penguins
    port: {port}
    tests: {{load_requests: 20, load_concurrency: 2, p99_ms: 5000}}
  penguins-production:
    model: penguins
    stage: production
    port: {production_port}
    canary: 20
monitors:
  penguins-live:
    model: penguins
    reference: datasets:/penguins-raw
    every: day
    labels: none
rules:
  mass-drift:
    monitor: penguins-live
    metric: drift.columns.body_mass_g.effect
    operator: ">"
    threshold: 0.5
triggers:
  on-new-data:
    pipeline: train
    on_dataset: penguins-raw
release:
  branches: [main]
"""


def write_project(
    folder: Path,
    *,
    port: int,
    production_port: int,
    gate: str = "accuracy",
    bound: str = "min: 0.9",
) -> Path:
    """Write the project into ``folder``; return its tether.yaml.

    The suite's gate test checks metric ``gate`` within ``bound``.
    """
    package = folder / "penguin_project"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text(PIPELINE.lstrip())
    data = folder / "data"
    data.mkdir()
    table = load_penguins().dropna(
        subset=["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    )
    species = ["Adelie", "Chinstrap", "Gentoo"]
    table["species_id"] = table["species"].map(species.index).astype("int64")
    columns = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    columns += ["body_mass_g", "species_id"]
    table[columns].to_csv(data / "penguins.csv", index=False)
    (folder / "model-tests.yaml").write_text(
        textwrap.dedent(SUITE.format(gate=gate, bound=bound)).lstrip()
    )
    project = folder / "tether.yaml"
    project.write_text(
        PROJECT.format(port=port, production_port=production_port, gate=gate).lstrip()
    )
    return project


CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "GITHUB_STEP_SUMMARY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
)


@pytest.fixture
def project(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The project's folder, as the current folder, with its modules importable."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(config.USER_ENV, "ci-bot")
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    yield folder
    for module in [m for m in sys.modules if m.startswith("penguin_project")]:
        del sys.modules[module]


@pytest.fixture
def deployments(project: Path) -> Iterator[None]:
    """Stop every deployment still running after the test."""
    from tether.deploy.lifecycle import stop_deployment, supervisor_running

    yield
    for record in get_store().list_deployments():
        if supervisor_running(record) or record.processes:
            stop_deployment(record.name)


def ports() -> dict[str, int]:
    return {"port": free_port(), "production_port": free_port()}


def test_ci_passes_and_summarizes(
    project: Path,
    deployments: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_project(project, **ports())
    github = project / "github-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(github))
    code = main(["ci", "--branch", "main", "--summary", "out/summary.md"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    summary = (project / "out" / "summary.md").read_text()
    assert github.read_text() == summary
    assert summary.startswith("## tether ci passed\n")
    assert "Release: yes, branch main releases (policy auto)." in summary
    rows = {
        line.split(" | ")[0].removeprefix("| "): line.split(" | ")[1]
        for line in summary.splitlines()
        if line.startswith("| ")
        and not line.startswith("| step")
        and not line.startswith("| ---")
    }
    assert rows == {
        "validate": "passed",
        "datasets": "passed",
        "pipeline train": "passed",
        "model tests penguins": "passed",
        "register penguins": "passed",
        "staging penguins-staging": "passed",
        "application tests penguins-staging": "passed",
        "release penguins": "passed",
        "release penguins-production": "skipped",
        "automation": "passed",
        "stop staging": "passed",
    }
    assert "- passed smoke.predict: 5 example rows got 5 predictions" in summary
    assert "datasets:/penguins-raw@1: new version" in summary

    version = tether.models.get_version("models:/penguins@champion")
    assert version.uri == "models:/penguins/1"
    assert version.status == "approved"
    assert version.tags["ci.branch"] == "main"
    staging = get_store().get_deployment("penguins-staging")
    assert staging.status == "stopped"
    store = get_store()
    assert store.get_monitor("penguins-live").model == "penguins"
    assert store.get_alert_rule("mass-drift").threshold == 0.5
    schedule = store.get_schedule("on-new-data")
    assert (schedule.trigger, schedule.spec) == ("dataset", "penguins-raw")
    assert schedule.target == "penguin_project.pipeline:build"


def test_failing_gate_exits_1(
    project: Path, deployments: None, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(project, **ports(), gate="log_loss", bound="max: 0.0001")
    code = main(["ci", "--branch", "main", "--summary", "summary.md"])
    captured = capsys.readouterr()
    assert code == 1
    assert "tether ci failed at: model tests penguins" in captured.err
    summary = (project / "summary.md").read_text()
    assert summary.startswith("## tether ci failed\n")
    assert "**Failed step:** `model tests penguins`" in summary
    assert (
        "| model tests penguins | **failed** | models:/penguins/1 failed the gate "
        "test(s) log_loss |" in summary
    )
    assert (
        "| staging penguins-staging | skipped | not run, because model tests "
        "penguins failed |" in summary
    )
    assert "- FAILED log_loss: " in summary
    assert get_store().list_deployments() == []
    assert tether.models.get_version("models:/penguins/1").aliases == ()


def test_invalid_file_fails_validate(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "tether.yaml").write_text("pipelines:\n  train: {targit: a:b}\n")
    code = main(["ci", "--branch", "main", "--summary", "summary.md"])
    assert code == 1
    summary = (project / "summary.md").read_text()
    assert "| validate | **failed** | 2 problem(s) in the project file |" in summary
    assert (
        "- tether.yaml:2:11: pipelines.train.targit: unknown key 'targit'; did you "
        "mean 'target'?" in summary
    )
    assert "Release: no, the project file is invalid." in summary
    assert "tether ci failed at: validate" in capsys.readouterr().err


def test_release_gives_production_canary(
    project: Path, deployments: None, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = ports()
    project_file = write_project(project, **chosen)
    text = project_file.read_text()
    assert main(["ci", "--branch", "main"]) == 0
    create = ["deploy", "create", "penguins-production", "--model"]
    create += ["models:/penguins@champion", "--port", str(chosen["production_port"])]
    assert main([*create, "--load-requests", "10"]) == 0
    capsys.readouterr()

    project_file.write_text(text.replace("{seed: 7}", "{seed: 8}"))
    assert main(["ci", "--branch", "main", "--summary", "second.md"]) == 0
    second = (project / "second.md").read_text()
    assert (
        "| release penguins-production | passed | models:/penguins/2 is the canary "
        "of penguins-production with 20% of requests |" in second
    )

    project_file.write_text(text.replace("{seed: 7}", "{seed: 9}"))
    assert main(["ci", "--branch", "main", "--summary", "third.md"]) == 0
    third = (project / "third.md").read_text()
    assert (
        "- promoted canary models:/penguins/2: models:/penguins/2 passed its "
        "required model tests" in third
    )
    from tether.deploy.changes import current_routing

    routing = current_routing(get_store().get_deployment("penguins-production"))
    assert routing.primary.uri == "models:/penguins/2"
    assert routing.canary is not None
    assert routing.canary.uri == "models:/penguins/3"
    assert routing.traffic == 20


SOURCE_MAIN = BuildSource("main", "abc", "git")


@pytest.mark.parametrize(
    ("policy", "source", "options", "allowed", "reason"),
    [
        ("auto", SOURCE_MAIN, CiOptions(), True, "branch main releases (policy auto)"),
        (
            "auto",
            BuildSource("feature", None, "git"),
            CiOptions(),
            False,
            "branch feature does not release (release.branches: main)",
        ),
        (
            "auto",
            BuildSource("main", None, "GitHub Actions", True),
            CiOptions(),
            False,
            "a pull or merge request of main does not release",
        ),
        (
            "auto",
            BuildSource(None, None, "unknown"),
            CiOptions(),
            False,
            "the branch is unknown (unknown); pass --branch NAME to release",
        ),
        (
            "manual",
            SOURCE_MAIN,
            CiOptions(),
            False,
            "the release policy is 'manual'; pass --release to release",
        ),
        ("manual", SOURCE_MAIN, CiOptions(release=True), True, "policy manual"),
        ("never", SOURCE_MAIN, CiOptions(release=True), False, "policy is 'never'"),
        ("auto", SOURCE_MAIN, CiOptions(no_release=True), False, "--no-release"),
    ],
)
def test_release_decision(
    tmp_path: Path,
    policy: str,
    source: BuildSource,
    options: CiOptions,
    allowed: bool,
    reason: str,
) -> None:
    (tmp_path / "tether.yaml").write_text(f"release: {{policy: {policy}}}\n")
    spec = load_project(tmp_path)
    decided, why = release_decision(spec, options, source)
    assert decided is allowed
    assert reason in why


def test_source_from_github(tmp_path: Path) -> None:
    push = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_REF_NAME": "main",
        "GITHUB_SHA": "f" * 40,
    }
    assert detect_source(tmp_path, push) == BuildSource(
        "main", "f" * 40, "GitHub Actions"
    )
    pull = {**push, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_HEAD_REF": "fix"}
    assert detect_source(tmp_path, pull) == BuildSource(
        "fix", "f" * 40, "GitHub Actions", True
    )
    tag = {**push, "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v1"}
    assert detect_source(tmp_path, tag).branch is None


def test_source_from_gitlab(tmp_path: Path) -> None:
    branch = {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_SHA": "a1"}
    assert detect_source(tmp_path, branch) == BuildSource("main", "a1", "GitLab CI")
    merge = {**branch, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "fix"}
    assert detect_source(tmp_path, merge) == BuildSource("fix", "a1", "GitLab CI", True)


def test_source_outside_git(tmp_path: Path) -> None:
    assert detect_source(tmp_path, {}) == BuildSource(None, None, "unknown")
