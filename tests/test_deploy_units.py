"""Deployment building blocks without processes: routing, the split, contract cases, the store."""

from __future__ import annotations

import pytest

from tether.deploy.changes import previous_primary
from tether.deploy.contract import (
    EXTRA_COLUMN,
    contract_cases,
    example_records,
    synthesized_record,
    wrong_type_value,
)
from tether.deploy.load import percentile
from tether.deploy.spec import (
    ApplicationTestSettings,
    DeploymentSettings,
    ModelTarget,
    Routing,
)
from tether.deploy.splitting import TrafficSplitter, sticky_bucket
from tether.deploy.supervisor import restart_delay
from tether.errors import ConfigError, NotFoundError
from tether.models.signature import ColumnSpec, Signature
from tether.store.deployment_ops import RevisionRecord


def target(version: int, name: str = "m") -> ModelTarget:
    return ModelTarget(
        uri=f"models:/{name}/{version}",
        requested=f"models:/{name}/{version}",
        name=name,
        version=version,
    )


def test_split_sends_exact_share_by_count() -> None:
    splitter = TrafficSplitter(30)
    choices = [splitter.to_canary() for _ in range(200)]
    assert sum(choices[:100]) == 30
    assert sum(choices[100:]) == 30


def test_split_spreads_canary_requests() -> None:
    splitter = TrafficSplitter(10)
    choices = [splitter.to_canary() for _ in range(100)]
    positions = [i for i, chosen in enumerate(choices) if chosen]
    assert positions == [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]


@pytest.mark.parametrize(("traffic", "expected"), [(0, 0), (100, 50), (1, 0)])
def test_split_edges(traffic: int, expected: int) -> None:
    splitter = TrafficSplitter(traffic)
    assert sum(splitter.to_canary() for _ in range(50)) == expected


def test_sticky_value_keeps_its_side() -> None:
    splitter = TrafficSplitter(30)
    for user in (f"user-{i}" for i in range(50)):
        first = splitter.to_canary(user)
        assert all(splitter.to_canary(user) == first for _ in range(5))
        assert first == (sticky_bucket(user) < 30)


def test_sticky_bucket_is_stable_and_spread() -> None:
    assert sticky_bucket("alice") == sticky_bucket("alice")
    buckets = {sticky_bucket(f"user-{i}") for i in range(2000)}
    assert min(buckets) == 0
    assert max(buckets) == 99
    assert len(buckets) == 100


def test_sticky_requests_do_not_shift_count_split() -> None:
    splitter = TrafficSplitter(50)
    for i in range(7):
        splitter.to_canary(f"user-{i}")
    assert [splitter.to_canary() for _ in range(4)] == [False, True, False, True]


@pytest.mark.parametrize("traffic", [-1, 101, 150])
def test_routing_rejects_traffic_outside_range(traffic: int) -> None:
    with pytest.raises(ConfigError, match=f"invalid --traffic {traffic}"):
        Routing(primary=target(1), canary=target(2), traffic=traffic)


def test_routing_needs_canary_for_traffic() -> None:
    with pytest.raises(ConfigError, match="--traffic 10 needs a canary"):
        Routing(primary=target(1), traffic=10)


def test_routing_needs_canary_for_sticky() -> None:
    with pytest.raises(ConfigError, match="--sticky-header needs a canary"):
        Routing(primary=target(1), sticky_header="X-User")


def test_routing_rejects_invalid_header() -> None:
    with pytest.raises(ConfigError, match="invalid --sticky-header 'X User'"):
        Routing(primary=target(1), canary=target(2), traffic=5, sticky_header="X User")


def test_routing_rejects_one_version_twice() -> None:
    with pytest.raises(
        ConfigError, match="models:/m/1 is both the primary and the shadow"
    ):
        Routing(primary=target(1), shadow=target(1))


def test_routing_round_trips() -> None:
    routing = Routing(
        primary=target(1),
        canary=target(2),
        traffic=25,
        sticky_header="X-User",
        shadow=target(3),
    )
    assert Routing.from_dict(routing.to_dict()) == routing
    assert routing.roles_of("models:/m/2") == ["canary"]
    assert [t.uri for t in routing.routed_targets()] == ["models:/m/1", "models:/m/2"]
    assert routing.describe() == (
        "primary models:/m/1 75%, canary models:/m/2 25%, sticky by X-User, "
        "shadow models:/m/3"
    )


