"""Web UI pages of datasets, models, deployments and monitors, on real stores."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from starlette.exceptions import StarletteDeprecationWarning

import tether
from flavor_helpers import register
from test_alerts import Receiver
from test_monitor_runs import FEATURES, serve_two_months
from tether.automation.monitor_runs import create_monitor, run_monitor
from tether.config import current_user
from tether.data.compare import diff
from tether.data.quality import in_range, not_null, validate
from tether.deploy.spec import ModelTarget, Routing
from tether.monitoring.monitors import MonitorSpec
from tether.server.app import create_app
from tether.server.settings import ServerSettings
from tether.store import get_store

# A server without auth accepts only requests addressed to a loopback name.
LOCAL = "http://127.0.0.1"

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ORIGIN = {"Origin": LOCAL}
MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _settings(home: Path, *, auth: bool = False) -> ServerSettings:
    return ServerSettings(
        store_url=f"sqlite:///{home / 'tether.db'}",
        artifacts_root=str(home / "objects"),
        auth=auth,
    )


@pytest.fixture
def home(tether_home: Path) -> Path:
    """The test's Tether home; the UI server below serves its store."""
    if os.environ.get("TETHER_TEST_STORE") == "http":
        pytest.skip("the UI tests serve the local store with a server of their own")
    return tether_home


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    """A client of a server without auth over the test's store."""
    with TestClient(create_app(_settings(home)), base_url=LOCAL) as test_client:
        yield test_client


def _penguins() -> pd.DataFrame:
    return load_penguins().dropna().reset_index(drop=True)


def _text_of(page: str, element_id: str) -> str:
    """Return the markup of the element with ``element_id``, up to its closing tag."""
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"', page)
    assert match is not None, f"no element with id {element_id}"
    tag = match.group(1)
    end = page.index(f"</{tag}>", match.start())
    return page[match.start() : end]


# -- datasets ------------------------------------------------------------------


def test_datasets_list_latest(client: TestClient) -> None:
    frame = _penguins()
    tether.data.register("penguins", frame.head(100))
    latest = tether.data.register("penguins", frame)
    tether.data.register("islands", frame[["island"]].drop_duplicates())

    page = client.get("/ui/default/datasets")

    assert page.status_code == 200
    table = _text_of(page.text, "datasets-table")
    assert 'href="/ui/default/datasets/penguins"' in table
    assert 'href="/ui/default/datasets/islands"' in table
    row = table[table.index("penguins</a>") :].split("</tr>")[0]
    assert f'<td class="num">{latest.version}</td>' in row
    assert '<td class="num">333</td>' in row
    assert latest.digest[:12] in row


def test_dataset_schema_and_profile(client: TestClient) -> None:
    first = tether.data.register("penguins", _penguins().head(50))
    second = tether.data.register("penguins", _penguins())

    page = client.get("/ui/default/datasets/penguins?version=1").text

    versions = _text_of(page, "dataset-versions")
    assert first.digest[:12] in versions
    assert second.digest[:12] in versions
    assert '<tr class="selected">' in versions
    schema = _text_of(page, "dataset-schema")
    assert "<td>species</td><td>string</td>" in schema
    assert "<td>body_mass_g</td><td>float</td>" in schema
    profile = _text_of(page, "dataset-profile")
    assert profile.count("<svg") == len(first.schema)
    assert 'aria-label="island"' in profile
    counts = first.profile["columns"]["island"]["top"]
    top = counts[0]
    assert f"<title>{top['value']}: {top['count']}</title>" in profile


def test_dataset_quality_reports(client: TestClient) -> None:
    frame = _penguins()
    with tether.start_run(experiment="checks") as run:
        version = tether.data.register("penguins", frame, run=run)
        validate(
            frame,
            [not_null("sex"), in_range("body_mass_g", max=5000)],
            source=version.uri,
        )

    page = client.get("/ui/default/datasets/penguins").text

    quality = _text_of(page, "dataset-quality")
    assert "<td>checks</td>" in quality
    assert "<td>failed</td>" in quality
    assert f'href="/ui/default/runs/{run.id}"' in quality
    assert "quality/checks.json" in quality
    heavy = int((frame["body_mass_g"] > 5000).sum())
    assert f'<td class="num">{heavy}</td>' in page


