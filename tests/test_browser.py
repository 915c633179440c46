"""The web UI in a real browser: Debian's Chromium, driven by Playwright.

A real server with auth on serves a store filled through the SDK. The store
contains runs with params and metric series, a data set with two versions,
a model with two tested versions and an annotation project. It also has a
served model with a deployment record and a monitor with windows.

Chromium logs in through the login page and opens every page. Each page
must load without a console error, a failed request or a request to
another host than 127.0.0.1. The main flows run as a person would run
them: filter runs, compare two, follow lineage from a model to its run,
label five tasks with the keyboard and promote a model.

A screenshot of each page goes to ``test-artifacts/screenshots/NAME.png``
at the repository root. The tests skip when no Chromium binary is found.
``TETHER_CHROMIUM`` names another binary than ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.tree import DecisionTreeClassifier

import tether
from test_monitor_runs import FEATURES, serve_two_months
from tether.automation.monitor_runs import create_monitor, run_monitor
from tether.data import annotation
from tether.deploy.spec import ModelTarget, Routing
from tether.monitoring.monitors import MonitorSpec
from tether.server.settings import ServerSettings
from tether.server.setup import init_server
from tether.store import get_store, reset_store
from tether.testing.server import RunningServer, start_server
from tether.tracking.writer import reset_writers

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install -e '.[dev]'"
)

CHROMIUM_ENV = "TETHER_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
LOOPBACK = "127.0.0.1"
ADMIN = "admin"
LOADER = "loader"
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
SAMPLE = Path(__file__).parent / "data" / "annotation" / "penguins-sample.csv"
MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
TUNING = {
    "tree-d2": {"model": "tree", "max_depth": 2, "final": 0.81},
    "tree-d4": {"model": "tree", "max_depth": 4, "final": 0.88},
    "forest-50": {"model": "forest", "max_depth": 8, "final": 0.93},
}


def chromium_path() -> str | None:
    """Return the Chromium binary to drive, or None when there is none."""
    named = os.environ.get(CHROMIUM_ENV, "").strip()
    if named:
        return named if Path(named).is_file() else None
    if Path(DEFAULT_CHROMIUM).is_file():
        return DEFAULT_CHROMIUM
    return shutil.which("chromium")


def missing_reason() -> str:
    """Say why no Chromium binary was found, and how to get one."""
    named = os.environ.get(CHROMIUM_ENV, "").strip()
    if named:
        return f"{CHROMIUM_ENV}={named} is not a file; name a Chromium binary"
    return (
        f"no Chromium binary at {DEFAULT_CHROMIUM} or on PATH; install Debian's "
        f"chromium with `make browser`, or set {CHROMIUM_ENV}"
    )


CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=missing_reason())


# -- the server and its data ----------------------------------------------------


@dataclass
class World:
    """The running server, its tokens, and the ids of what the store holds."""

    url: str
    admin: str
    viewer: str
    outsider: str
    runs: dict[str, str]
    model_run: str
    tasks: annotation.TaskSet
    server: RunningServer = field(repr=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Fill a store through the SDK and serve it with auth on, for this module."""
    root = tmp_path_factory.mktemp("browser")
    settings = ServerSettings(
        store_url=f"sqlite:///{root / 'tether.db'}",
        artifacts_root=str(root / "objects"),
        auth=True,
    )
    with pytest.MonkeyPatch.context() as env:
        # The SDK calls below fill the served store. They run as another user
        # than the browser's, so the tests see whose name the UI records.
        env.setenv("TETHER_HOME", str(root / "home"))
        env.setenv("TETHER_STORE", settings.store_url)
        env.setenv("TETHER_ARTIFACTS", settings.artifacts_root)
        env.setenv("TETHER_USER", LOADER)
        env.delenv("TETHER_WORKSPACE", raising=False)
        env.delenv("TETHER_TOKEN", raising=False)
        reset_writers()
        reset_store()
        admin = init_server(settings.store_url, ADMIN)
        runs = _log_tuning_runs()
        model_run = _register_models()
        tasks = _create_tasks()
        _serve_and_monitor(root / "predictions")
        server = start_server(settings)
        try:
            viewer, outsider = _members(server)
            yield World(
                server.url, admin, viewer, outsider, runs, model_run, tasks, server
            )
        finally:
            server.stop()
            reset_writers()
            reset_store()