def test_promoted_gives_canary_all_traffic() -> None:
    routing = Routing(primary=target(1), canary=target(2), traffic=10, shadow=target(3))
    promoted = routing.promoted()
    assert promoted.primary == target(2)
    assert promoted.canary is None
    assert promoted.traffic == 0
    assert promoted.shadow == target(3)


def test_promote_without_canary_fails() -> None:
    with pytest.raises(ConfigError, match="no canary to promote"):
        Routing(primary=target(1)).promoted()


def revision(number: int, routing: Routing, status: str = "applied") -> RevisionRecord:
    from datetime import UTC, datetime

    return RevisionRecord(
        deployment_id="d",
        revision=number,
        action="create",
        routing=routing.to_dict(),
        base_revision=None,
        run_tests=True,
        status=status,
        error=None,
        actor="a",
        created_at=datetime.now(UTC),
        finished_at=None,
    )


def test_previous_primary_follows_applied_revisions() -> None:
    first = Routing(primary=target(1), canary=target(2), traffic=10)
    promoted = first.promoted()
    failed = Routing(primary=target(5))
    history = [revision(1, first), revision(2, promoted), revision(3, failed, "failed")]
    assert previous_primary(history, target(2)) == target(1)
    rolled_back = promoted.rolled_back(target(1))
    history.append(revision(4, rolled_back))
    assert previous_primary(history, target(1)) == target(2)
    assert previous_primary(history[:1], target(1)) is None


def test_settings_check_their_values() -> None:
    with pytest.raises(ConfigError, match="invalid --load-requests 0"):
        ApplicationTestSettings(load_requests=0)
    with pytest.raises(ConfigError, match="invalid --p99-ms -1"):
        ApplicationTestSettings(p99_ms=-1)
    with pytest.raises(ConfigError, match="invalid --grace 0"):
        DeploymentSettings(stop_grace_seconds=0)
    settings = DeploymentSettings(
        tests=ApplicationTestSettings(p99_ms=0, load_requests=7)
    )
    assert DeploymentSettings.from_dict(settings.to_dict()) == settings


SIGNATURE = Signature(
    inputs=[
        ColumnSpec("origin", "category", nullable=False, levels=("JFK", "LGA")),
        ColumnSpec("distance", "float", nullable=True),
        ColumnSpec("dep_hour", "integer", nullable=False),
        ColumnSpec("carrier", "string", nullable=True),
    ]
)
VALID = {"origin": "JFK", "distance": 1400.0, "dep_hour": 7, "carrier": "UA"}


def test_contract_cases_change_one_column() -> None:
    cases = {case.name: case for case in contract_cases(SIGNATURE, VALID)}
    assert sorted(cases) == [
        "contract.extra_column",
        "contract.missing_column",
        "contract.null_in_non_nullable",
        "contract.wrong_type",
    ]
    missing = cases["contract.missing_column"]
    assert missing.records == [{"distance": 1400.0, "dep_hour": 7, "carrier": "UA"}]
    assert missing.expected_status == 422
    extra = cases["contract.extra_column"]
    assert extra.records == [{**VALID, EXTRA_COLUMN: 1}]
    assert extra.expected_status == 200
    null = cases["contract.null_in_non_nullable"]
    assert null.column == "origin"
    assert null.records == [{**VALID, "origin": None}]
    wrong = cases["contract.wrong_type"]
    assert wrong.column == "distance"
    assert wrong.records == [{**VALID, "distance": "not-a-number"}]


def test_contract_skips_null_case_when_all_nullable() -> None:
    signature = Signature(inputs=[ColumnSpec("x", "float", nullable=True)])
    names = [case.name for case in contract_cases(signature, {"x": 1.0})]
    assert "contract.null_in_non_nullable" not in names
    assert len(names) == 3


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (ColumnSpec("x", "integer", nullable=False), "not-a-number"),
        (ColumnSpec("x", "float", nullable=False), "not-a-number"),
        (ColumnSpec("x", "boolean", nullable=False), "yes"),
        (ColumnSpec("x", "string", nullable=False), 12345),
        (ColumnSpec("x", "datetime", nullable=False), 1357016400),
        (ColumnSpec("x", "category", nullable=False, levels=("a", "b")), 12345),
        (ColumnSpec("x", "category", nullable=False, levels=(1, 2)), "not-a-level"),
    ],
)
def test_wrong_type_value_per_type(spec: ColumnSpec, value: object) -> None:
    assert wrong_type_value(spec) == value