def test_dataset_diff_page(client: TestClient) -> None:
    frame = _penguins()
    tether.data.register("penguins", frame)
    changed = frame.drop(columns=["year"]).assign(
        body_mass_g=frame["body_mass_g"] * 1.5, colony="north"
    )
    tether.data.register("penguins", changed)

    page = client.get("/ui/default/datasets/penguins/diff?from=1&to=2")

    assert page.status_code == 200
    schema = _text_of(page.text, "diff-schema")
    assert "<td>added</td><td>colony</td><td></td><td>string</td>" in schema
    assert "<td>removed</td><td>year</td><td>integer</td>" in schema
    columns = _text_of(page.text, "diff-columns")
    expected = diff("datasets:/penguins@1", "datasets:/penguins@2").shift("body_mass_g")
    assert (
        f'<td>body_mass_g</td><td>float</td><td>ks</td><td class="num">{expected.distance:.4g}</td>'
        in columns
    )
    charts = _text_of(page.text, "diff-charts")
    assert 'aria-label="body_mass_g, version 1"' in charts
    assert 'aria-label="body_mass_g, version 2"' in charts


def test_dataset_unknown_is_404(client: TestClient) -> None:
    tether.data.register("penguins", _penguins())

    missing = client.get("/ui/default/datasets/krill")
    no_version = client.get("/ui/default/datasets/penguins?version=7")
    no_diff = client.get("/ui/default/datasets/penguins/diff?from=1&to=9")

    assert missing.status_code == 404
    assert "dataset &#39;krill&#39; not found" in missing.text
    assert no_version.status_code == 404
    assert (
        "version &#39;7&#39; of dataset &#39;penguins&#39; not found" in no_version.text
    )
    assert no_diff.status_code == 404
    assert "version &#39;9&#39;" in no_diff.text


def test_dataset_tags_escaped(client: TestClient) -> None:
    version = tether.data.register("penguins", _penguins())
    tether.data.tag(version, note="<b>checked</b>")

    page = client.get("/ui/default/datasets/penguins").text

    assert "note=&lt;b&gt;checked&lt;/b&gt;" in page
    assert "<b>checked</b>" not in page


# -- models ---------------------------------------------------------------------


def _register_models(count: int) -> None:
    """Register ``count`` versions of ``species``, each with its accuracy."""
    frame = _penguins()
    features = frame[MEASURES]
    with tether.start_run(experiment="species") as run:
        for index in range(count):
            model = DecisionTreeClassifier(max_depth=index + 1, random_state=0)
            model.fit(features, frame["species"])
            accuracy = float(model.score(features, frame["species"]))
            run.log_model(
                model,
                name="species",
                input_example=features.head(5),
                metrics={"accuracy": accuracy},
            )


def _record_tests(version: int, *, passed: bool) -> None:
    tether.models.record_test_result(
        f"models:/species/{version}",
        "gates",
        [
            {
                "name": "accuracy",
                "passed": passed,
                "message": "" if passed else "0.61 < 0.9",
            },
            {"name": "latency", "passed": True, "required": False},
        ],
    )


def test_models_list_and_page(client: TestClient) -> None:
    _register_models(2)
    _record_tests(2, passed=True)
    tether.models.set_alias("species", "staging", version=1)

    listing = _text_of(client.get("/ui/default/models").text, "models-table")
    page = client.get("/ui/default/models/species").text

    assert 'href="/ui/default/models/species"' in listing
    assert "@staging</span> → 1" in listing
    versions = _text_of(page, "model-versions")
    accuracy = get_store().get_model_version("species", 2).metrics["accuracy"]
    assert f"accuracy={accuracy:.4g}" in versions
    assert "2 of 2 passed (gates)" in versions
    assert "never tested" in versions
    history = _text_of(page, "model-aliases")
    assert "@staging</span></td>" in history
    assert "set to 1" in history
    audit = _text_of(page, "model-audit")
    assert "<td>set_alias</td><td>models:/species@staging</td>" in audit
    assert "<td>register</td><td>models:/species/2</td>" in audit
    assert 'id="promote-form"' in page
    assert 'src="/ui/default/models/species/versions/2/card"' in page


def test_model_card_sandboxed(client: TestClient) -> None:
    _register_models(1)
    _record_tests(1, passed=True)

    card = client.get("/ui/default/models/species/versions/1/card")

    assert card.status_code == 200
    assert card.headers["content-security-policy"] == "sandbox"
    assert "models:/species/1" in card.text
    assert "gates" in card.text


