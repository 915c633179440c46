"""The project file: loading, every kind of error at its line and column, init, validate."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tether.cli.main import main
from tether.project.checks import check_project
from tether.project.load import load_project
from tether.project.problems import ProjectFileError

DOCS = Path(__file__).parents[1] / "docs" / "automation.md"

VALID = """
version: 1
pipelines:
  train:
    target: shop.pipeline:build
    params: {seed: 7, path: data/orders.csv}
    executor: processes
    workers: 2
datasets:
  orders:
    source: data/orders.csv
    format: csv
models:
  churn:
    pipeline: train
    tests:
      - name: auc
        kind: metric
        metric: roc_auc
        min: 0.7
    dataset: datasets:/orders-test
    label: churned
    gates:
      alias: champion
      tests: [auc]
deployments:
  churn-staging:
    model: churn
    port: 8100
    tests: {load_requests: 50, p99_ms: 200}
  churn-production:
    model: models:/churn@champion
    stage: production
    canary: 25
    sticky_header: X-User
    promote:
      metric: performance.accuracy
      monitor: churn-live
      mode: max
      min_rows: 500
monitors:
  churn-live:
    model: churn
    reference: datasets:/orders@1
    every: day
    categorical: [country]
    labels: none
    cron: "0 * * * *"
rules:
  auc-drop:
    monitor: churn-live
    metric: estimated.roc_auc
    operator: "<"
    threshold: 0.65
    windows: 2
    severity: critical
    actions:
      - {type: rollback, deployment: churn-production}
triggers:
  nightly:
    pipeline: train
    cron: "0 3 * * *"
  on-orders:
    pipeline: train
    on_dataset: orders
    input_param: path
release:
  branches: [main, release]
  policy: manual
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "tether.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems_of(folder: Path, text: str) -> list[str]:
    write(folder, text)
    with pytest.raises(ProjectFileError) as caught:
        load_project(folder)
    return [str(p).removeprefix(f"{folder}/") for p in caught.value.problems]


def test_valid_file_loads(tmp_path: Path) -> None:
    spec = load_project(write(tmp_path, VALID))
    train = spec.pipelines["train"]
    assert train.target == "shop.pipeline:build"
    assert train.params == {"seed": 7, "path": "data/orders.csv"}
    assert (train.executor, train.workers) == ("processes", 2)
    assert spec.datasets["orders"].format == "csv"
    churn = spec.models["churn"]
    assert churn.tests[0]["kind"] == "metric"
    assert (churn.gates.alias, churn.gates.tests) == ("champion", ("auc",))
    staging = spec.deployments["churn-staging"]
    assert (staging.stage, staging.port, staging.tests.load_requests) == (
        "staging",
        8100,
        50,
    )
    assert staging.tests.p99_ms == 200.0
    production = spec.deployments["churn-production"]
    assert (production.canary, production.sticky_header) == (25, "X-User")
    assert production.promote.metric == "performance.accuracy"
    assert production.promote.min_rows == 500
    monitor = spec.monitors["churn-live"]
    assert (monitor.spec.every, monitor.spec.labels) == ("day", None)
    assert monitor.spec.categorical == ["country"]
    assert monitor.cron == "0 * * * *"
    rule = spec.rules["auc-drop"]
    assert (rule.operator, rule.threshold, rule.windows) == ("<", 0.65, 2)
    assert rule.actions == [{"type": "rollback", "deployment": "churn-production"}]
    assert spec.triggers["on-orders"].on_dataset == "orders"
    assert spec.release.branches == ("main", "release")
    assert spec.release.policy == "manual"
    assert spec.root == tmp_path.resolve()


def test_empty_file_is_valid(tmp_path: Path) -> None:
    spec = load_project(write(tmp_path, "version: 1\n"))
    assert spec.pipelines == {}
    assert spec.release.branches == ("main",)