def test_wrong_type_values_are_rejected() -> None:
    import pandas as pd

    from tether.errors import SchemaError
    from tether.models.signature import enforce

    for spec in [
        ColumnSpec("x", "integer", nullable=False),
        ColumnSpec("x", "float", nullable=False),
        ColumnSpec("x", "boolean", nullable=False),
        ColumnSpec("x", "string", nullable=False),
        ColumnSpec("x", "datetime", nullable=False),
        ColumnSpec("x", "category", nullable=False, levels=("a", "b")),
        ColumnSpec("x", "category", nullable=False, levels=(1, 2)),
    ]:
        frame = pd.DataFrame({"x": pd.Series([wrong_type_value(spec)], dtype=object)})
        with pytest.raises(SchemaError) as caught:
            enforce(Signature(inputs=[spec]), frame)
        assert caught.value.column == "x", spec


def test_synthesized_record_satisfies_signature() -> None:
    import pandas as pd

    from tether.models.signature import enforce

    record = synthesized_record(SIGNATURE)
    assert record == {"origin": "JFK", "distance": 1.0, "dep_hour": 1, "carrier": "a"}
    enforced = enforce(SIGNATURE, pd.DataFrame([record]))
    assert list(enforced.columns) == ["origin", "distance", "dep_hour", "carrier"]


def test_example_records_are_json_values() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2013-01-01 05:00:00"]),
            "n": pd.array([None], dtype="Int64"),
            "x": [1.5],
        }
    )
    assert example_records(frame) == [
        {"when": "2013-01-01T05:00:00.000000", "n": None, "x": 1.5}
    ]


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([3.0], 99) == 3.0


def test_restart_delay_doubles_to_cap() -> None:
    assert [restart_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.sql_store  # a server records the token's user as the actor
def test_store_deployment_round_trip(store_url: str) -> None:
    from tether.store import get_store

    store = get_store()
    routing = Routing(primary=target(1)).to_dict()
    record = store.add_deployment(
        "d", host="127.0.0.1", port=9000, settings={}, routing=routing, actor="ann"
    )
    assert record.status == "starting"
    assert record.uri == "deployments:/d"
    pending = store.next_pending_revision(record.id)
    assert pending is not None
    assert (pending.revision, pending.action, pending.actor) == (1, "create", "ann")

    with pytest.raises(ConfigError, match="revision 1 of the deployment is still"):
        store.add_revision(
            record.id,
            action="promote",
            routing=routing,
            base_revision=1,
            run_tests=True,
            actor="ann",
        )
    store.finish_revision(record.id, 1, status="applied", details={"primary": "m/1"})
    assert store.get_deployment("d").revision == 1
    assert store.next_pending_revision(record.id) is None
    events = store.audit_trail("deployments:/d")
    assert [(e.actor, e.action) for e in events] == [("ann", "create")]
    assert events[0].details["revision"] == 1
    assert events[0].details["primary"] == "m/1"

    second = store.add_revision(
        record.id,
        action="rollback",
        routing=routing,
        base_revision=1,
        run_tests=False,
        actor="bo",
    )
    assert second == 2
    store.finish_revision(record.id, 2, status="failed", error="no")
    assert store.get_deployment("d").revision == 1
    assert [r.status for r in store.list_revisions(record.id)] == ["applied", "failed"]
    assert len(store.audit_trail("deployments:/d")) == 1


def test_store_rejects_taken_name(store_url: str) -> None:
    from tether.store import get_store

    store = get_store()
    routing = Routing(primary=target(1)).to_dict()
    store.add_deployment(
        "d", host="127.0.0.1", port=9000, settings={}, routing=routing, actor="a"
    )
    with pytest.raises(ConfigError, match="deployment 'd' exists"):
        store.add_deployment(
            "d", host="127.0.0.1", port=9001, settings={}, routing=routing, actor="a"
        )


def test_store_removes_deployment(store_url: str) -> None:
    from tether.store import get_store

    store = get_store()
    routing = Routing(primary=target(1)).to_dict()
    record = store.add_deployment(
        "d", host="127.0.0.1", port=9000, settings={}, routing=routing, actor="a"
    )
    store.add_deployment_test(
        record.id, revision=1, model_uri="models:/m/1", passed=True, results=[]
    )
    store.remove_deployment("d", actor="b")
    with pytest.raises(NotFoundError, match="deployment 'd' not found"):
        store.get_deployment("d")
    assert [e.action for e in store.audit_trail("deployments:/d")] == ["remove"]