def test_promote_through_form(client: TestClient) -> None:
    _register_models(2)
    _record_tests(1, passed=True)
    _record_tests(2, passed=True)
    tether.models.set_alias("species", "champion", version=1)

    confirm = client.get("/ui/default/models/species/promote?alias=champion&version=2")
    moved = client.post(
        "/ui/default/models/species/promote",
        data={"alias": "champion", "version": "2"},
        headers=ORIGIN,
        follow_redirects=False,
    )

    change = _text_of(confirm.text, "promote-change")
    assert "version 1 → version 2" in change
    tests = _text_of(confirm.text, "promote-tests")
    assert "passed, 2 of 2 passed" in tests
    assert moved.status_code == 303
    assert moved.headers["location"] == "/ui/default/models/species?promoted=champion"
    store = get_store()
    assert store.resolve_alias("species", "champion") == 2
    event = store.audit_trail("models:/species@champion")[-1]
    assert event.action == "set_alias"
    assert event.actor == current_user()
    assert (event.details["from_version"], event.details["to_version"]) == (1, 2)
    page = client.get(moved.headers["location"]).text
    assert 'id="promoted"' in page
    assert "1 → 2" in _text_of(page, "model-aliases")


def test_promote_gate_and_force(client: TestClient) -> None:
    _register_models(2)
    _record_tests(2, passed=False)
    form = {"alias": "champion", "version": "2"}

    confirm = client.get("/ui/default/models/species/promote", params=form)
    rejected = client.post(
        "/ui/default/models/species/promote", data=form, headers=ORIGIN
    )
    forced = client.post(
        "/ui/default/models/species/promote",
        data={**form, "force": "yes", "reason": "hotfix for the demo"},
        headers=ORIGIN,
        follow_redirects=False,
    )

    assert "not set now → version 2" in _text_of(confirm.text, "promote-change")
    assert "accuracy: 0.61 &lt; 0.9" in _text_of(confirm.text, "promote-tests")
    assert 'name="force"' in confirm.text
    assert rejected.status_code == 409
    assert "required tests failed in its latest test run: accuracy" in rejected.text
    assert forced.status_code == 303
    event = get_store().audit_trail("models:/species@champion")[-1]
    assert event.details["forced"] is True
    assert event.details["reason"] == "hotfix for the demo"
    assert get_store().resolve_alias("species", "champion") == 2


def test_promote_needs_same_origin(client: TestClient) -> None:
    _register_models(1)

    response = client.post(
        "/ui/default/models/species/promote",
        data={"alias": "staging", "version": "1"},
        headers={"Origin": "http://elsewhere.example"},
    )

    assert response.status_code == 403
    assert get_store().get_model_version("species", 1).aliases == ()


def test_viewer_cannot_promote(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register_models(2)
    app = create_app(_settings(home, auth=True))
    control = app.state.server.control
    tokens = {}
    for user, role in (("vera", "viewer"), ("erin", "editor")):
        control.add_user(user, actor="tests")
        control.grant(user, "default", role, actor="tests")
        tokens[user] = control.create_token(user, actor="tests")[1]
    # The registry records its caller's TETHER_USER; see sdk_scope.
    monkeypatch.setenv("TETHER_USER", "erin")
    form = {"alias": "staging", "version": "2"}

    with TestClient(app, base_url=LOCAL) as client:
        viewer = {"Authorization": f"Bearer {tokens['vera']}", **ORIGIN}
        editor = {"Authorization": f"Bearer {tokens['erin']}", **ORIGIN}
        page = client.get("/ui/default/models/species", headers=viewer)
        denied = client.post(
            "/ui/default/models/species/promote", data=form, headers=viewer
        )
        confirm = client.get(
            "/ui/default/models/species/promote", params=form, headers=viewer
        )
        moved = client.post(
            "/ui/default/models/species/promote",
            data=form,
            headers=editor,
            follow_redirects=False,
        )

    assert page.status_code == 200
    assert 'id="promote-form"' not in page.text
    assert denied.status_code == 403
    assert confirm.status_code == 403
    assert moved.status_code == 303
    event = get_store().audit_trail("models:/species@staging")[-1]
    assert event.actor == "erin"


def test_model_unknown_is_404(client: TestClient) -> None:
    _register_models(1)

    missing = client.get("/ui/default/models/whales")
    no_card = client.get("/ui/default/models/species/versions/5/card")
    bad_card = client.get("/ui/default/models/species/versions/latest/card")

    assert missing.status_code == 404
    assert "model &#39;whales&#39; not found" in missing.text
    assert "species" in _text_of(missing.text, "models-table")
    assert no_card.status_code == 404
    assert "has no version 5" in no_card.text
    assert bad_card.status_code == 404


# -- monitors and deployments -----------------------------------------------------


@pytest.fixture
def monitored(home: Path) -> Iterator[Path]:
    """Serve the cancer model for two months, monitor it, and let a rule fire a webhook."""
    serve_two_months(home / "predictions")
    create_monitor(
        "cancer",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=FEATURES,
            time_column="scheduled",
        ),
    )
    receiver = Receiver()
    get_store().add_alert_rule(
        "drifting",
        monitor="cancer",
        metric="drift.share",
        operator=">=",
        threshold=0.5,
        windows=1,
        severity="critical",
        actions=[{"type": "webhook", "url": receiver.url}],
        actor="alice",
    )
    try:
        run_monitor("cancer")
    finally:
        receiver.close()
    yield home