ERRORS = [
    (
        "pipelines:\n  train:\n    target: a.b:c\n    executer: ray\n",
        "tether.yaml:4:5: pipelines.train.executer: unknown key 'executer'; did you "
        "mean 'executor'?",
    ),
    (
        "pipelinez: {}\n",
        "tether.yaml:1:1: pipelinez: unknown key 'pipelinez'; did you mean 'pipelines'?",
    ),
    (
        "pipelines:\n  train:\n    params: {}\n",
        "tether.yaml:3:5: pipelines.train: missing the key 'target'",
    ),
    (
        "pipelines:\n  train: shop:build\n",
        "tether.yaml:2:10: pipelines.train: expected a mapping of keys",
    ),
    (
        "pipelines:\n  train:\n    target: shop\n",
        "tether.yaml:3:13: pipelines.train.target: invalid target 'shop'; give the "
        "pipeline as MODULE:NAME",
    ),
    (
        "pipelines:\n  train:\n    target: a:b\n    executor: threads\n",
        "tether.yaml:4:15: pipelines.train.executor: unknown value 'threads'",
    ),
    (
        "pipelines:\n  train:\n    target: a:b\n    workers: 0\n",
        "tether.yaml:4:14: pipelines.train.workers: invalid value 0; give a whole "
        "number of 1 or more",
    ),
    (
        "pipelines:\n  bad name:\n    target: a:b\n",
        "tether.yaml:2:3: pipelines.bad name: invalid name 'bad name'",
    ),
    (
        "pipelines:\n  train:\n    target: a:b\n  train:\n    target: c:d\n",
        "tether.yaml:4:3: pipelines.train: key 'train' appears twice (first on line 2)",
    ),
    (
        "models:\n  m:\n    pipeline: trian\n    suite: s.yaml\npipelines:\n"
        "  train:\n    target: a:b\n",
        "tether.yaml:3:15: models.m.pipeline: pipeline 'trian' is not declared under "
        "'pipelines'; did you mean 'train'?",
    ),
    (
        "models:\n  m:\n    tests:\n      - name: acc\n        kind: metrc\n",
        "tether.yaml:5:15: models.m.tests[0].kind: unknown test kind 'metrc'; did you "
        "mean 'metric'?",
    ),
    (
        "models:\n  m:\n    tests:\n      - name: acc\n        kind: metric\n"
        "        metric: accuracy\n        mn: 0.9\n",
        "tether.yaml:7:9: models.m.tests[0].mn: unknown key 'mn'; did you mean 'min'?",
    ),
    (
        "models:\n  m:\n    tests:\n      - name: acc\n        kind: metric\n"
        "        min: 0.9\n",
        "tether.yaml:4:9: models.m.tests[0]: a metric test needs the key 'metric'",
    ),
    (
        "models:\n  m:\n    tests:\n      - name: acc\n        kind: metric\n"
        "        metric: accuracy\n",
        "tether.yaml:4:9: models.m.tests[0]: ",
    ),
    (
        "models:\n  m:\n    suite: s.yaml\n    tests:\n      - {name: a, kind: latency,"
        " max_row_p95_ms: 5}\n",
        "tether.yaml:4:5: models.m.tests: give either 'suite' or 'tests', not both",
    ),
    (
        "models:\n  m:\n    label: y\n",
        "tether.yaml:3:5: models.m: declares no tests",
    ),
    (
        "models:\n  m:\n    suite: s.yaml\n    dataset: orders\n",
        "tether.yaml:4:14: models.m.dataset: ",
    ),
    (
        "deployments:\n  d:\n    model: m\n",
        "tether.yaml:3:12: deployments.d.model: model 'm' is not declared under 'models'",
    ),
    (
        "deployments:\n  d:\n    model: models:/m/1\n    port: 70000\n",
        "tether.yaml:4:11: deployments.d.port: invalid value 70000; give a whole number "
        "from 1 to 65535",
    ),
    (
        "deployments:\n  d:\n    model: models:/m/1\n    stage: prod\n",
        "tether.yaml:4:12: deployments.d.stage: unknown value 'prod'; did you mean "
        "'production'?",
    ),
    (
        "deployments:\n  d:\n    model: models:/m/1\n    sticky_header: 'X User'\n",
        "tether.yaml:4:20: deployments.d.sticky_header: invalid --sticky-header 'X User'",
    ),
    (
        "deployments:\n  d:\n    model: models:/m/1\n    promote: {metric: x}\n",
        "tether.yaml:4:14: deployments.d.promote: 'metric' and 'monitor' go together",
    ),
    (
        "monitors:\n  live:\n    model: m\n    reference: orders\n",
        "tether.yaml:4:16: monitors.live.reference: invalid reference 'orders'",
    ),
    (
        "monitors:\n  live:\n    model: m\n    reference: datasets:/o@1\n"
        "    every: week\n",
        "tether.yaml:5:12: monitors.live.every: invalid window 'week'",
    ),
    (
        "monitors:\n  live:\n    model: m\n    reference: datasets:/o@1\n"
        "    cron: '0 3 30 2 *'\n",
        "tether.yaml:5:11: monitors.live.cron: cron expression '0 3 30 2 *' never fires",
    ),
    (
        "rules:\n  r:\n    monitor: live\n    metric: drift.share\n    threshold: 0.3\n"
        "monitors:\n  live:\n    model: m\n    reference: datasets:/o@1\n"
        "    every: day\n    operator: '>'\n",
        "tether.yaml:11:5: monitors.live.operator: unknown key 'operator'",
    ),
    (
        "rules:\n  r:\n    monitor: live\n    metric: drift.share\n    threshold: 0.3\n"
        "    operator: '=>'\nmonitors:\n  live:\n    model: m\n"
        "    reference: datasets:/o@1\n",
        "tether.yaml:6:15: rules.r.operator: invalid operator '=>' in rule r",
    ),
    (
        "rules:\n  r:\n    monitor: live\n    metric: drift.share\n    threshold: 0.3\n"
        "    actions:\n      - {type: page, to: me}\nmonitors:\n  live:\n    model: m\n"
        "    reference: datasets:/o@1\n",
        "tether.yaml:7:16: rules.r.actions[0].type: unknown action type 'page'",
    ),
    (
        "rules:\n  r:\n    monitor: other\n    metric: drift.share\n    threshold: 1\n",
        "tether.yaml:3:14: rules.r.monitor: monitor 'other' is not declared under "
        "'monitors'; add it under 'monitors:'",
    ),
    (
        "pipelines:\n  train:\n    target: a:b\ntriggers:\n  t:\n    pipeline: train\n"
        "    cron: '0 3 * * *'\n    on_alert: drift\n",
        "tether.yaml:6:5: triggers.t: a trigger needs exactly one of cron, on_dataset "
        "and on_alert (given: cron, on_alert)",
    ),
    (
        "pipelines:\n  train:\n    target: a:b\ntriggers:\n  t:\n    pipeline: train\n"
        "    cron: 'every day'\n",
        "tether.yaml:7:11: triggers.t.cron: invalid cron expression 'every day'",
    ),
    (
        "release:\n  policy: sometimes\n",
        "tether.yaml:2:11: release.policy: unknown value 'sometimes'; use one of: auto, "
        "manual, never",
    ),
    ("version: 2\n", "tether.yaml:1:10: version: unsupported version 2; use 1"),
    (
        "pipelines:\n  train:\n    target: a:b\n    params: {when: 2024-01-01}\n",
        "tether.yaml:4:13: pipelines.train.params: values must be JSON-compatible",
    ),
    (
        "pipelines:\n  train:\n    target: a:b\n   params: {}\n",
        "tether.yaml:4:4: invalid YAML:",
    ),
    ("- one\n- two\n", "tether.yaml:1:1: a project file must be a mapping"),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_error_at_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    found = problems_of(tmp_path, text)
    matching = [problem for problem in found if problem.startswith(expected)]
    assert matching, found


def test_every_problem_is_reported(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        """
        pipelines:
          train:
            target: nocolon
            executer: ray
        deployments:
          d:
            model: models:/m/1
            port: 0
        release:
          policy: sometimes
        """,
    )
    assert len(found) == 4
    assert [p.split(":")[1] for p in found] == ["3", "4", "8", "10"]


def test_error_names_the_fix(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "models:\n  m:\n    label: y\n")
    assert found == [
        "tether.yaml:3:5: models.m: declares no tests; add 'suite: FILE' (a test "
        "suite file) or a 'tests' list"
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        ProjectFileError, match="not found; create one with `tether init`"
    ):
        load_project(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "tether.yaml").write_bytes(b"version: 1\nname: \xff\n")
    with pytest.raises(ProjectFileError, match="not UTF-8 text"):
        load_project(tmp_path)


def test_checks_find_code_and_files(tmp_path: Path) -> None:
    package = tmp_path / "checked_shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text(
        "import tether\n\n\n@tether.pipeline(name='build')\n"
        "def build(path: str, seed: int = 1) -> int:\n    return seed\n"
    )
    spec = load_project(
        write(
            tmp_path,
            """
            pipelines:
              train:
                target: checked_shop.pipeline:build
                params: {path: data.csv, sede: 2}
              other:
                target: checked_shop.missing:build
              nightly:
                target: checked_shop.pipeline:build
                params: {path: data.csv}
            datasets:
              orders:
                source: data/*.csv
            models:
              m:
                suite: missing-tests.yaml
            triggers:
              t:
                pipeline: nightly
                on_alert: drift
                input_param: when
            """,
        )
    )
    found = [str(p).removeprefix(f"{tmp_path}/") for p in check_project(spec)]
    assert found == [
        "tether.yaml:4:13: pipelines.train.params: pipeline 'build' has no parameter "
        "sede; its parameters are path, seed",
        "tether.yaml:6:13: pipelines.other.target: cannot import pipeline "
        "checked_shop.missing:build: no module named 'checked_shop.missing'; use "
        "MODULE:NAME, e.g. flights.build:build, and run from the project folder or "
        "put its modules on PYTHONPATH",
        "tether.yaml:20:18: triggers.t.input_param: pipeline 'build' has no parameter "
        "when; its parameters are path, seed",
        "tether.yaml:15:12: models.m.suite: suite file 'missing-tests.yaml' not found "
        f"in {tmp_path.resolve()}; give the path of a test suite file relative to the "
        "project folder",
        f"tether.yaml:12:13: datasets.orders.source: no file matches 'data/*.csv' in "
        f"{tmp_path.resolve()}; check the pattern",
    ]