def _log_tuning_runs() -> dict[str, str]:
    """Log three runs with params and loss and accuracy series, and return their ids."""
    ids = {}
    for name, spec in TUNING.items():
        with tether.start_run(experiment="tuning", name=name) as run:
            run.log_params({"model": spec["model"], "max_depth": spec["max_depth"]})
            for step in range(25):
                run.log_metric("loss", 1.0 / (step + 2) + spec["max_depth"] / 100, step)
                run.log_metric("accuracy", spec["final"] * (step + 1) / 25, step)
            ids[name] = run.id
    return ids


def _penguins() -> pd.DataFrame:
    return load_penguins().dropna().reset_index(drop=True)


def _register_models() -> str:
    """Register two versions of model ``species`` with test results; return the run id.

    Version 1 is the champion; both versions passed their tests, so the
    browser can move the champion to version 2.
    """
    frame = _penguins()
    tether.data.register("penguins", frame.head(120))
    tether.data.register("penguins", frame)
    features = frame[MEASURES]
    with tether.start_run(experiment="species", name="species-trees") as run:
        for depth in (1, 3):
            model = DecisionTreeClassifier(max_depth=depth, random_state=0)
            model.fit(features, frame["species"])
            run.log_model(
                model,
                name="species",
                input_example=features.head(5),
                metrics={"accuracy": float(model.score(features, frame["species"]))},
            )
    for version in (1, 2):
        tether.models.record_test_result(
            f"models:/species/{version}",
            "gates",
            [{"name": "accuracy", "passed": True}, {"name": "latency", "passed": True}],
        )
    tether.models.set_alias("species", "champion", version=1)
    return run.id


def _create_tasks() -> annotation.TaskSet:
    source = tether.data.register("penguins-sample", SAMPLE)
    columns = ["island", "bill_length_mm", "flipper_length_mm"]
    return annotation.create_tasks(
        source, name="penguins", columns=columns, choices=SPECIES
    )


def _serve_and_monitor(folder: Path) -> None:
    """Serve model ``cancer`` for two months, record its deployment and monitor it."""
    serve_two_months(folder)
    store = get_store()
    primary = ModelTarget("models:/cancer/1", "models:/cancer/1", "cancer", 1)
    record = store.add_deployment(
        "cancer-api",
        host=LOOPBACK,
        port=8123,
        settings={},
        routing=Routing(primary=primary).to_dict(),
        actor=LOADER,
    )
    store.finish_revision(record.id, 1, status="applied")
    store.add_deployment_test(
        record.id,
        revision=1,
        model_uri=primary.uri,
        passed=True,
        results=[{"name": "load", "passed": True}],
    )
    create_monitor(
        "cancer",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=FEATURES,
            time_column="scheduled",
        ),
    )
    store.add_alert_rule(
        "drifting",
        monitor="cancer",
        metric="drift.share",
        operator=">=",
        threshold=0.5,
        windows=1,
        severity="critical",
        actions=[],
        actor=LOADER,
    )
    run_monitor("cancer")


def _members(server: RunningServer) -> tuple[str, str]:
    """Add a viewer of ``default`` and an admin of another workspace, and return tokens."""
    control = server.app.state.server.control
    control.add_user("vera", actor="tests")
    control.grant("vera", "default", "viewer", actor="tests")
    control.add_workspace("elsewhere", actor="tests")
    control.add_user("otto", actor="tests")
    control.grant("otto", "elsewhere", "admin", actor="tests")
    viewer = control.create_token("vera", actor="tests")[1]
    outsider = control.create_token("otto", actor="tests")[1]
    return viewer, outsider


# -- the browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    """Launch Debian's Chromium headless, resolving no host name but 127.0.0.1."""
    playwright = sync_api.sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOOPBACK}"],
        )
        yield launched
        launched.close()
    finally:
        playwright.stop()


