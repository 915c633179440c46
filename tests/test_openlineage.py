"""Tests for the OpenLineage events that runs send, through the client's real transports.

openlineage-python 1.54 ships no JSON schema file of the specification, so
each event is checked against the client's own classes, which the client
generates from that specification. :func:`rebuild` builds every object of
the event with them, and the rebuilt event must serialize to the same
JSON. Their validators check run ids, times and URLs, and a missing field
or an unknown facet fails.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import subprocess
import sys
import threading
import types
import typing
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attr
import pandas as pd
import pytest
from openlineage.client.event_v2 import RunEvent
from openlineage.client.generated import (
    base,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_location_job,
    tags_run,
    test_run,
)
from openlineage.client.serde import Serde
from sklearn.linear_model import LogisticRegression

import tether
from pipeline_helpers import NUMBERS, ModuleWriter
from tether.data.quality import in_range, not_null, validate
from tether.ids import new_id
from tether.lineage import openlineage
from tether.lineage.openlineage import run_uuid
from tether.store import get_store

FACET_CLASSES: dict[type, dict[str, type]] = {
    base.RunFacet: {
        "parent": parent_run.ParentRunFacet,
        "errorMessage": error_message_run.ErrorMessageRunFacet,
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
        "tags": tags_run.TagsRunFacet,
        "test": test_run.TestRunFacet,
    },
    base.JobFacet: {
        "jobType": job_type_job.JobTypeJobFacet,
        "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet,
    },
    base.DatasetFacet: {
        "schema": schema_dataset.SchemaDatasetFacet,
        "version": dataset_version_dataset.DatasetVersionDatasetFacet,
    },
    base.InputDatasetFacet: {
        "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet,
        "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
    },
    base.OutputDatasetFacet: {
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
    },
}
"""The concrete class of each facet name, by the base class its dict holds."""

CLEARED = (
    "TETHER_OPENLINEAGE",
    "TETHER_OPENLINEAGE_NAMESPACE",
    "OPENLINEAGE_URL",
    "OPENLINEAGE_CONFIG",
    "OPENLINEAGE_NAMESPACE",
    "OPENLINEAGE_DISABLED",
    "OPENLINEAGE_API_KEY",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
)


def rebuild(cls: type, data: Any) -> Any:
    """Build ``cls`` from JSON data with the client's classes; fail on any mismatch."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attr.fields(cls)}
    unknown = set(data) - set(fields)
    assert not unknown, f"{cls.__name__} has no fields {sorted(unknown)}"
    arguments = {
        f.alias: _convert(hints[f.name], data[name])
        for name, f in fields.items()
        if name in data and f.init
    }
    built = cls(**arguments)
    if "_schemaURL" in data:
        assert data["_schemaURL"] == built._schemaURL
    return built