def test_monitor_pages(monitored: Path) -> None:
    with TestClient(create_app(_settings(monitored)), base_url=LOCAL) as client:
        listing = client.get("/ui/default/monitors").text
        page = client.get("/ui/default/monitors/cancer").text
        missing = client.get("/ui/default/monitors/dolphins")

    row = _text_of(listing, "monitors-table")
    assert 'href="/ui/default/monitors/cancer"' in row
    assert "<td>2013-07</td>" in row
    assert '<td class="num">100.0%</td>' in row
    latest = _text_of(page, "monitor-latest")
    assert '<td class="num">100.0%</td>' in latest
    features = _text_of(page, "monitor-features")
    for feature in FEATURES:
        assert f'<tr class="failed"><td>{feature}</td>' in features
    drift = _text_of(page, "monitor-drift")
    assert "share of drifted features per window" in drift
    assert "drifting 0.5" in drift
    assert "<title>drift share: 1</title>" in drift
    assert "<title>drift share: 0</title>" in drift
    assert "Performance over time" in page
    assert "Drift over time per feature" in page
    alerts = _text_of(page, "monitor-alerts")
    assert (
        "<td>drifting</td><td>the table</td><td>critical</td><td>firing</td>" in alerts
    )
    assert "2013-07 to 2013-07" in alerts
    assert "webhook: ok" in alerts
    windows = _text_of(page, "monitor-windows")
    assert windows.index("<td>2013-07</td>") < windows.index("<td>2013-06</td>")
    assert missing.status_code == 404
    assert "monitor &#39;dolphins&#39; not found" in missing.text


def test_deployment_pages(monitored: Path) -> None:
    data = load_breast_cancer(as_frame=True)
    forest = RandomForestClassifier(n_estimators=5, random_state=1)
    register(
        forest.fit(data.data[FEATURES], data.target), "cancer", data.data[FEATURES]
    )
    store = get_store()
    first = ModelTarget("models:/cancer/1", "models:/cancer/1", "cancer", 1)
    shadow = ModelTarget("models:/cancer/2", "models:/cancer/2", "cancer", 2)
    routing = Routing(primary=first)
    record = store.add_deployment(
        "cancer-api",
        host="127.0.0.1",
        port=8123,
        settings={},
        routing=routing.to_dict(),
        actor="alice",
    )
    store.finish_revision(record.id, 1, status="applied")
    store.add_deployment_test(
        record.id,
        revision=1,
        model_uri=first.uri,
        passed=False,
        results=[{"name": "load", "passed": False, "message": "p99 2100 ms > 2000 ms"}],
    )
    rerouted = Routing(primary=first, shadow=shadow)
    store.add_revision(
        record.id,
        action="route",
        routing=rerouted.to_dict(),
        base_revision=1,
        run_tests=True,
        actor="bob",
    )

    with TestClient(create_app(_settings(monitored)), base_url=LOCAL) as client:
        listing = client.get("/ui/default/deployments").text
        page = client.get("/ui/default/deployments/cancer-api").text
        missing = client.get("/ui/default/deployments/otters")

    row = _text_of(listing, "deployments-table")
    assert "models:/cancer/1 (100%)" in row
    assert "<code>http://127.0.0.1:8123</code>" in row
    assert "models:/cancer/1: failed" in row
    revisions = _text_of(page, "deployment-revisions")
    described = "primary models:/cancer/1 100%, shadow models:/cancer/2"
    assert (
        f"<td>route</td><td>pending</td><td>{described}</td><td>bob</td>" in revisions
    )
    assert revisions.index(">2<") < revisions.index(">1<")
    tests = _text_of(page, "deployment-tests")
    assert "load: p99 2100 ms &gt; 2000 ms" in tests
    traffic = _text_of(page, "deployment-traffic")
    counts = [
        int(n) for n in re.findall(r"<title>models:/cancer/1: (\d+)</title>", traffic)
    ]
    # serve_two_months sends 4 requests of 50 rows for June and 4 for July.
    assert sum(counts) == 8
    assert "latency per request (ms)" in traffic
    assert "From 400 logged prediction rows" in page
    assert "<td>alice</td><td>create</td>" in _text_of(page, "deployment-audit")
    assert missing.status_code == 404
    assert "deployment &#39;otters&#39; not found" in missing.text


def test_registry_css_served(client: TestClient) -> None:
    css = client.get("/static/registry.css")

    assert css.status_code == 200
    assert ".choices button" in css.text