@dataclass
class Watch:
    """What went wrong while pages loaded: console errors, failed or foreign requests."""

    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def problems(self, expected: str = "") -> list[str]:
        """Return every problem seen, except the error status ``expected`` ("404 /path").

        Chromium also logs an error status as a console error, so that
        message is left out too.
        """
        code = expected.split(" ")[0]
        logged = (
            f"Failed to load resource: the server responded with a status of {code} "
        )
        found = [
            f"console: {text}"
            for text in self.console
            if not (expected and text.startswith(logged))
        ]
        found += [f"failed request: {text}" for text in self.failed]
        found += [f"request off {LOOPBACK}: {url}" for url in self.foreign]
        found += [f"status: {text}" for text in self.statuses if text != expected]
        return found


@dataclass
class Session:
    """A browser context with one page, logged in or not, and its watch."""

    page: sync_api.Page
    watch: Watch
    url: str

    def open(self, path: str) -> sync_api.Response | None:
        """Go to ``path`` on the server and return the response."""
        return self.page.goto(self.url + path)

    def settle(self) -> None:
        """Scroll to the end so that lazy images load, then check that each one loaded."""
        self.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        self.page.wait_for_load_state("networkidle")
        broken = self.page.evaluate(
            "Array.from(document.images)"
            ".filter(image => !image.complete || image.naturalWidth === 0)"
            ".map(image => image.src)"
        )
        assert not broken, f"images that did not load: {broken}"

    def login(self, token: str) -> None:
        """Log in through the login page with ``token``."""
        self.open("/ui/login")
        self.page.fill("#token", token)
        with self.page.expect_navigation():
            self.page.click("#login-form button[type=submit]")
        assert urlsplit(self.page.url).path == "/ui/"

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot as ``NAME.png`` and return its path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.is_file()
        assert path.stat().st_size > 0
        return path


