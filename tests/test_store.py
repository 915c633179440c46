"""The SQL store on SQLite and PostgreSQL: runs, metrics, datasets, models, lineage."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.errors import ConfigError, NotFoundError
from tether.store import open_store
from tether.store.records import ArtifactRecord, Edge, MetricPoint
from tether.store.sql import MAX_PARAM_LENGTH, SqlStore
from tether.store.step_call_ops import StepCallRecord

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64
DIGEST_C = "c" * 64

KEY_CHARACTERS = st.characters(
    codec="utf-8", exclude_characters="\x00", exclude_categories=("Cs",)
)
TEXT_VALUES = st.text(alphabet=KEY_CHARACTERS, max_size=300)
PARAM_KEYS = st.one_of(
    st.sampled_from(["a/b", "with space", "dots.in.key", "ünïcødé/κλειδί 鍵.1"]),
    st.text(alphabet=KEY_CHARACTERS, min_size=1, max_size=250),
)
STORE_EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def run_id(store: SqlStore) -> str:
    return store.create_run(experiment="exp", name="train")


def add_dataset(store: SqlStore, name: str, digest: str, **extra: Any) -> Any:
    fields: dict[str, Any] = {
        "digest": digest,
        "object_digest": digest,
        "media_type": "text/csv",
        "rows": 10,
        "size": 120,
        "schema": [{"name": "x", "type": "int64"}],
        "profile": {"rows": 10},
        "source": {"path": "data.csv"},
        "run_id": None,
    }
    fields.update(extra)
    return store.add_dataset_version(name, **fields)


def add_model(store: SqlStore, name: str, digest: str = DIGEST_A) -> Any:
    return store.add_model_version(
        name,
        run_id=None,
        flavor="sklearn",
        artifact_digest=digest,
        signature={"inputs": [{"name": "x", "type": "double"}]},
        metrics={"accuracy": 0.9},
        details={"estimator": "LogisticRegression"},
    )


def artifact(run_id: str, path: str, digest: str, role: str = "artifact") -> Any:
    return ArtifactRecord(run_id, path, digest, 3, "text/plain", False, role)


# -- experiments and runs ------------------------------------------------


def test_experiment_id_reused_by_name(store: SqlStore) -> None:
    first = store.experiment_id("churn")
    second = store.experiment_id("churn")
    other = store.experiment_id("fraud")
    assert first == second
    assert other != first
    assert len(first) == 26


def test_create_run_stores_fields(store: SqlStore) -> None:
    run_id = store.create_run(
        experiment="exp",
        name="train",
        kind="step",
        source={"git": {"commit": "abc"}},
        cache_key="k" * 64,
    )
    run = store.get_run(run_id)
    assert run.id == run_id
    assert run.experiment == "exp"
    assert run.name == "train"
    assert run.kind == "step"
    assert run.status == "RUNNING"
    assert run.parent_id is None
    assert run.source == {"git": {"commit": "abc"}}
    assert run.cache_key == "k" * 64
    assert run.end_time is None
    assert run.start_time.tzinfo == UTC
    assert run.params == {}
    assert run.metrics == {}


@pytest.mark.sql_store
def test_times_read_back_in_utc(store_url: str) -> None:
    # A PostgreSQL session outside UTC returns times in its own zone.
    url = store_url.replace("options=", "options=-ctimezone%3DAsia/Kolkata%20", 1)
    store = SqlStore(url)
    run_id = store.create_run(experiment="exp", name="train")
    start_time = store.get_run(run_id).start_time
    store.close()
    assert start_time.tzinfo == UTC
    assert abs(start_time - datetime.now(UTC)) < timedelta(minutes=1)


def test_end_run_sets_status(store: SqlStore, run_id: str) -> None:
    store.end_run(run_id, "FAILED", error="ValueError: bad", cached_from="c" * 26)
    run = store.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error == "ValueError: bad"
    assert run.cached_from == "c" * 26
    assert run.end_time is not None
    assert run.end_time >= run.start_time


def test_update_run_source_replaces(store: SqlStore, run_id: str) -> None:
    store.update_run_source(run_id, {"python": "3.11"})
    assert store.get_run(run_id).source == {"python": "3.11"}


def test_get_run_unknown_id(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match=r"run 'nope' not found; list runs with"):
        store.get_run("nope")


def test_list_runs_newest_first(store: SqlStore) -> None:
    ids = [store.create_run(experiment="exp", name=f"r{i}") for i in range(3)]
    listed = [run.id for run in store.list_runs()]
    assert listed == list(reversed(ids))


def test_list_runs_filters_experiment(store: SqlStore) -> None:
    first = store.create_run(experiment="a", name="r1")
    store.create_run(experiment="b", name="r2")
    third = store.create_run(experiment="a", name="r3")
    assert [run.id for run in store.list_runs(experiment="a")] == [third, first]
    assert [run.id for run in store.list_runs(experiment="missing")] == []


def test_list_runs_filters_parent(store: SqlStore) -> None:
    parent = store.create_run(experiment="exp", name="pipeline", kind="pipeline")
    child_1 = store.create_run(experiment="exp", name="s1", parent_id=parent)
    child_2 = store.create_run(experiment="exp", name="s2", parent_id=parent)
    store.create_run(experiment="exp", name="unrelated")
    children = store.list_runs(parent_id=parent)
    assert [run.id for run in children] == [child_2, child_1]
    assert {run.parent_id for run in children} == {parent}


def test_list_runs_applies_limit(store: SqlStore) -> None:
    ids = [store.create_run(experiment="exp", name=f"r{i}") for i in range(4)]
    assert [run.id for run in store.list_runs(limit=2)] == [ids[3], ids[2]]
    assert store.count_runs() == 4


# -- params and tags -----------------------------------------------------


def test_log_params_last_value_wins(store: SqlStore, run_id: str) -> None:
    store.log_params(run_id, {"lr": 0.1, "depth": 3, "name": "x"})
    store.log_params(run_id, {"lr": 0.2})
    params = store.get_run(run_id).params
    assert params == {"lr": "0.2", "depth": "3", "name": "x"}


def test_log_params_non_scalar_uses_repr(store: SqlStore, run_id: str) -> None:
    store.log_params(run_id, {"layers": [64, 32], "flag": True, "none": None})
    params = store.get_run(run_id).params
    assert params == {"layers": "[64, 32]", "flag": "True", "none": "None"}


def test_param_at_length_limit_kept(store: SqlStore, run_id: str) -> None:
    value = "é" * MAX_PARAM_LENGTH
    store.log_params(run_id, {"long": value})
    assert store.get_run(run_id).params["long"] == value


def test_param_over_length_limit(store: SqlStore, run_id: str) -> None:
    too_long = "x" * (MAX_PARAM_LENGTH + 1)
    with pytest.raises(ConfigError, match=r"param 'prompt' is 65536 characters long"):
        store.log_params(run_id, {"prompt": too_long})
    assert store.get_run(run_id).params == {}


def test_param_with_nul_rejected(store: SqlStore, run_id: str) -> None:
    with pytest.raises(ConfigError, match=r"param 'blob' contains a NUL character"):
        store.log_params(run_id, {"blob": "a\x00b"})


def test_tag_with_nul_rejected(store: SqlStore, run_id: str) -> None:
    with pytest.raises(ConfigError, match=r"tag 'note' contains a NUL character"):
        store.set_tags(run_id, {"note": "a\x00b"})


def test_set_tags_last_value_wins(store: SqlStore, run_id: str) -> None:
    store.set_tags(run_id, {"team": "risk", "stage": "dev"})
    store.set_tags(run_id, {"stage": "prod"})
    assert store.get_run(run_id).tags == {"team": "risk", "stage": "prod"}


@given(key=PARAM_KEYS, value=TEXT_VALUES)
@STORE_EXAMPLES
def test_param_text_round_trips(store: SqlStore, key: str, value: str) -> None:
    run_id = store.create_run(experiment="exp", name="prop")
    store.log_params(run_id, {key: value})
    assert store.get_run(run_id).params == {key: value}


# -- metrics -------------------------------------------------------------


def test_metric_history_in_step_order(store: SqlStore, run_id: str) -> None:
    store.log_metrics(
        run_id,
        [
            MetricPoint("loss", 0.5, 2, 30.0),
            MetricPoint("loss", 0.9, 0, 10.0),
            MetricPoint("acc", 0.1, 0, 10.0),
            MetricPoint("loss", 0.7, 1, 20.0),
        ],
    )
    history = store.metric_history(run_id, "loss")
    assert [p.step for p in history] == [0, 1, 2]
    assert [p.value for p in history] == [0.9, 0.7, 0.5]
    assert [p.timestamp for p in history] == [10.0, 20.0, 30.0]
    assert {p.key for p in history} == {"loss"}


def test_latest_metric_follows_highest_step(store: SqlStore, run_id: str) -> None:
    store.log_metrics(run_id, [MetricPoint("loss", 0.2, 5, 100.0)])
    store.log_metrics(run_id, [MetricPoint("loss", 0.9, 3, 200.0)])
    assert store.get_run(run_id).metrics == {"loss": 0.2}


def test_latest_metric_within_batch(store: SqlStore, run_id: str) -> None:
    store.log_metrics(
        run_id,
        [MetricPoint("loss", 0.2, 5, 100.0), MetricPoint("loss", 0.9, 3, 200.0)],
    )
    assert store.get_run(run_id).metrics == {"loss": 0.2}


def test_latest_metric_same_step_later_time(store: SqlStore, run_id: str) -> None:
    store.log_metrics(run_id, [MetricPoint("loss", 0.4, 1, 100.0)])
    store.log_metrics(run_id, [MetricPoint("loss", 0.3, 1, 101.0)])
    assert store.get_run(run_id).metrics == {"loss": 0.3}


def test_latest_metric_advances(store: SqlStore, run_id: str) -> None:
    store.log_metrics(run_id, [MetricPoint("loss", 0.4, 1, 100.0)])
    store.log_metrics(run_id, [MetricPoint("loss", 0.1, 7, 90.0)])
    assert store.get_run(run_id).metrics == {"loss": 0.1}


def test_log_metrics_empty_batch(store: SqlStore, run_id: str) -> None:
    store.log_metrics(run_id, [])
    assert store.metric_history(run_id, "loss") == []


def test_nan_and_infinity_round_trip(store: SqlStore, run_id: str) -> None:
    store.log_metrics(
        run_id,
        [
            MetricPoint("nan", math.nan, 0, 1.0),
            MetricPoint("pos", math.inf, 0, 1.0),
            MetricPoint("neg", -math.inf, 0, 1.0),
        ],
    )
    latest = store.get_run(run_id).metrics
    assert math.isnan(latest["nan"])
    assert latest["pos"] == math.inf
    assert latest["neg"] == -math.inf
    assert math.isnan(store.metric_history(run_id, "nan")[0].value)
    assert store.metric_history(run_id, "pos")[0].value == math.inf
    assert store.metric_history(run_id, "neg")[0].value == -math.inf


@given(
    value=st.floats(allow_nan=False, allow_infinity=False),
    step=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
@STORE_EXAMPLES
def test_finite_metric_round_trips(store: SqlStore, value: float, step: int) -> None:
    run_id = store.create_run(experiment="exp", name="prop")
    store.log_metrics(run_id, [MetricPoint("m", value, step, 1.5)])
    # == rather than bit identity: SQLite reads -0.0 back as 0.0.
    assert store.get_run(run_id).metrics["m"] == value
    assert store.metric_history(run_id, "m") == [MetricPoint("m", value, step, 1.5)]


# -- artifacts and the run cache -----------------------------------------


def test_list_artifacts_by_role(store: SqlStore, run_id: str) -> None:
    store.log_artifact(artifact(run_id, "model/model.skops", DIGEST_A, "model"))
    store.log_artifact(artifact(run_id, "b.txt", DIGEST_B))
    store.log_artifact(artifact(run_id, "a.txt", DIGEST_C))
    assert [a.path for a in store.list_artifacts(run_id)] == [
        "a.txt",
        "b.txt",
        "model/model.skops",
    ]
    assert store.list_artifacts(run_id, role="model") == [
        artifact(run_id, "model/model.skops", DIGEST_A, "model")
    ]


def test_log_artifact_same_path_replaces(store: SqlStore, run_id: str) -> None:
    store.log_artifact(artifact(run_id, "a.txt", DIGEST_A))
    store.log_artifact(artifact(run_id, "a.txt", DIGEST_B))
    assert store.list_artifacts(run_id) == [artifact(run_id, "a.txt", DIGEST_B)]


def test_artifact_with_digest_found(store: SqlStore, run_id: str) -> None:
    record = ArtifactRecord(
        run_id, "data", DIGEST_A, 42, "application/json", True, "output"
    )
    store.log_artifact(record)
    assert store.artifact_with_digest(DIGEST_A) == record
    assert store.artifact_with_digest(DIGEST_B) is None


def test_runs_with_artifact_by_role(store: SqlStore) -> None:
    first = store.create_run(experiment="exp", name="a")
    second = store.create_run(experiment="exp", name="b")
    store.log_artifact(artifact(first, "x", DIGEST_A, "output"))
    store.log_artifact(artifact(second, "y", DIGEST_A, "output"))
    store.log_artifact(artifact(second, "z", DIGEST_A, "input"))
    assert sorted(store.runs_with_artifact(DIGEST_A, role="output")) == sorted(
        [first, second]
    )
    assert store.runs_with_artifact(DIGEST_A, role="input") == [second]
    assert store.runs_with_artifact(DIGEST_B, role="output") == []


def _call(run_id: str, outputs: dict | None = None) -> StepCallRecord:
    return StepCallRecord(run_id, "s", {"digest": "k"}, outputs)


OUTPUTS = {"tuple": False, "items": [{"digest": DIGEST_A, "kind": "json"}]}


def test_find_cached_call_only_finished_with_outputs(store: SqlStore) -> None:
    running = store.create_run(experiment="exp", name="s")
    failed = store.create_run(experiment="exp", name="s")
    no_outputs = store.create_run(experiment="exp", name="s")
    for run_id in (running, failed):
        store.record_step_call(_call(run_id, OUTPUTS), cache_key="k1")
    store.record_step_call(_call(no_outputs), cache_key="k1")
    store.end_run(failed, "FAILED")
    store.end_run(no_outputs, "FINISHED")
    assert store.find_cached_call("k1") is None


def test_find_cached_call_newest_first(store: SqlStore) -> None:
    older = store.create_run(experiment="exp", name="s")
    newer = store.create_run(experiment="exp", name="s")
    other = store.create_run(experiment="exp", name="s")
    for run_id, key in ((older, "k1"), (newer, "k1"), (other, "k2")):
        store.record_step_call(_call(run_id, OUTPUTS), cache_key=key)
        store.end_run(run_id, "FINISHED")
    assert store.find_cached_call("k1") == _call(newer, OUTPUTS)
    assert store.find_cached_call("k2").run_id == other
    assert store.find_cached_call("k3") is None


def test_record_step_call_twice_keeps_the_last(store: SqlStore, run_id: str) -> None:
    store.record_step_call(
        _call(run_id),
        [artifact(run_id, "inputs/x", DIGEST_B, "input")],
        [Edge("artifact", DIGEST_B, "run", run_id, "input")],
    )
    assert store.step_call(run_id) == _call(run_id)
    store.record_step_call(_call(run_id, OUTPUTS), cache_key="k9")
    assert store.step_call(run_id) == _call(run_id, OUTPUTS)
    assert store.get_run(run_id).cache_key == "k9"
    assert [a.path for a in store.list_artifacts(run_id)] == ["inputs/x"]
    assert store.edges_into("run", run_id) == [
        Edge("artifact", DIGEST_B, "run", run_id, "input")
    ]
    assert store.step_call("no-such-run") is None


# -- dataset versions ----------------------------------------------------


def test_dataset_versions_numbered(store: SqlStore) -> None:
    created = [add_dataset(store, "iris", d) for d in (DIGEST_A, DIGEST_B, DIGEST_C)]
    assert [record.version for record, _ in created] == [1, 2, 3]
    assert [was_new for _, was_new in created] == [True, True, True]
    assert created[2][0].uri == "datasets:/iris@3"


def test_dataset_version_fields(store: SqlStore, run_id: str) -> None:
    record, _ = add_dataset(store, "iris", DIGEST_A, run_id=run_id, rows=None)
    assert record.name == "iris"
    assert record.digest == DIGEST_A
    assert record.media_type == "text/csv"
    assert record.rows is None
    assert record.size == 120
    assert record.schema == [{"name": "x", "type": "int64"}]
    assert record.profile == {"rows": 10}
    assert record.source == {"path": "data.csv"}
    assert record.run_id == run_id
    assert record.created_at.tzinfo == UTC
    assert store.dataset_version_by_id(record.id) == record


def test_unchanged_digest_reuses_latest(store: SqlStore) -> None:
    first, _ = add_dataset(store, "iris", DIGEST_A)
    again, created = add_dataset(store, "iris", DIGEST_A, rows=99)
    assert created is False
    assert again == first
    assert [v.version for v in store.list_dataset_versions("iris")] == [1]


def test_older_digest_makes_new_version(store: SqlStore) -> None:
    add_dataset(store, "iris", DIGEST_A)
    add_dataset(store, "iris", DIGEST_B)
    record, created = add_dataset(store, "iris", DIGEST_A)
    assert created is True
    assert record.version == 3


def test_get_dataset_version_latest(store: SqlStore) -> None:
    add_dataset(store, "iris", DIGEST_A)
    add_dataset(store, "iris", DIGEST_B)
    latest = store.get_dataset_version("iris")
    assert latest.version == 2
    assert latest.digest == DIGEST_B
    assert store.latest_dataset_version("iris") == latest


def test_get_dataset_version_by_number(store: SqlStore) -> None:
    add_dataset(store, "iris", DIGEST_A)
    add_dataset(store, "iris", DIGEST_B)
    first = store.get_dataset_version("iris", 1)
    assert first.version == 1
    assert first.digest == DIGEST_A


def test_unknown_dataset_not_found(store: SqlStore) -> None:
    with pytest.raises(
        NotFoundError,
        match=r"^dataset 'nope' not found; list datasets with `tether data list`$",
    ):
        store.get_dataset_version("nope")
    with pytest.raises(NotFoundError, match=r"^dataset 'nope' not found"):
        store.get_dataset_version("nope", 2)
    assert store.latest_dataset_version("nope") is None


def test_unknown_dataset_version_not_found(store: SqlStore) -> None:
    add_dataset(store, "iris", DIGEST_A)
    with pytest.raises(
        NotFoundError,
        match=r"^version 7 of dataset 'iris' not found; list its versions with "
        r"`tether data versions iris`$",
    ):
        store.get_dataset_version("iris", 7)


def test_unknown_dataset_version_id(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match=r"dataset version 'nope' not found"):
        store.dataset_version_by_id("nope")


def test_list_dataset_versions_one_name(store: SqlStore) -> None:
    add_dataset(store, "iris", DIGEST_A)
    add_dataset(store, "iris", DIGEST_B)
    add_dataset(store, "wine", DIGEST_C)
    versions = store.list_dataset_versions("iris")
    assert [(v.name, v.version) for v in versions] == [("iris", 2), ("iris", 1)]
    assert store.list_dataset_versions("missing") == []


def test_list_dataset_versions_latest_each(store: SqlStore) -> None:
    add_dataset(store, "wine", DIGEST_C)
    add_dataset(store, "iris", DIGEST_A)
    add_dataset(store, "iris", DIGEST_B)
    versions = store.list_dataset_versions()
    assert [(v.name, v.version) for v in versions] == [("iris", 2), ("wine", 1)]


def test_dataset_versions_with_digest(store: SqlStore) -> None:
    iris, _ = add_dataset(store, "iris", DIGEST_A)
    add_dataset(store, "iris", DIGEST_B)
    copy, _ = add_dataset(store, "iris-copy", DIGEST_A)
    assert store.dataset_versions_with_digest(DIGEST_A) == [iris, copy]
    assert store.dataset_versions_with_digest(DIGEST_C) == []


# -- models, aliases and the audit trail ----------------------------------


def test_model_versions_numbered(store: SqlStore) -> None:
    first = add_model(store, "churn", DIGEST_A)
    second = add_model(store, "churn", DIGEST_B)
    assert (first.version, second.version) == (1, 2)
    assert second.uri == "models:/churn/2"
    assert second.artifact_digest == DIGEST_B
    assert second.flavor == "sklearn"
    assert second.metrics == {"accuracy": 0.9}
    assert second.signature == {"inputs": [{"name": "x", "type": "double"}]}
    assert second.details == {"estimator": "LogisticRegression"}
    assert store.get_model_version("churn", 1) == first


def test_list_model_versions_newest_first(store: SqlStore) -> None:
    add_model(store, "churn")
    add_model(store, "churn")
    add_model(store, "ads")
    assert [v.version for v in store.list_model_versions("churn")] == [2, 1]
    everything = [(v.name, v.version) for v in store.list_model_versions()]
    assert everything == [("ads", 1), ("churn", 2), ("churn", 1)]


def test_set_alias_resolves(store: SqlStore) -> None:
    add_model(store, "churn")
    add_model(store, "churn")
    store.set_alias("churn", "champion", 1)
    assert store.resolve_alias("churn", "champion") == 1
    assert store.get_model_version("churn", 1).aliases == ("champion",)
    assert store.get_model_version("churn", 2).aliases == ()


@pytest.mark.sql_store  # a server records the token's user instead
def test_alias_move_in_audit_trail(store: SqlStore) -> None:
    add_model(store, "churn")
    add_model(store, "churn")
    store.set_alias("churn", "champion", 1)
    store.set_alias("churn", "champion", 2, actor="alice")
    assert store.resolve_alias("churn", "champion") == 2
    trail = store.audit_trail("models:/churn@")
    assert [event.details for event in trail] == [
        {"from_version": None, "to_version": 1},
        {"from_version": 1, "to_version": 2},
    ]
    assert [event.actor for event in trail] == ["local", "alice"]
    assert {event.action for event in trail} == {"set_alias"}
    assert {event.entity for event in trail} == {"models:/churn@champion"}
    assert trail[0].time <= trail[1].time


def test_audit_trail_prefix_is_literal(store: SqlStore) -> None:
    add_model(store, "m_1")
    add_model(store, "mx1")
    store.set_alias("mx1", "champion", 1)
    store.set_alias("m_1", "champion", 1)
    assert [event.entity for event in store.audit_trail("models:/m_1@")] == [
        "models:/m_1@champion"
    ]
    assert [event.action for event in store.audit_trail()] == [
        "register",
        "register",
        "set_alias",
        "set_alias",
    ]


def test_unknown_model_not_found(store: SqlStore) -> None:
    message = r"^model 'nope' not found; list models with `tether models list`$"
    with pytest.raises(NotFoundError, match=message):
        store.get_model_version("nope", 1)
    with pytest.raises(NotFoundError, match=message):
        store.resolve_alias("nope", "champion")
    with pytest.raises(NotFoundError, match=message):
        store.list_model_versions("nope")


def test_unknown_model_version_not_found(store: SqlStore) -> None:
    add_model(store, "churn")
    with pytest.raises(
        NotFoundError,
        match=r"^model 'churn' has no version 5; list versions with "
        r"`tether models show churn`$",
    ):
        store.get_model_version("churn", 5)


def test_set_alias_unknown_version(store: SqlStore) -> None:
    add_model(store, "churn")
    with pytest.raises(NotFoundError, match=r"model 'churn' has no version 3"):
        store.set_alias("churn", "champion", 3)
    assert [event.action for event in store.audit_trail()] == ["register"]


def test_unknown_alias_not_found(store: SqlStore) -> None:
    add_model(store, "churn")
    store.set_alias("churn", "champion", 1)
    with pytest.raises(
        NotFoundError,
        match=r"^model 'churn' has no alias 'prod' \(aliases: champion\); set one with "
        r"`tether models alias churn prod VERSION`$",
    ):
        store.resolve_alias("churn", "prod")


def test_unknown_alias_without_aliases(store: SqlStore) -> None:
    add_model(store, "churn")
    with pytest.raises(NotFoundError, match=r"\(aliases: none\)") as caught:
        store.resolve_alias("churn", "prod")
    assert caught.value.kind == "alias"
    assert caught.value.name == "churn@prod"


# -- lineage and prediction logs ------------------------------------------


def test_add_edge_ignores_duplicates(store: SqlStore) -> None:
    edge = Edge("dataset_version", "dv1", "run", "r1", "input")
    store.add_edge(edge)
    store.add_edge(edge)
    assert store.edges_into("run", "r1") == [edge]
    assert store.edges_from("dataset_version", "dv1") == [edge]


def test_edges_into_and_from(store: SqlStore) -> None:
    read = Edge("dataset_version", "dv1", "run", "r1", "input")
    wrote = Edge("run", "r1", "model_version", "mv1", "output")
    also_read = Edge("dataset_version", "dv2", "run", "r1", "input")
    for edge in (read, wrote, also_read):
        store.add_edge(edge)
    assert store.edges_into("run", "r1") == [read, also_read]
    assert store.edges_from("run", "r1") == [wrote]
    assert store.edges_into("model_version", "mv1") == [wrote]
    assert store.edges_from("model_version", "mv1") == []


def test_prediction_log_paths(store: SqlStore) -> None:
    store.add_prediction_log("churn", 1, "/logs/a.parquet", 10)
    store.add_prediction_log("churn", 2, "/logs/b.parquet", 5)
    store.add_prediction_log("ads", 1, "/logs/c.parquet", 7)
    store.add_prediction_log("churn", None, "/logs/d.parquet", 1)
    assert store.prediction_log_paths("churn") == [
        "/logs/a.parquet",
        "/logs/b.parquet",
        "/logs/d.parquet",
    ]
    assert store.prediction_log_paths("churn", 2) == ["/logs/b.parquet"]
    assert store.prediction_log_paths("none") == []


def test_model_version_by_id(store: SqlStore) -> None:
    first = add_model(store, "m")
    second = add_model(store, "m")
    found = store.model_version_by_id(second.id)
    assert found is not None
    assert (found.name, found.version) == ("m", 2)
    assert store.model_version_by_id(first.id) == store.get_model_version("m", 1)
    assert store.model_version_by_id("missing") is None
