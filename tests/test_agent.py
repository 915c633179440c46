"""Schedules and ``tether agent``: cron, dataset and alert triggers, and restarts.

The restart tests run the agent as a real process, kill it with SIGKILL and
start it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import tether
from pipeline_helpers import ModuleWriter
from tether.cli.main import main
from tether.errors import ConfigError
from tether.pipelines.agent import Agent
from tether.pipelines.schedules import add_schedule, fire_alert
from tether.store import get_store

WAIT_SECONDS = 120

RETRAIN = """
from pathlib import Path

import tether


@tether.step(cache=False)
def record(marker, source):
    path = Path(marker)
    with path.open("a") as file:
        file.write(f"{source}\\n")
    hold = Path(marker + ".hold")
    while hold.exists():
        import time

        time.sleep(0.05)
    return source


@tether.pipeline(experiment="scheduled")
def retrain(marker, source="cron"):
    return record(marker, source)
"""


@pytest.fixture
def retrain(tether_home: Path, write_module: ModuleWriter) -> str:
    write_module("retrain_pipeline", RETRAIN)
    return "retrain_pipeline:retrain"


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_cron_fires_latest_tick_once(retrain: str, tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    schedule = add_schedule(
        "nightly", retrain, cron="* * * * *", params={"marker": str(marker)}
    )
    agent = Agent()
    later = schedule.created_at + timedelta(minutes=3, seconds=5)
    assert len(agent.poll(later)) == 1
    assert agent.poll(later) == []
    assert len(agent.poll(later + timedelta(minutes=1))) == 1
    assert lines(marker) == ["cron", "cron"]
    firings = get_store().list_firings(schedule.id)
    assert [f.status for f in firings] == ["finished", "finished"]
    keys = [f.fire_key for f in firings]
    assert keys == sorted(keys)
    assert keys[0].endswith(":00Z")


def test_dataset_version_triggers_with_uri(retrain: str, tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    add_schedule(
        "on-new-flights",
        retrain,
        on_dataset="flights-raw",
        params={"marker": str(marker)},
        input_param="source",
    )
    agent = Agent()
    assert agent.poll() == []
    tether.data.register("flights-raw", pd.DataFrame({"a": [1, 2]}))
    tether.data.register("flights-raw", pd.DataFrame({"a": [1, 2, 3]}))
    started = agent.poll()
    assert len(started) == 2
    assert lines(marker) == ["datasets:/flights-raw@1", "datasets:/flights-raw@2"]
    assert agent.poll() == []
    run = get_store().get_run(started[0])
    assert run.kind == "pipeline"
    assert run.params["source"] == "datasets:/flights-raw@1"


def test_alert_triggers(retrain: str, tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    add_schedule(
        "on-drift",
        retrain,
        on_alert="flights-drift",
        params={"marker": str(marker)},
        input_param="source",
    )
    event = fire_alert("flights-drift", {"share": 0.4})
    agent = Agent()
    assert len(agent.poll()) == 1
    assert agent.poll() == []
    assert lines(marker) == [event.id]


def test_failed_pipeline_is_recorded(retrain: str, tmp_path: Path) -> None:
    schedule = add_schedule(
        "broken",
        retrain,
        on_alert="boom",
        params={"marker": str(tmp_path / "no" / "x")},
    )
    fire_alert("boom")
    started = Agent().poll()
    assert len(started) == 1
    (firing,) = get_store().list_firings(schedule.id)
    assert firing.status == "failed"
    assert firing.error is not None
    assert firing.error.startswith("FileNotFoundError")
    assert get_store().get_run(started[0]).status == "FAILED"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one trigger"),
        ({"cron": "0 3 * *", "on_alert": "x"}, "exactly one trigger"),
        ({"cron": "61 * * * *"}, "invalid cron expression"),
        ({"cron": "0 3 * * *", "params": {"nope": 1}}, "has no parameter nope"),
    ],
)
def test_invalid_schedule(retrain: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        add_schedule("bad", retrain, **options)


def test_duplicate_and_unknown_pipeline(retrain: str) -> None:
    add_schedule("daily", retrain, cron="0 3 * * *", params={"marker": "m"})
    with pytest.raises(ConfigError, match="a schedule named 'daily' exists"):
        add_schedule("daily", retrain, cron="0 4 * * *", params={"marker": "m"})
    with pytest.raises(ConfigError, match="cannot import pipeline nowhere:thing"):
        add_schedule("other", "nowhere:thing", cron="0 3 * * *")


def test_schedule_cli(
    retrain: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "runs.txt"
    assert (
        main(
            [
                "schedule",
                "add",
                "cli-drift",
                retrain,
                "--on-alert",
                "drift",
                "-p",
                f"marker={marker}",
                "--input-param",
                "source",
            ]
        )
        == 0
    )
    assert main(["schedule", "fire-alert", "drift"]) == 0
    assert main(["agent", "--once"]) == 0
    assert len(lines(marker)) == 1
    capsys.readouterr()
    assert main(["schedule", "list", "--format", "json"]) == 0
    import json

    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["name"] == "cli-drift"
    assert listed["firings"] == 1
    assert listed["last_status"] == "finished"
    assert listed["params"] == {"marker": str(marker)}
    assert listed["input_param"] == "source"
    assert listed["next"] is None
    assert main(["schedule", "remove", "cli-drift"]) == 0
    assert get_store().list_schedules() == []


def start_agent(home: Path, module_folder: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TETHER_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(module_folder), *sys.path]),
    }
    env.pop("TETHER_STORE", None)
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "tether.cli", "agent", "--poll", "0.1"],
            env=env,
            cwd=module_folder,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_agent_restart_runs_nothing_twice(
    retrain: str, tether_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    schedule = add_schedule(
        "restart",
        retrain,
        on_alert="go",
        params={"marker": str(marker)},
        input_param="source",
    )
    log = tmp_path / "agent.log"
    agent = start_agent(tether_home, tmp_path, log)
    try:
        fire_alert("go")
        wait_for(lambda: len(lines(marker)) == 1, "the first firing to run")
        wait_for(
            lambda: (
                [f.status for f in get_store().list_firings(schedule.id)]
                == ["finished"]
            ),
            "the first firing to finish",
        )
    finally:
        agent.kill()
        agent.wait()
    restarted = start_agent(tether_home, tmp_path, log)
    try:
        fire_alert("go")
        wait_for(lambda: len(lines(marker)) == 2, "the second firing to run")
        wait_for(
            lambda: (
                [f.status for f in get_store().list_firings(schedule.id)]
                == ["finished", "finished"]
            ),
            "the second firing to finish",
        )
        time.sleep(0.5)  # several more polls; nothing may run again
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=WAIT_SECONDS) == 0
    assert len(lines(marker)) == 2
    text = log.read_text()
    assert text.count("started; polling every 0.1 s") == 2
    assert "stopped" in text


def test_killed_firing_is_interrupted_not_rerun(
    retrain: str, tether_home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    hold = Path(str(marker) + ".hold")
    hold.touch()
    schedule = add_schedule(
        "held",
        retrain,
        on_alert="go",
        params={"marker": str(marker)},
        input_param="source",
    )
    fire_alert("go")
    log = tmp_path / "agent.log"
    agent = start_agent(tether_home, tmp_path, log)
    try:
        wait_for(lambda: len(lines(marker)) == 1, "the step to start")
    finally:
        agent.kill()
        agent.wait()
    hold.unlink()
    restarted = start_agent(tether_home, tmp_path, log)
    try:
        wait_for(
            lambda: (
                [f.status for f in get_store().list_firings(schedule.id)]
                == ["interrupted"]
            ),
            "the firing to be marked interrupted",
        )
        time.sleep(0.5)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=WAIT_SECONDS)
    (firing,) = get_store().list_firings(schedule.id)
    assert "tether pipeline resume" in str(firing.error)
    assert len(lines(marker)) == 1


def test_agent_command_restores_logging(tether_home: Path) -> None:
    import logging

    pipelines = logging.getLogger("tether.pipelines")
    before = (list(pipelines.handlers), pipelines.level, pipelines.propagate)
    assert main(["agent", "--once"]) == 0
    after = (list(pipelines.handlers), pipelines.level, pipelines.propagate)
    assert after == before
