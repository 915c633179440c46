"""Run search on SQLite and PostgreSQL: filters, order, pages and the DataFrame API."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import event, insert

import tether
import tether.search as search_module
from tether.cli import render
from tether.cli.main import main
from tether.errors import ConfigError, NotFoundError
from tether.ids import new_id
from tether.store import open_store, schema
from tether.store.filters import FilterSyntaxError
from tether.store.records import Edge, MetricPoint
from tether.store.sql import SqlStore

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64
ALL = ["alpha", "beta", "delta", "gamma"]
# Checks that fail before any SQL runs, and the layers above the store, are
# independent of the database, so they run on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Runs:
    """Ids of the four runs of the ``runs`` fixture, by name."""

    ids: dict[str, str]


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def metric_points(values: dict[str, float]) -> list[MetricPoint]:
    return [MetricPoint(key, value, 0, 1.0) for key, value in values.items()]


def add_dataset(store: SqlStore, name: str, digest: str) -> str:
    version, _ = store.add_dataset_version(
        name,
        digest=digest,
        object_digest=digest,
        media_type="text/csv",
        rows=10,
        size=120,
        schema=[{"name": "x", "type": "int64"}],
        profile={"rows": 10},
        source={"path": f"{name}.csv"},
        run_id=None,
    )
    return version.id


@pytest.fixture
def runs(store: SqlStore) -> Runs:
    """Four runs, created in the order alpha, beta, gamma, delta.

    alpha: vision, FINISHED, auc 0.9, score NaN, reads dataset flights (DIGEST_A).
    beta: vision, RUNNING, auc 0.7, score 1, big +inf, writes dataset weather.
    gamma: nlp, FAILED step, child of alpha, auc NaN, lr 'abc'.
    delta: nlp, FINISHED, no params, metrics, tags or datasets.
    """
    alpha = store.create_run(experiment="vision", name="alpha")
    beta = store.create_run(experiment="vision", name="beta")
    gamma = store.create_run(
        experiment="nlp", name="gamma", kind="step", parent_id=alpha
    )
    delta = store.create_run(experiment="nlp", name="delta")
    store.log_params(
        alpha,
        {
            "lr": 0.1,
            "optimizer": "adam",
            "learning rate": "0.1",
            "flag": True,
            "pct": "50%",
        },
    )
    store.log_params(beta, {"lr": 0.01, "optimizer": "sgd", "pct": "50x"})
    store.log_params(gamma, {"lr": "abc", "optimizer": "Adam"})
    store.log_metrics(
        alpha,
        metric_points(
            {
                "auc": 0.9,
                "train/loss": 0.25,
                "val.loss": 0.3,
                "précision/精度": 0.75,
                "score": math.nan,
            }
        ),
    )
    store.log_metrics(beta, metric_points({"auc": 0.7, "score": 1.0, "big": math.inf}))
    store.log_metrics(gamma, metric_points({"auc": math.nan}))
    store.set_tags(alpha, {"team": "vision", "équipe": "ü"})
    store.set_tags(beta, {"team": "nlp"})
    store.set_tags(gamma, {"team": "Vision"})
    store.end_run(alpha, "FINISHED")
    store.end_run(gamma, "FAILED")
    store.end_run(delta, "FINISHED")
    flights = add_dataset(store, "flights", DIGEST_A)
    weather = add_dataset(store, "weather", DIGEST_B)
    store.add_edge(Edge("dataset_version", flights, "run", alpha, "input"))
    store.add_edge(Edge("run", beta, "dataset_version", weather, "output"))
    return Runs({"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta})


def matching(store: SqlStore, filter_text: str, **options: Any) -> list[str]:
    records, _ = store.search_runs(filter=filter_text, **options)
    return sorted(record.name for record in records)


def ordered(store: SqlStore, *order_by: str) -> list[str]:
    records, _ = store.search_runs(order_by=order_by)
    return [record.name for record in records]


METRIC_CASES = [
    ("metrics.auc = 0.9", ["alpha"]),
    ("metrics.auc != 0.9", ["beta"]),
    ("metrics.auc < 0.8", ["beta"]),
    ("metrics.auc <= 0.7", ["beta"]),
    ("metrics.auc > 0.7", ["alpha"]),
    ("metrics.auc >= 0.7", ["alpha", "beta"]),
    ("metrics.auc in (0.7, 0.9)", ["alpha", "beta"]),
    ("metrics.auc not in (0.7)", ["alpha"]),
    ("metrics.auc is null", ["delta", "gamma"]),
    ("metrics.auc is not null", ["alpha", "beta"]),
    ("metrics.auc > -1e3", ["alpha", "beta"]),
    ("metrics.auc < 9E-1", ["beta"]),
    ("metrics.big > 1e308", ["beta"]),
    ("metrics.missing = 1", []),
]

PARAM_CASES = [
    ("params.optimizer = 'adam'", ["alpha"]),
    ('params.optimizer = "sgd"', ["beta"]),
    ("params.optimizer != 'adam'", ["beta", "gamma"]),
    ("params.lr = 0.1", ["alpha"]),
    ("params.lr = 0.10", ["alpha"]),
    ("params.lr = '0.10'", []),
    ("params.lr < 0.05", ["beta"]),
    ("params.lr > '0.05'", ["alpha", "gamma"]),
    ("params.lr >= 1e-2", ["alpha", "beta"]),
    ("params.lr != 0.1", ["beta"]),
    ("params.lr in (0.1, 0.01)", ["alpha", "beta"]),
    ("params.lr in ('abc', '0.1')", ["alpha", "gamma"]),
    ("params.lr not in (0.1)", ["beta"]),
    ("params.lr not in ('abc')", ["alpha", "beta"]),
    ("params.optimizer like 'a%'", ["alpha"]),
    ("params.optimizer ilike 'A%'", ["alpha", "gamma"]),
    ("params.optimizer like '_dam'", ["alpha", "gamma"]),
    ("params.pct like '50\\%'", ["alpha"]),
    ("params.pct like '50_'", ["alpha", "beta"]),
    ("params.flag = true", ["alpha"]),
    ("params.flag = false", []),
    ("params.optimizer is null", ["delta"]),
    ("params.lr is not null", ["alpha", "beta", "gamma"]),
]

TAG_CASES = [
    ("tags.team = 'vision'", ["alpha"]),
    ("tags.team like 'vision'", ["alpha"]),
    ("tags.team ilike 'VISION'", ["alpha", "gamma"]),
    ("tags.team < 'o'", ["beta", "gamma"]),
    ("tags.team is null", ["delta"]),
]

ATTRIBUTE_CASES = [
    ("attributes.status = 'FINISHED'", ["alpha", "delta"]),
    ("attributes.status in ('RUNNING', 'FAILED')", ["beta", "gamma"]),
    ("attributes.status not in ('RUNNING')", ["alpha", "delta", "gamma"]),
    ("attributes.name like 'al%'", ["alpha"]),
    ("attributes.name ilike 'GAM%'", ["gamma"]),
    ("attributes.name > 'b'", ["beta", "delta", "gamma"]),
    ("attributes.kind = 'step'", ["gamma"]),
    ("attributes.experiment = 'nlp'", ["delta", "gamma"]),
    ("attributes.end_time is null", ["beta"]),
    ("attributes.end_time is not null", ["alpha", "delta", "gamma"]),
    ("attributes.start_time > '2000-01-01'", ALL),
    ("attributes.start_time < '2000-01-01T00:00:00+00:00'", []),
    ("attributes.start_time > 946684800", ALL),
    ("attributes.parent_id is not null", ["gamma"]),
    ("attributes.parent_id != 'x'", ["gamma"]),
    ("not attributes.parent_id = 'x'", ALL),
    ("ATTRIBUTES.Status = 'FAILED'", ["gamma"]),
]

DATASET_CASES = [
    (f"datasets.digest = '{DIGEST_A}'", ["alpha"]),
    (f"datasets.digest = '{DIGEST_B}'", ["beta"]),
    ("datasets.name = 'weather'", ["beta"]),
    ("datasets.name in ('flights', 'weather')", ["alpha", "beta"]),
    ("datasets.name like 'fl%'", ["alpha"]),
    ("datasets.name != 'flights'", ["beta"]),
    ("datasets.name is null", ["delta", "gamma"]),
    ("datasets.digest is not null", ["alpha", "beta"]),
]

LOGIC_CASES = [
    ("metrics.auc > 0.8 or params.optimizer = 'sgd' and metrics.auc < 0.5", ["alpha"]),
    ("(metrics.auc > 0.8 or params.optimizer = 'sgd') and metrics.auc < 0.5", []),
    ("not metrics.auc > 0.8 and params.optimizer = 'sgd'", ["beta"]),
    ("not (metrics.auc > 0.8 and params.optimizer = 'sgd')", ALL),
    ("NOT metrics.auc > 0.8 AND attributes.status = 'FINISHED'", ["delta"]),
    ("not not metrics.auc > 0.8", ["alpha"]),
    ("metrics.auc > 0.8 Or tags.team = 'nlp'", ["alpha", "beta"]),
    ("", ALL),
]

KEY_CASES = [
    ("metrics.`train/loss` < 1", ["alpha"]),
    ("params.`learning rate` = '0.1'", ["alpha"]),
    ("metrics.`val.loss` > 0", ["alpha"]),
    ("metrics.`précision/精度` >= 0.75", ["alpha"]),
    ("tags.`équipe` = 'ü'", ["alpha"]),
    ("tags.équipe = 'ü'", ["alpha"]),
]

NAN_CASES = [
    ("metrics.score is null", ["alpha", "delta", "gamma"]),
    ("metrics.score is not null", ["beta"]),
    ("metrics.score != 0", ["beta"]),
    ("metrics.score > 0", ["beta"]),
    ("metrics.score < 1e9", ["beta"]),
    ("not metrics.score = 1", ["alpha", "delta", "gamma"]),
]


def mismatches(
    store: SqlStore, cases: list[tuple[str, list[str]]]
) -> dict[str, list[str]]:
    """Return the filters whose matching runs differ from the expected ones."""
    found = {filter_text: matching(store, filter_text) for filter_text, _ in cases}
    return {
        filter_text: found[filter_text]
        for filter_text, expected in cases
        if found[filter_text] != expected
    }


def test_metric_operators(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, METRIC_CASES) == {}


def test_param_operators(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, PARAM_CASES) == {}


def test_tag_operators(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, TAG_CASES) == {}


def test_attribute_operators(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, ATTRIBUTE_CASES) == {}


def test_dataset_conditions(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, DATASET_CASES) == {}


def test_logic_precedence(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, LOGIC_CASES) == {}


def test_quoted_keys(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, KEY_CASES) == {}


def test_nan_metric_counts_as_null(runs: Runs, store: SqlStore) -> None:
    assert mismatches(store, NAN_CASES) == {}


def test_id_attributes(runs: Runs, store: SqlStore) -> None:
    alpha, beta = runs.ids["alpha"], runs.ids["beta"]
    assert matching(store, f"attributes.run_id = '{beta}'") == ["beta"]
    assert matching(store, f"attributes.parent_id = '{alpha}'") == ["gamma"]


def test_experiments_argument(runs: Runs, store: SqlStore) -> None:
    assert matching(store, "", experiments=["nlp"]) == ["delta", "gamma"]
    assert matching(store, "metrics.auc > 0", experiments=["nlp"]) == []
    assert matching(store, "", experiments=[]) == []


def test_records_carry_values(runs: Runs, store: SqlStore) -> None:
    records, _ = store.search_runs(filter="attributes.name = 'alpha'")
    record = records[0]
    assert record.id == runs.ids["alpha"]
    assert record.experiment == "vision"
    assert record.params["optimizer"] == "adam"
    assert record.tags == {"team": "vision", "équipe": "ü"}
    assert record.metrics["auc"] == 0.9
    assert math.isnan(record.metrics["score"])


def test_injection_stays_a_value(runs: Runs, store: SqlStore) -> None:
    attack = "params.optimizer = '\\'; DROP TABLE runs; --'"
    assert matching(store, attack) == []
    assert store.count_runs() == 4


@SQLITE_ONLY
def test_invalid_arguments_rejected(runs: Runs, store: SqlStore) -> None:
    with pytest.raises(FilterSyntaxError, match="at column 15: expected a value"):
        store.search_runs(filter="metrics.auc > and")
    with pytest.raises(FilterSyntaxError, match="invalid order_by at column 1"):
        store.search_runs(order_by=["datasets.name"])
    with pytest.raises(ConfigError, match="invalid max_results 0"):
        store.search_runs(max_results=0)


ORDER_CASES = [
    (("metrics.auc DESC",), ["alpha", "beta", "delta", "gamma"]),
    (("metrics.auc asc",), ["beta", "alpha", "delta", "gamma"]),
    (("params.optimizer",), ["gamma", "alpha", "beta", "delta"]),
    (("params.optimizer DESC",), ["beta", "alpha", "gamma", "delta"]),
    (("tags.team",), ["gamma", "beta", "alpha", "delta"]),
    (("attributes.name ASC",), ["alpha", "beta", "delta", "gamma"]),
    (("attributes.start_time",), ["alpha", "beta", "gamma", "delta"]),
    (("attributes.end_time DESC",), ["delta", "gamma", "alpha", "beta"]),
    (
        ("attributes.experiment", "metrics.auc DESC"),
        ["delta", "gamma", "alpha", "beta"],
    ),
    (("metrics.`train/loss`",), ["alpha", "delta", "gamma", "beta"]),
    ((), ["delta", "gamma", "beta", "alpha"]),
]


def test_order_missing_values_last(runs: Runs, store: SqlStore) -> None:
    found = {order_by: ordered(store, *order_by) for order_by, _ in ORDER_CASES}
    wrong = {
        order_by: found[order_by]
        for order_by, expected in ORDER_CASES
        if found[order_by] != expected
    }
    assert wrong == {}


@pytest.mark.sql_store
def test_search_issues_four_queries(runs: Runs, store: SqlStore) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        records, _ = store.search_runs(order_by=["metrics.auc DESC"])
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert len(records) == 4
    assert len(statements) == 4


# -- pages ----------------------------------------------------------------


@pytest.fixture
def many_runs(store: SqlStore) -> dict[str, float | None]:
    """250 runs in one transaction: start times in groups of ten equal ones,
    and metric m on two of three runs, with many equal values."""
    experiment_id = store.experiment_id("many")
    started = datetime(2024, 5, 1, tzinfo=UTC)
    values: dict[str, float | None] = {}
    run_rows, metric_rows = [], []
    for index in range(250):
        run_id = new_id()
        run_rows.append(
            {
                "id": run_id,
                "experiment_id": experiment_id,
                "name": f"run-{index}",
                "kind": "run",
                "status": "FINISHED",
                "start_time": started + timedelta(seconds=index // 10),
                "source": {},
            }
        )
        values[run_id] = None if index % 3 == 0 else float(index % 7)
        if values[run_id] is not None:
            metric_rows.append(
                {
                    "run_id": run_id,
                    "key": "m",
                    "step": 0,
                    "timestamp": 1.0,
                    "value": values[run_id],
                }
            )
    with store.engine.begin() as conn:
        conn.execute(insert(schema.runs), run_rows)
        conn.execute(insert(schema.latest_metrics), metric_rows)
    return values


def read_pages(store: SqlStore, order_by: list[str]) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        records, token = store.search_runs(
            experiments=["many"], order_by=order_by, max_results=100, page_token=token
        )
        pages.append([record.id for record in records])
        if token is None:
            return pages


@pytest.mark.sql_store  # the fixture inserts rows into the database directly
def test_pages_cover_every_run_once(
    store: SqlStore, many_runs: dict[str, float | None]
) -> None:
    by_metric = read_pages(store, ["metrics.m DESC"])
    newest_first = sorted(many_runs, reverse=True)
    expected = sorted(
        newest_first,
        key=lambda run_id: (many_runs[run_id] is None, -(many_runs[run_id] or 0.0)),
    )
    by_default = list(chain.from_iterable(read_pages(store, [])))
    assert [len(page) for page in by_metric] == [100, 100, 50]
    assert list(chain.from_iterable(by_metric)) == expected
    assert len(set(by_default)) == 250
    assert by_default == list(reversed(many_runs))


def test_pages_by_text_param(store: SqlStore) -> None:
    for index in range(7):
        run_id = store.create_run(experiment="many", name=f"run-{index}")
        if index % 2:
            store.log_params(run_id, {"group": f"g{index % 3}"})
    order = ["params.group", "attributes.name DESC"]
    whole, _ = store.search_runs(experiments=["many"], order_by=order)
    paged: list[str] = []
    token: str | None = None
    while True:
        records, token = store.search_runs(
            experiments=["many"], order_by=order, max_results=2, page_token=token
        )
        paged.extend(record.name for record in records)
        if token is None:
            break
    assert paged == [record.name for record in whole]


def encode_token(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def first_token(store: SqlStore, order_by: list[str]) -> str:
    _, token = store.search_runs(order_by=order_by, max_results=1)
    assert token is not None
    return token


@SQLITE_ONLY
def test_malformed_token_rejected(runs: Runs, store: SqlStore) -> None:
    with pytest.raises(ConfigError, match="invalid page token 'not a token!'"):
        store.search_runs(page_token="not a token!")
    with pytest.raises(ConfigError, match="lacks the fields"):
        store.search_runs(page_token=encode_token([1, 2]))


def test_bad_token_other_search(runs: Runs, store: SqlStore) -> None:
    token = first_token(store, ["metrics.auc DESC"])
    with pytest.raises(ConfigError, match="belongs to a search with other"):
        store.search_runs(order_by=["metrics.auc ASC"], page_token=token)


def test_bad_token_wrong_value_type(runs: Runs, store: SqlStore) -> None:
    token = first_token(store, ["metrics.auc DESC"])
    padded = token + "=" * (-len(token) % 4)
    payload = json.loads(base64.urlsafe_b64decode(padded))
    payload["after"] = ["high"]
    with pytest.raises(ConfigError, match="not a valid number sort value"):
        store.search_runs(
            order_by=["metrics.auc DESC"], page_token=encode_token(payload)
        )


# -- command line ---------------------------------------------------------


@SQLITE_ONLY
def test_cli_filter_and_order(
    runs: Runs,
    store: SqlStore,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render.console, "width", 200)
    code = main(
        ["runs", "list", "--filter", "metrics.auc > 0", "--order-by", "metrics.auc"]
    )
    output = capsys.readouterr().out
    assert code == 0
    assert output.index("beta") < output.index("alpha")
    assert "gamma" not in output
    assert "metrics.auc" in output


@SQLITE_ONLY
def test_cli_syntax_error_one_line(
    runs: Runs, store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["runs", "list", "--filter", "metrics.auc > and"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid filter at column 15: expected a value")


# -- Python API -----------------------------------------------------------


def log_two_runs() -> None:
    with tether.start_run(experiment="frame", name="one"):
        tether.log_param("lr", 0.1)
        tether.log_metric("auc", 0.8)
        tether.set_tag("team", "a")
    with tether.start_run(experiment="frame", name="two"):
        tether.log_metric("auc", 0.6)


def test_search_runs_frame_columns(store_url: str) -> None:
    log_two_runs()
    frame = tether.search_runs("frame", order_by=["metrics.auc DESC"])
    assert list(frame.columns) == [
        "run_id",
        "experiment",
        "name",
        "kind",
        "status",
        "start_time",
        "end_time",
        "params.lr",
        "metrics.auc",
        "tags.team",
    ]
    assert frame["name"].tolist() == ["one", "two"]
    assert frame["metrics.auc"].tolist() == [0.8, 0.6]
    assert frame["params.lr"].iloc[0] == "0.1"
    assert pd.isna(frame["params.lr"].iloc[1])
    assert str(frame["start_time"].dt.tz) == "UTC"
    filtered = tether.search_runs(["frame"], filter="metrics.auc < 0.7")
    assert filtered["name"].tolist() == ["two"]


@SQLITE_ONLY
def test_search_runs_empty_frame(store_url: str) -> None:
    with tether.start_run(experiment="quiet"):
        pass
    frame = tether.search_runs("quiet", filter="metrics.auc > 0.5")
    assert len(frame) == 0
    assert list(frame.columns) == search_module.RUN_COLUMNS


@SQLITE_ONLY
def test_search_runs_unknown_experiment(store_url: str) -> None:
    with tether.start_run(experiment="known"):
        pass
    with pytest.raises(NotFoundError, match="experiment 'knwon' not found") as caught:
        tether.search_runs(["known", "knwon"])
    assert caught.value.name == "knwon"


@SQLITE_ONLY
def test_search_runs_reads_pages(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(5):
        with tether.start_run(experiment="pages", name=f"run-{index}"):
            tether.log_metric("auc", index / 10)
    monkeypatch.setattr(search_module, "MAX_PAGE_SIZE", 2)
    frame = tether.search_runs("pages", order_by=["metrics.auc"], max_results=4)
    assert frame["name"].tolist() == ["run-0", "run-1", "run-2", "run-3"]


def test_search_runs_bad_max_results(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match="invalid max_results 0"):
        tether.search_runs(max_results=0)


def test_search_runs_as_list(tether_home: Path) -> None:
    for index, auc in enumerate([0.6, 0.9, 0.75]):
        with tether.start_run(experiment="listed", name=f"run-{index}") as run:
            run.log_param("depth", index)
            run.log_metric("auc", auc)
            run.set_tag("team", "ops")
    records = tether.search_runs(
        "listed",
        filter="metrics.auc > 0.7",
        order_by=["metrics.auc DESC"],
        output_format="list",
    )
    assert [r.name for r in records] == ["run-1", "run-2"]
    assert [r.metrics for r in records] == [{"auc": 0.9}, {"auc": 0.75}]
    assert [r.params for r in records] == [{"depth": "1"}, {"depth": "2"}]
    assert {r.tags["team"] for r in records} == {"ops"}


def test_search_runs_bad_output_format(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match="invalid output_format 'polars'"):
        tether.search_runs(output_format="polars")  # type: ignore[call-overload]