def _convert(hint: Any, value: Any) -> Any:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _convert(next(a for a in arguments if a is not type(None)), value)
    if origin is list:
        return [_convert(arguments[0], item) for item in value]
    if origin is dict:
        table = FACET_CLASSES.get(arguments[1])
        if table is None:
            return dict(value)
        unknown = set(value) - set(table)
        assert not unknown, f"no client class for facets {sorted(unknown)}"
        return {key: rebuild(table[key], item) for key, item in value.items()}
    if isinstance(hint, type) and attr.has(hint):
        return rebuild(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is Any:
        return value
    assert isinstance(value, hint), f"{value!r} is not {hint}"
    return value


def read_events(path: Path) -> list[dict[str, Any]]:
    """Return the events of a file transport's file, each checked by :func:`rebuild`."""
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for event in events:
        assert Serde.to_dict(rebuild(RunEvent, event)) == event
    return events


def by_job(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        grouped.setdefault(event["job"]["name"], []).append(event)
    return grouped


def names(datasets: list[dict[str, Any]]) -> list[str]:
    return [dataset["name"] for dataset in datasets]


@pytest.fixture
def clean_env(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No OpenLineage setting, no config file, a working folder under tmp_path."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name in [key for key in os.environ if key.startswith("OPENLINEAGE__")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(openlineage, "_sender", openlineage._Sender())
    return folder


@pytest.fixture
def events_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Send events to a file through the client's file transport."""
    path = clean_env / "events.jsonl"
    monkeypatch.setenv("TETHER_OPENLINEAGE", f"file:{path}")
    return path


def test_run_sends_start_then_complete(events_file: Path) -> None:
    with tether.start_run(experiment="exp", name="train") as run:
        run.log_param("c", 1)

    events = read_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    assert events[0]["run"]["runId"] == run_uuid(run.id)
    assert events[0]["job"] == events[1]["job"]
    assert events[0]["job"]["namespace"] == "tether"
    assert events[0]["job"]["name"] == "exp/train"
    assert events[0]["job"]["facets"]["jobType"]["jobType"] == "JOB"
    assert events[0]["producer"].startswith("urn:tether-mlops:")
    tags = {t["key"]: t["value"] for t in events[1]["run"]["facets"]["tags"]["tags"]}
    assert tags["tether.run_id"] == run.id
    assert "errorMessage" not in events[1]["run"]["facets"]


def test_failed_run_sends_fail_with_error(events_file: Path) -> None:
    with pytest.raises(ValueError, match="bad column"), tether.start_run(name="r"):
        raise ValueError("bad column")

    events = read_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    error = events[1]["run"]["facets"]["errorMessage"]
    assert error["message"] == "ValueError: bad column"
    assert error["programmingLanguage"] == "python"
    assert "errorMessage" not in events[0]["run"]["facets"]


def test_interrupted_run_sends_abort(events_file: Path) -> None:
    with pytest.raises(KeyboardInterrupt), tether.start_run(name="r"):
        raise KeyboardInterrupt

    events = read_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "ABORT"]
    assert events[1]["run"]["facets"]["errorMessage"]["message"] == "interrupted"


def test_inputs_and_outputs_named(events_file: Path) -> None:
    raw = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "label": [0, 1, 0, 1]})
    with tether.start_run(experiment="exp", name="fit") as run:
        run.log_dataset(raw, "raw", role="input")
        prepared = raw.assign(double=raw["x"] * 2)
        run.log_dataset(prepared, "prepared", role="output")
        model = LogisticRegression().fit(prepared[["x", "double"]], prepared["label"])
        run.log_model(model, "clf", input_example=prepared[["x", "double"]].head(2))

    start, complete = read_events(events_file)
    assert start["inputs"] == []
    assert start["outputs"] == []
    assert names(complete["inputs"]) == ["datasets/raw"]
    assert names(complete["outputs"]) == ["datasets/prepared", "models/clf"]
    raw_input = complete["inputs"][0]
    assert raw_input["namespace"] == "tether"
    assert raw_input["facets"]["version"]["datasetVersion"] == "1"
    columns = raw_input["facets"]["schema"]["fields"]
    assert [c["name"] for c in columns] == ["x", "label"]
    assert [c["type"] for c in columns] == ["float64", "int64"]
    assert raw_input["inputFacets"]["inputStatistics"]["rowCount"] == 4
    prepared_output, model_output = complete["outputs"]
    assert prepared_output["outputFacets"]["outputStatistics"]["rowCount"] == 4
    assert len(prepared_output["facets"]["schema"]["fields"]) == 3
    assert model_output["facets"]["version"]["datasetVersion"] == "1"
    assert "schema" not in model_output["facets"]


def test_quality_results_become_facets(events_file: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, None], "y": [5, 50, 7]})
    with tether.start_run(name="check") as run:
        version = run.log_dataset(frame, "raw", role="input")
        validate(
            frame,
            [not_null("x", severity="warning"), in_range("y", max=10)],
            source=version.uri,
        )

    complete = read_events(events_file)[1]
    assertions = complete["inputs"][0]["inputFacets"]["dataQualityAssertions"]
    found = {(a["assertion"], a["column"]): a for a in assertions["assertions"]}
    assert set(found) == {("not_null", "x"), ("range", "y")}
    assert found["not_null", "x"]["success"] is False
    assert found["not_null", "x"]["severity"] == "warn"
    assert found["range", "y"]["success"] is False
    assert found["range", "y"]["severity"] == "error"
    tests = complete["run"]["facets"]["test"]["tests"]
    assert sorted(t["status"] for t in tests) == ["fail", "fail"]
    assert {t["name"] for t in tests} == {
        "checks: not_null(x)",
        "checks: range(y, ..10)",
    }
    assert {t["type"] for t in tests} == {"not_null", "range"}


