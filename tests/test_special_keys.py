"""Keys with '/', spaces, dots, brackets and non-ASCII text through every surface.

Each key is logged as a metric, a param and a tag, then read back through the
SDK, search filters and order keys, the search DataFrame and the ``tether
runs`` commands, on SQLite and on PostgreSQL when it is configured. The
second half checks the key rules: which keys the SDK rejects and with what
message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

import tether
import tether.search as search_module
from tether.cli import render
from tether.cli.main import main
from tether.errors import TetherError
from tether.store import schema

EXPERIMENT = "keys"
KEYS = [
    pytest.param("train/loss", id="slash"),
    pytest.param("learning rate", id="space"),
    pytest.param("layer.0.weight", id="dots"),
    pytest.param("précision", id="accent"),
    pytest.param("損失", id="cjk"),
    pytest.param("[bold]x[/]", id="markup"),
    pytest.param("eval/top 1.précision `損失`", id="mixed"),
]
MIXED_KEY = "eval/top 1.précision `損失`"
# A run named "small" and a run named "large", so every filter and order
# has one expected result.
SMALL_HISTORY = [(0, 0.9), (1, 0.5), (2, 0.25)]
LARGE_HISTORY = [(0, 0.8), (1, 0.75)]
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Logged:
    """The key and the ids of the two runs that logged it."""

    key: str
    small: str
    large: str


def quoted(key: str) -> str:
    """Write ``key`` in backticks, doubling each backtick inside it."""
    return "`" + key.replace("`", "``") + "`"


def log_run(name: str, key: str, history: list[tuple[int, float]], text: str) -> str:
    with tether.start_run(experiment=EXPERIMENT, name=name) as run:
        for step, value in history:
            tether.log_metric(key, value, step=step)
        tether.log_param(key, text)
        tether.set_tag(key, name)
    return run.id


@pytest.fixture(params=KEYS)
def logged(request: pytest.FixtureRequest, store_url: str) -> Logged:
    key: str = request.param
    small = log_run("small", key, SMALL_HISTORY, "0.01")
    large = log_run("large", key, LARGE_HISTORY, "0.1")
    return Logged(key, small, large)


def names(filter_text: str = "", order_by: tuple[str, ...] = ()) -> list[str]:
    frame = tether.search_runs(EXPERIMENT, filter=filter_text, order_by=order_by)
    return [str(name) for name in frame["name"]]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


# -- SDK ------------------------------------------------------------------


def test_sdk_reads_back_values(logged: Logged) -> None:
    key = logged.key
    small = tether.get_run(logged.small)
    history = [(p.key, p.step, p.value) for p in small.metric_history(key)]
    assert history == [(key, step, value) for step, value in SMALL_HISTORY]
    assert small.metrics == {key: 0.25}
    assert small.params == {key: "0.01"}
    assert small.tags == {key: "small"}
    large = tether.get_run(logged.large)
    assert [(p.step, p.value) for p in large.metric_history(key)] == LARGE_HISTORY
    assert large.metrics == {key: 0.75}
    assert large.params == {key: "0.1"}
    assert large.tags == {key: "large"}


# -- search ---------------------------------------------------------------


def test_search_filters_orders_frame(logged: Logged) -> None:
    key = logged.key
    q = quoted(key)
    assert names(f"metrics.{q} < 0.5") == ["small"]
    assert names(f"metrics.{q} >= 0.75") == ["large"]
    assert names(f"params.{q} = '0.1'") == ["large"]
    assert names(f"params.{q} < 0.05") == ["small"]
    assert names(f"tags.{q} = 'small'") == ["small"]
    assert names(f"tags.{q} like 'lar%'") == ["large"]
    assert names(f"metrics.{q} is null") == []
    assert names(f"metrics.{q} > 0 and tags.{q} != 'large'") == ["small"]

    assert names(order_by=(f"metrics.{q} ASC",)) == ["small", "large"]
    assert names(order_by=(f"metrics.{q} DESC",)) == ["large", "small"]
    # Params and tags sort as text: '0.1' > '0.01' and 'large' < 'small'.
    assert names(order_by=(f"params.{q} DESC",)) == ["large", "small"]
    assert names(order_by=(f"tags.{q}",)) == ["large", "small"]

    frame = tether.search_runs(EXPERIMENT, order_by=[f"metrics.{q} ASC"])
    assert list(frame.columns) == [
        *search_module.RUN_COLUMNS,
        f"params.{key}",
        f"metrics.{key}",
        f"tags.{key}",
    ]
    assert frame["run_id"].tolist() == [logged.small, logged.large]
    assert frame[f"metrics.{key}"].tolist() == [0.25, 0.75]
    assert frame[f"params.{key}"].tolist() == ["0.01", "0.1"]
    assert frame[f"tags.{key}"].tolist() == ["small", "large"]


@pytest.mark.parametrize("key", ["précision", "損失", "layer_0"])
def test_identifier_keys_need_no_backticks(store_url: str, key: str) -> None:
    log_run("small", key, SMALL_HISTORY, "0.01")
    log_run("large", key, LARGE_HISTORY, "0.1")
    assert names(f"metrics.{key} < 0.5") == ["small"]
    assert names(order_by=(f"params.{key} desc",)) == ["large", "small"]


# -- command line -----------------------------------------------------------


def test_cli_list_and_show(
    logged: Logged,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render.console, "width", 400)
    key = logged.key
    q = quoted(key)
    out = run_cli(
        capsys,
        *("runs", "list", "-e", EXPERIMENT, "--filter", f"metrics.{q} > 0"),
        *("--order-by", f"metrics.{q} DESC", "--order-by", f"params.{q}"),
    )
    header = next(line for line in out.splitlines() if "started (UTC)" in line)
    assert f"┃ metrics.{key} " in header
    assert f"┃ params.{key} " in header
    assert out.index(logged.large) < out.index(logged.small)
    assert re.search(rf"{logged.large} .*│ 0\.75 +│ 0\.1 +│", out)
    assert re.search(rf"{logged.small} .*│ 0\.25 +│ 0\.01 +│", out)

    out = run_cli(
        capsys, "runs", "list", "-e", EXPERIMENT, "--filter", f"tags.{q} = 'small'"
    )
    assert logged.small in out
    assert logged.large not in out

    out = run_cli(capsys, "runs", "show", logged.small)
    cell = re.escape(key)
    assert re.search(rf"│ {cell} +│ 0\.01 +│", out)
    assert re.search(rf"│ {cell} +│ 0\.25 +│", out)
    assert re.search(rf"│ {cell} +│ small +│", out)

    run_json = json.loads(
        run_cli(capsys, "runs", "show", logged.small, "--format", "json")
    )
    assert run_json["run"]["params"] == {key: "0.01"}
    assert run_json["run"]["metrics"] == {key: 0.25}
    assert run_json["run"]["tags"] == {key: "small"}


def test_cli_subprocess_mixed_key(store_url: str, tether_home: Path) -> None:
    """The key passes through a real command line, with its own encoding step."""
    small = log_run("small", MIXED_KEY, SMALL_HISTORY, "0.01")
    large = log_run("large", MIXED_KEY, LARGE_HISTORY, "0.1")
    env = {
        **os.environ,
        "TETHER_HOME": str(tether_home),
        "TETHER_STORE": store_url,
        "COLUMNS": "300",
    }
    q = quoted(MIXED_KEY)

    def tether_cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tether.cli", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    out = tether_cli(
        *("runs", "list", "--filter", f"metrics.{q} < 0.5 or tags.{q} = 'large'"),
        *("--order-by", f"metrics.{q} DESC"),
    )
    assert f"metrics.{MIXED_KEY}" in out
    assert out.index(large) < out.index(small)
    assert re.search(rf"{large} .*│ 0\.75 +│", out)
    assert re.search(rf"{small} .*│ 0\.25 +│", out)

    run_json = json.loads(tether_cli("runs", "show", large, "--format", "json"))
    assert run_json["run"]["metrics"] == {MIXED_KEY: 0.75}
    assert run_json["run"]["params"] == {MIXED_KEY: "0.1"}
    assert run_json["run"]["tags"] == {MIXED_KEY: "large"}


# -- key rules ------------------------------------------------------------

MAX_KEY_LENGTH = schema.KEY.length
INVALID_KEYS = [
    pytest.param("", "at least one character that is not whitespace", id="empty"),
    pytest.param("   ", "at least one character that is not whitespace", id="spaces"),
    pytest.param("a\nb", r"control character '\n' at position 1", id="newline"),
    pytest.param("a\tb", r"control character '\t' at position 1", id="tab"),
    pytest.param("nul\x00", r"control character '\x00' at position 3", id="nul"),
    pytest.param(
        "a\ud800", r"unpaired surrogate '\ud800' at position 1", id="surrogate"
    ),
    pytest.param(
        "k" * 251,
        "(251 characters): a key has at most 250 characters",
        id="251-characters",
    ),
    pytest.param(
        "長" * 1000,
        "(1000 characters): a key has at most 250 characters",
        id="1000-characters",
    ),
]


def key_text(key: str) -> str:
    """Return the key as error messages show it: repr, cut after 40 characters."""
    if len(key) > 250:
        return repr(key[:40]) + "..."
    return repr(key)


@SQLITE_ONLY
@pytest.mark.parametrize(("key", "rule"), INVALID_KEYS)
def test_invalid_key_rejected(store_url: str, key: str, rule: str) -> None:
    with tether.start_run(experiment=EXPERIMENT) as run:
        with pytest.raises(TetherError) as metric_error:
            tether.log_metric(key, 1.0)
        with pytest.raises(TetherError) as metrics_error:
            tether.log_metrics({"valid": 1.0, key: 2.0})
        with pytest.raises(TetherError) as param_error:
            tether.log_param(key, "x")
        with pytest.raises(TetherError) as tag_error:
            tether.set_tag(key, "x")
    for kind, error in (
        ("metric", metric_error),
        ("metric", metrics_error),
        ("param", param_error),
        ("tag", tag_error),
    ):
        assert str(error.value).startswith(f"invalid {kind} key {key_text(key)}")
        assert rule in str(error.value)
    stored = tether.get_run(run.id)
    assert stored.metrics == {}
    assert stored.params == {}
    assert stored.tags == {}


@SQLITE_ONLY
def test_key_of_wrong_type_rejected(store_url: str) -> None:
    with tether.start_run(experiment=EXPERIMENT):
        with pytest.raises(TetherError, match=r"invalid metric key 5: a key must be"):
            tether.log_metric(5, 1.0)  # type: ignore[arg-type]
        with pytest.raises(
            TetherError, match=r"invalid param key None: .* not NoneType"
        ):
            tether.log_params({None: 1})  # type: ignore[dict-item]


def test_key_of_column_length_works(store_url: str) -> None:
    assert MAX_KEY_LENGTH == 250
    key = "損" * MAX_KEY_LENGTH
    run_id = log_run("small", key, SMALL_HISTORY, "0.01")
    stored = tether.get_run(run_id)
    assert [(p.step, p.value) for p in stored.metric_history(key)] == SMALL_HISTORY
    assert stored.params == {key: "0.01"}
    assert stored.tags == {key: "small"}
    assert names(f"metrics.{key} < 0.5 and params.{key} = '0.01'") == ["small"]
    longer = key + "失"
    with (
        tether.start_run(experiment=EXPERIMENT) as run,
        pytest.raises(TetherError, match="at most 250 characters"),
    ):
        tether.log_param(longer, "x")
    assert tether.get_run(run.id).params == {}


def test_rejected_key_keeps_writer_working(store_url: str) -> None:
    """A NUL key used to reach the metric writer, which PostgreSQL then rejected."""
    with tether.start_run(experiment=EXPERIMENT) as run:
        with pytest.raises(TetherError, match="control character"):
            tether.log_metric("loss\x00", 1.0)
        tether.log_metric("loss", 0.5)
    stored = tether.get_run(run.id)
    assert stored.status == "FINISHED"
    assert stored.metrics == {"loss": 0.5}


def test_keys_compare_exactly(store_url: str) -> None:
    """Spaces around a key and the Unicode normal form are part of the key."""
    composed = "précision"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    with tether.start_run(experiment=EXPERIMENT, name="exact") as run:
        tether.log_metrics({"loss": 1.0, " loss ": 2.0, composed: 3.0, decomposed: 4.0})
    assert tether.get_run(run.id).metrics == {
        "loss": 1.0,
        " loss ": 2.0,
        composed: 3.0,
        decomposed: 4.0,
    }
    assert names(f"metrics.{quoted(' loss ')} = 2") == ["exact"]
    assert names(f"metrics.{quoted(' loss ')} = 1") == []
    assert names(f"metrics.{quoted(decomposed)} = 4") == ["exact"]
    assert names(f"metrics.{composed} = 3") == ["exact"]