@pytest.fixture
def session(browser: sync_api.Browser, world: World) -> Iterator[Session]:
    """Open a fresh browser context that watches every request and console message."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watch = Watch()

    def guard(route: sync_api.Route, request: sync_api.Request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:", "about:")) or host == LOOPBACK:
            route.continue_()
            return
        watch.foreign.append(request.url)
        route.abort()

    def logged(message: sync_api.ConsoleMessage) -> None:
        if message.type == "error":
            watch.console.append(message.text)

    def raised(error: Exception) -> None:
        watch.console.append(f"uncaught: {error}")

    def failed(request: sync_api.Request) -> None:
        watch.failed.append(f"{request.url}: {request.failure}")

    def answered(response: sync_api.Response) -> None:
        if response.status >= 400:
            watch.statuses.append(f"{response.status} {urlsplit(response.url).path}")

    context.route("**/*", guard)
    page = context.new_page()
    page.on("console", logged)
    page.on("pageerror", raised)
    page.on("requestfailed", failed)
    page.on("response", answered)
    yield Session(page, watch, world.url)
    context.close()


def _clean(watch: Watch, expected: str = "") -> None:
    problems = watch.problems(expected)
    assert not problems, "\n".join(problems)


# -- every page -------------------------------------------------------------------

PAGES = {
    "home": ("/ui/", "#workspaces"),
    "runs": ("/ui/default/runs", "#runs-table"),
    "run": ("/ui/default/runs/{forest}", "#run-summary"),
    "compare": ("/ui/default/compare?run={tree}&run={forest}", "#compare-params"),
    "lineage": ("/ui/default/lineage?entity=models:/species/2", "#lineage-graph"),
    "datasets": ("/ui/default/datasets", "#datasets-table"),
    "dataset": ("/ui/default/datasets/penguins", "#dataset-versions"),
    "dataset-diff": ("/ui/default/datasets/penguins/diff?from=1&to=2", "#diff-schema"),
    "models": ("/ui/default/models", "#models-table"),
    "model": ("/ui/default/models/species", "#model-versions"),
    "promote": (
        "/ui/default/models/species/promote?alias=staging&version=1",
        "#promote-change",
    ),
    "labelling": ("/ui/default/labelling", "#labelling-projects"),
    "label-task": ("/ui/default/labelling/penguins", "#label-form"),
    "deployments": ("/ui/default/deployments", "#deployments-table"),
    "deployment": ("/ui/default/deployments/cancer-api", "#deployment-revisions"),
    "monitors": ("/ui/default/monitors", "#monitors-table"),
    "monitor": ("/ui/default/monitors/cancer", "#monitor-windows"),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_opens(session: Session, world: World, name: str) -> None:
    path, element = PAGES[name]
    path = path.format(tree=world.runs["tree-d2"], forest=world.runs["forest-50"])
    session.login(world.admin)

    response = session.open(path)

    assert response is not None
    assert response.status == 200, f"{path} answered {response.status}"
    assert session.page.locator(element).is_visible()
    assert session.page.title().endswith("· Tether")
    session.settle()
    session.screenshot(name)
    _clean(session.watch)


def test_login_page(session: Session, world: World) -> None:
    first = session.open("/ui/default/runs")
    assert urlsplit(session.page.url).path == "/ui/login"
    assert first is not None
    assert first.status == 200
    session.screenshot("login")

    session.page.fill("#token", "tth_not-a-token")
    session.page.click("#login-form button[type=submit]")
    error = session.page.locator("#login-error").inner_text()
    session.page.fill("#token", world.admin)
    with session.page.expect_navigation():
        session.page.click("#login-form button[type=submit]")

    assert "invalid token" in error
    assert urlsplit(session.page.url).path == "/ui/default/runs"
    assert session.page.locator("#runs-table").is_visible()
    _clean(session.watch, expected="401 /ui/login")


# -- the main flows ---------------------------------------------------------------


def _run_names(session: Session) -> list[str]:
    links = session.page.locator("#runs-table tbody tr td:nth-child(2) a")
    return sorted(links.all_inner_texts())


def test_filter_runs(session: Session, world: World) -> None:
    session.login(world.admin)
    session.open("/ui/default/runs")
    assert set(TUNING) <= set(_run_names(session))

    session.page.fill("#runs-filter input[name=filter]", "params.model = 'tree'")
    with session.page.expect_navigation():
        session.page.press("#runs-filter input[name=filter]", "Enter")

    assert _run_names(session) == ["tree-d2", "tree-d4"]
    assert "filter=params.model" in session.page.url
    session.screenshot("runs-filtered")
    _clean(session.watch)


def test_compare_two_runs(session: Session, world: World) -> None:
    session.login(world.admin)
    session.open("/ui/default/runs?experiment=tuning")

    session.page.check("input[aria-label='Select run tree-d2']")
    session.page.check("input[aria-label='Select run forest-50']")
    with session.page.expect_navigation():
        session.page.click("#compare-form button[type=submit]")

    query = urlsplit(session.page.url).query
    assert world.runs["tree-d2"] in query
    assert world.runs["forest-50"] in query
    params = session.page.locator("#compare-params")
    heads = params.locator("thead th").all_inner_texts()[1:]
    runs = [head.split(" (")[0] for head in heads]
    model_row = params.locator("tbody tr", has_text="model")
    assert model_row.get_attribute("class") == "differs"
    models = dict(zip(runs, model_row.locator("td").all_inner_texts(), strict=True))
    assert models == {"tree-d2": "tree", "forest-50": "forest"}
    depth_row = params.locator("tbody tr", has_text="max_depth")
    depths = dict(zip(runs, depth_row.locator("td").all_inner_texts(), strict=True))
    assert depths == {"tree-d2": "2", "forest-50": "8"}
    charts = session.page.locator("#compare-charts svg")
    assert charts.count() == 2  # accuracy and loss
    loss = session.page.locator("#compare-charts figure", has_text="loss")
    assert loss.locator("polyline").count() == 2  # one line per run
    assert "tree-d2" in loss.inner_text()
    assert "forest-50" in loss.inner_text()
    session.screenshot("compare-two")
    _clean(session.watch)


def test_lineage_from_model_to_run(session: Session, world: World) -> None:
    session.login(world.admin)
    session.open("/ui/default/models/species")

    with session.page.expect_navigation():
        session.page.click("#version-2 a:text('lineage')")
    assert session.page.locator("#lineage-graph svg").is_visible()
    details = session.page.locator("#lineage-details").inner_text()
    assert "models:/species/2" in details
    run_link = session.page.locator(
        f"#lineage-nodes a[href='/ui/default/runs/{world.model_run}']"
    )
    with session.page.expect_navigation():
        run_link.click()

    assert urlsplit(session.page.url).path == f"/ui/default/runs/{world.model_run}"
    summary = session.page.locator("#run-summary").inner_text()
    assert world.model_run in summary
    assert "species-trees" in summary
    session.screenshot("lineage-run")
    _clean(session.watch)


def test_label_five_tasks(session: Session, world: World) -> None:
    keys = ["1", "3", "2", "1", "3"]
    session.login(world.admin)
    session.open("/ui/default/labelling/penguins")
    labelled = []
    for key in keys:
        task = session.page.locator("#label-form input[name=task_id]").input_value()
        labelled.append(task)
        with session.page.expect_navigation():
            session.page.keyboard.press(key)

    progress = session.page.locator("#label-progress").inner_text()
    latest = annotation.latest_labels(world.tasks)
    stored = dict(zip(latest["task_id"], latest["label"], strict=True))
    assert stored == {
        task: SPECIES[int(key) - 1] for task, key in zip(labelled, keys, strict=True)
    }
    assert set(latest["annotator"]) == {ADMIN}
    assert f"labelled 5 of {len(world.tasks.ids)} tasks" in progress
    session.screenshot("label-five")
    _clean(session.watch)


def test_promote_model(session: Session, world: World) -> None:
    session.login(world.admin)
    session.open("/ui/default/models/species")

    session.page.fill("#promote-form input[name=alias]", "champion")
    session.page.select_option("#promote-form select[name=version]", "2")
    with session.page.expect_navigation():
        session.page.click("#promote-form button[type=submit]")
    change = session.page.locator("#promote-change").inner_text()
    session.screenshot("promote-confirm")
    with session.page.expect_navigation():
        session.page.click("#promote-confirm button[type=submit]")

    assert "version 1 → version 2" in change
    assert "/ui/default/models/species?promoted=champion" in session.page.url
    assert session.page.locator("#promoted").is_visible()
    store = get_store()
    assert store.resolve_alias("species", "champion") == 2
    event = store.audit_trail("models:/species@champion")[-1]
    assert event.actor == ADMIN
    assert (event.details["from_version"], event.details["to_version"]) == (1, 2)
    assert "1 → 2" in session.page.locator("#model-aliases").inner_text()
    _clean(session.watch)


# -- the team ---------------------------------------------------------------------


def test_viewer_cannot_promote(session: Session, world: World) -> None:
    session.login(world.viewer)
    session.open("/ui/default/runs")
    names = _run_names(session)

    session.open("/ui/default/models/species")

    assert set(TUNING) <= set(names)
    assert session.page.locator("#model-versions").is_visible()
    assert session.page.locator("#promote-form").count() == 0
    assert "vera · viewer" in session.page.locator("header").inner_text()
    session.screenshot("viewer-model")
    _clean(session.watch)


FOREIGN_PAGES = {
    "runs": "/ui/default/runs",
    "run": "/ui/default/runs/{forest}",
    "model": "/ui/default/models/species",
}


@pytest.mark.parametrize("name", sorted(FOREIGN_PAGES))
def test_other_workspace_is_404(session: Session, world: World, name: str) -> None:
    session.login(world.outsider)
    path = FOREIGN_PAGES[name].format(forest=world.runs["forest-50"])

    response = session.open(path)

    assert response is not None
    assert response.status == 404
    message = session.page.locator("#error-message").inner_text()
    assert "default" in message
    assert world.runs["forest-50"] not in session.page.content()
    assert "tree-d2" not in session.page.content()
    session.screenshot(f"outsider-{name}")
    _clean(session.watch, expected=f"404 {urlsplit(response.url).path}")