def test_validate_prints_each_problem(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "pipelines:\n  train:\n    target: nocolon\nrelease: {policy: x}\n")
    assert main(["validate"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("tether.yaml:3:13: pipelines.train.target:")
    assert lines[1].startswith("tether.yaml:4:19: release.policy:")
    assert "2 problem(s) found" in captured.err


def test_validate_names_given_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    write(folder, "release: {policy: x}\n")
    assert main(["validate", str(folder)]) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{folder / 'tether.yaml'}:1:19: release.policy:")


def test_init_round_trip(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert (
        (tmp_path / "tether.yaml").read_text().startswith("# The Tether project file")
    )
    assert main(["validate"]) == 0
    assert "tether.yaml is valid: 0 pipelines" in capsys.readouterr().out


def test_init_examples_are_valid(tmp_path: Path) -> None:
    """Every commented example in the starting file loads once it is uncommented."""
    (tmp_path / "start").mkdir()
    assert main(["init", str(tmp_path / "start")]) == 0
    text = (tmp_path / "start" / "tether.yaml").read_text()
    uncommented = re.sub(r"^#(  .*)$", r"\1", text, flags=re.MULTILINE)
    spec = load_project(write(tmp_path, uncommented))
    assert list(spec.pipelines) == ["train"]
    assert spec.models["penguins"].suite == "model-tests.yaml"
    assert spec.deployments["penguins-production"].promote.monitor == "penguins-live"
    assert list(spec.triggers) == ["nightly", "on-new-data"]
    assert spec.rules["accuracy-drop"].actions[0]["type"] == "rollback"


def test_init_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "version: 1\nrelease: {branches: [trunk]}\n")
    assert main(["init", str(tmp_path)]) == 2
    assert "exists; keep it, or overwrite it with `tether init --force`" in (
        capsys.readouterr().err
    )
    assert "trunk" in (tmp_path / "tether.yaml").read_text()
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert "trunk" not in (tmp_path / "tether.yaml").read_text()


def test_init_ci_keeps_project_file(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\nrelease: {branches: [trunk]}\n")
    assert main(["init", str(tmp_path), "--ci", "github"]) == 0
    assert "trunk" in (tmp_path / "tether.yaml").read_text()
    workflow = yaml.safe_load((tmp_path / ".github/workflows/tether.yml").read_text())
    assert workflow[True]["push"]["branches"] == ["trunk"]
    assert main(["init", str(tmp_path), "--ci", "github"]) == 2


def test_init_unknown_ci(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--ci", "jenkins"]) == 2
    assert "unknown CI system 'jenkins'; use one of: github, gitlab" in (
        capsys.readouterr().err
    )


def schema_errors(schema: str, path: Path) -> str:
    """Validate ``path`` with check-jsonschema's copy of a schemastore schema."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            schema,
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def test_github_workflow_schema(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path), "--ci", "github", "--python", "3.12"]) == 0
    path = tmp_path / ".github" / "workflows" / "tether.yml"
    assert schema_errors("vendor.github-workflows", path) == ""
    job = yaml.safe_load(path.read_text())["jobs"]["tether-ci"]
    steps = {step.get("name", step.get("uses")): step for step in job["steps"]}
    assert steps["actions/setup-python@v5"]["with"]["python-version"] == "3.12"
    cache = steps["Restore the Tether store"]
    assert cache["uses"] == "actions/cache@v4"
    assert cache["with"]["path"] == ".tether"
    assert steps["tether ci"]["run"] == "tether ci --summary tether-ci.md"
    assert "pip install tether-mlops" in steps["Install"]["run"]


def test_schema_check_can_fail(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path), "--ci", "github"]) == 0
    path = tmp_path / ".github" / "workflows" / "tether.yml"
    path.write_text(path.read_text().replace("runs-on:", "runs-onn:"))
    assert "runs-onn" in schema_errors("vendor.github-workflows", path)


def test_gitlab_file_schema(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    assert main(["init", str(tmp_path), "--ci", "gitlab"]) == 0
    path = tmp_path / ".gitlab-ci.yml"
    assert schema_errors("vendor.gitlab-ci", path) == ""
    job = yaml.safe_load(path.read_text())["tether-ci"]
    assert job["cache"][0]["paths"] == [".tether/"]
    assert job["script"][1:] == ["pip install -e .", "tether ci --summary tether-ci.md"]


def test_docs_example_loads(tmp_path: Path) -> None:
    text = DOCS.read_text()
    block = re.search(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert block is not None
    spec = load_project(write(tmp_path, block.group(1)))
    assert spec.pipelines
    assert spec.models
    assert spec.deployments