def test_quality_without_source_stays_on_run(events_file: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2]})
    with tether.start_run(name="check") as run:
        run.log_dataset(frame, "a", role="input")
        run.log_dataset(frame.assign(y=1), "b", role="input")
        validate(frame, [not_null("x")])

    complete = read_events(events_file)[1]
    assert names(complete["inputs"]) == ["datasets/a", "datasets/b"]
    for dataset in complete["inputs"]:
        assert "dataQualityAssertions" not in dataset["inputFacets"]
    tests = complete["run"]["facets"]["test"]["tests"]
    assert [(t["name"], t["status"]) for t in tests] == [
        ("checks: not_null(x)", "pass")
    ]
    assert tests[0]["type"] == "not_null"


def test_steps_name_pipeline_parent(
    events_file: Path, write_module: ModuleWriter
) -> None:
    module = write_module("ol_numbers", NUMBERS)
    assert module.numbers.run(n=3) == 6
    pipeline_run = get_store().get_run(module.numbers.last_run_id)

    jobs = by_job(read_events(events_file))
    pipeline_job = f"{pipeline_run.experiment}/numbers"
    assert set(jobs) == {pipeline_job, f"{pipeline_job}/make", f"{pipeline_job}/total"}
    pipeline_id = run_uuid(pipeline_run.id)
    assert [e["eventType"] for e in jobs[pipeline_job]] == ["START", "COMPLETE"]
    assert jobs[pipeline_job][0]["job"]["facets"]["jobType"]["jobType"] == "DAG"
    assert "parent" not in jobs[pipeline_job][1]["run"]["facets"]
    for step in ("make", "total"):
        start, complete = jobs[f"{pipeline_job}/{step}"]
        assert complete["job"]["facets"]["jobType"]["jobType"] == "TASK"
        parent = complete["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == pipeline_id
        assert parent["job"]["namespace"] == "tether"
        assert parent["job"]["name"] == pipeline_job
        assert parent["root"]["run"]["runId"] == pipeline_id
        assert start["run"]["facets"]["parent"] == parent
    made = jobs[f"{pipeline_job}/make"][1]["outputs"]
    consumed = jobs[f"{pipeline_job}/total"][1]["inputs"]
    assert len(made) == 1
    assert made[0]["name"].startswith("artifacts/")
    assert names(consumed) == names(made)


def test_source_code_location_from_git(events_file: Path, clean_env: Path) -> None:
    def git(*args: str) -> str:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args]
        done = subprocess.run(
            command, cwd=clean_env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    git("-c", "init.defaultBranch=main", "init", "--quiet")
    (clean_env / "train.py").write_text("print('hi')\n")
    git("add", "train.py")
    git("commit", "-qm", "Add train")
    git("remote", "add", "origin", "https://user:secret@example.com/org/repo.git")
    with tether.start_run(name="r"):
        pass

    for event in read_events(events_file):
        location = event["job"]["facets"]["sourceCodeLocation"]
        assert location["type"] == "git"
        assert location["url"] == "https://example.com/org/repo.git"
        assert location["repoUrl"] == "https://example.com/org/repo.git"
        assert location["version"] == git("rev-parse", "HEAD")
        assert location["branch"] == "main"
    assert "secret" not in events_file.read_text()


def test_ci_facts_become_tags(
    events_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/repo")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_do_not_record")
    with tether.start_run(name="r"):
        pass

    complete = read_events(events_file)[1]
    tags = {
        t["key"]: (t["value"], t["source"])
        for t in complete["run"]["facets"]["tags"]["tags"]
    }
    assert tags["ci.provider"] == ("github-actions", "CI")
    assert tags["ci.job_id"] == ("42", "CI")
    assert tags["ci.run_url"] == ("https://github.com/org/repo/actions/runs/42", "CI")
    assert tags["ci.trigger"] == ("push", "CI")
    assert tags["ci.ref"] == ("refs/heads/main", "CI")
    assert "ghs_do_not_record" not in events_file.read_text()


def test_namespace_setting(events_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_OPENLINEAGE_NAMESPACE", "team-a")
    with tether.start_run(name="r") as run:
        run.log_dataset(pd.DataFrame({"x": [1]}), "d")

    complete = read_events(events_file)[1]
    assert complete["job"]["namespace"] == "team-a"
    assert complete["inputs"][0]["namespace"] == "team-a"


def test_off_without_configuration(clean_env: Path) -> None:
    with tether.start_run(name="r"):
        pass

    assert openlineage.configured_target() is None
    assert list(clean_env.iterdir()) == []


def test_off_setting_wins(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = clean_env / "openlineage.yml"
    events = clean_env / "events.jsonl"
    config.write_text(
        f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n"
    )
    monkeypatch.setenv("TETHER_OPENLINEAGE", "off")
    with tether.start_run(name="r"):
        pass

    assert not events.exists()


def test_client_config_file_turns_on(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = clean_env / "events.jsonl"
    config = clean_env / "ol.yml"
    config.write_text(
        f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n"
    )
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    with tether.start_run(name="r"):
        pass

    assert [e["eventType"] for e in read_events(events)] == ["START", "COMPLETE"]


def test_send_error_warns_once(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    missing = clean_env / "missing" / "events.jsonl"
    monkeypatch.setenv("TETHER_OPENLINEAGE", f"file:{missing}")
    caplog.set_level(logging.DEBUG, logger="tether.lineage.openlineage")
    for name in ("a", "b"):
        with tether.start_run(name=name) as run:
            pass
        assert get_store().get_run(run.id).status == "FINISHED"

    records = [r for r in caplog.records if r.name == "tether.lineage.openlineage"]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "sending the OpenLineage START event" in warnings[0].getMessage()
    assert "without OpenLineage events" in warnings[0].getMessage()
    assert len([r for r in records if r.levelno == logging.DEBUG]) == 3


def test_invalid_setting_warns(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TETHER_OPENLINEAGE", "kafka:events")
    with tether.start_run(name="r") as run:
        pass

    assert get_store().get_run(run.id).status == "FINISHED"
    message = caplog.records[-1].getMessage()
    assert "invalid TETHER_OPENLINEAGE 'kafka:events'" in message
    assert "use file:PATH, console, an http:// or https:// URL, or off" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("console", {"type": "console"}),
        (
            "file:///tmp/ol/events.jsonl",
            {
                "type": "file",
                "log_file_path": "file:///tmp/ol/events.jsonl",
                "append": True,
            },
        ),
    ],
)
def test_transport_config_forms(value: str, expected: dict[str, Any]) -> None:
    assert openlineage.transport_config(value, {}) == expected


def test_transport_config_http_path() -> None:
    plain = openlineage.transport_config("http://127.0.0.1:5000", {})
    assert plain["url"] == "http://127.0.0.1:5000"
    assert plain["endpoint"] == "api/v1/lineage"
    custom = openlineage.transport_config(
        "https://127.0.0.1/custom/events?x=1", {"OPENLINEAGE_API_KEY": "k"}
    )
    assert custom["url"] == "https://127.0.0.1"
    assert custom["endpoint"] == "custom/events?x=1"
    assert custom["auth"] == {"type": "api_key", "apiKey": "k"}


class Collector(BaseHTTPRequestHandler):
    """Stores each POST body and path on the server, and returns 200."""

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        server: Any = self.server
        server.received.append((self.path, json.loads(self.rfile.read(length))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Any]:
    """A real HTTP server on a loopback port that collects the events posted to it."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.mark.parametrize(
    ("path", "expected"), [("", "/api/v1/lineage"), ("/in", "/in")]
)
def test_http_transport_posts_events(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    collector: Any,
    path: str,
    expected: str,
) -> None:
    host, port = collector.server_address
    monkeypatch.setenv("TETHER_OPENLINEAGE", f"http://{host}:{port}{path}")
    with tether.start_run(experiment="exp", name="r") as run:
        pass

    assert [p for p, _ in collector.received] == [expected, expected]
    events = [event for _, event in collector.received]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {run_uuid(run.id)}
    for event in events:
        assert Serde.to_dict(rebuild(RunEvent, event)) == event


def test_run_uuid_maps_ids() -> None:
    first, second = new_id(), new_id()
    assert uuid.UUID(run_uuid(first)) != uuid.UUID(run_uuid(second))
    assert run_uuid(first) == run_uuid(first)
    assert run_uuid(first) < run_uuid(second)
    assert run_uuid("custom-run-id") == str(
        uuid.uuid5(uuid.NAMESPACE_URL, "tether:run:custom-run-id")
    )


def test_import_tether_skips_client(clean_env: Path) -> None:
    code = (
        "import sys, tether\n"
        "with tether.start_run(name='r'):\n"
        "    pass\n"
        "print('openlineage' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=clean_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "False"
