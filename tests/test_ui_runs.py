"""Tests for the web UI's home, login, run, compare and lineage pages."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

import tether
from tether.server.app import create_app
from tether.server.settings import ServerSettings
from tether.server.ui.metric_chart import Line, line_chart
from tether.server.ui.run_queries import FETCH_ALL_LIMIT, metric_series
from tether.store import get_store
from tether.store.records import MetricPoint

# A server without auth accepts only requests addressed to a loopback name.
LOCAL = "http://127.0.0.1"

# The store of these tests is the SQLite file the app reads, never a server.
pytestmark = pytest.mark.sql_store

# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ORIGIN = {"origin": LOCAL}


@dataclass(frozen=True)
class Runs:
    """The ids of the runs that the ``filled`` fixture logged."""

    best: str
    second: str
    other: str


def _settings(home: Path, *, auth: bool = False) -> ServerSettings:
    return ServerSettings(
        store_url=f"sqlite:///{home / 'tether.db'}",
        artifacts_root=str(home / "objects"),
        auth=auth,
    )


@pytest.fixture
def filled(tether_home: Path, tmp_path: Path) -> Runs:
    """Two runs of experiment flights with artifacts, and one run of penguins."""
    table = tmp_path / "predictions.csv"
    table.write_text("id,label,score\n1,yes,0.9\n2,no,0.2\n3,yes,0.7\n")
    parquet = tmp_path / "sample.parquet"
    pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}).to_parquet(parquet)
    with tether.start_run(experiment="flights", name="best-gbm") as best:
        best.log_params({"lr": 0.1, "model": "gbm"})
        best.set_tag("team", "vision")
        for step in range(30):
            best.log_metric("auc", 0.5 + step / 100, step=step)
        best.log_metric("train/loss", 0.25)
        best.log_artifact(table, "eval/predictions.csv")
        best.log_artifact(parquet, "eval/sample.parquet")
        best.log_bytes(PNG, "plots/roc.png", media_type="image/png")
        best.log_bytes(
            b"<h1>Report</h1><script>alert(1)</script>",
            "report.html",
            media_type="text/html",
        )
        best.log_text("first line\nsecond line", "notes.txt")
        print("training finished")
    with tether.start_run(experiment="flights", name="second-gbm") as second:
        second.log_params({"lr": 0.2, "model": "gbm"})
        for step in range(10):
            second.log_metric("auc", 0.4 + step / 100, step=step)
    with tether.start_run(experiment="penguins", name="penguin-tree") as other:
        other.log_params({"depth": 3})
        other.log_metric("accuracy", 0.93)
    return Runs(best.id, second.id, other.id)


@pytest.fixture
def client(tether_home: Path) -> Iterator[TestClient]:
    """A test client of the app on the ``tether_home`` store, with auth off."""
    with TestClient(create_app(_settings(tether_home)), base_url=LOCAL) as found:
        yield found


def _table(page: str, table_id: str) -> str:
    match = re.search(rf'<table id="{table_id}".*?</table>', page, re.S)
    assert match, f"no table {table_id}"
    return match.group(0)


def _run_names(page: str) -> list[str]:
    table = _table(page, "runs-table")
    return re.findall(r'<a href="/ui/default/runs/[0-9a-z]+">([^<]+)</a>', table)


def _cells(row_html: str) -> list[str]:
    return [
        unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)
    ]


# -- home, login and logout ---------------------------------------------------


def test_root_redirects(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"


def test_home_lists_workspaces(client: TestClient) -> None:
    client.app.state.server.control.add_workspace(  # type: ignore[attr-defined]
        "vision", description="image models", actor="tests"
    )
    page = client.get("/ui/").text
    table = _table(page, "workspaces")
    assert '<a href="/ui/default/runs">default</a>' in table
    assert '<a href="/ui/vision/runs">vision</a>' in table
    assert "image models" in table


@pytest.fixture
def secured(tether_home: Path) -> Iterator[tuple[TestClient, str, str]]:
    """A client of an app with auth on, an admin token and a viewer's token."""
    from tether.server.setup import init_server

    settings = _settings(tether_home, auth=True)
    admin = init_server(settings.store_url, "root")
    with TestClient(create_app(settings), base_url=LOCAL) as found:
        control = found.app.state.server.control  # type: ignore[attr-defined]
        control.add_workspace("vision", actor="tests")
        control.add_user("ann", actor="tests")
        control.grant("ann", "vision", "viewer", actor="tests")
        _, viewer = control.create_token("ann", actor="tests")
        yield found, admin, viewer


def test_page_redirects_to_login(secured: tuple[TestClient, str, str]) -> None:
    client, _, _ = secured
    response = client.get("/ui/vision/runs?filter=x", follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/ui/login"
    assert parse_qs(location.query)["next"] == ["/ui/vision/runs?filter=x"]


def test_login_sets_cookie(secured: tuple[TestClient, str, str]) -> None:
    client, _, viewer = secured
    response = client.post(
        "/ui/login",
        data={"token": viewer, "next": "/ui/vision/runs"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/vision/runs"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"tether_token={viewer};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie
    page = client.get("/ui/vision/runs")
    assert page.status_code == 200
    assert 'id="runs-table"' in page.text


def test_login_cookie_secure_on_https(secured: tuple[TestClient, str, str]) -> None:
    client, _, viewer = secured
    response = client.post(
        "https://127.0.0.1/ui/login",
        data={"token": viewer},
        headers={"origin": "https://127.0.0.1"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_login_bad_token(secured: tuple[TestClient, str, str]) -> None:
    client, _, _ = secured
    response = client.post(
        "/ui/login", data={"token": "tth_wrong", "next": "/ui/"}, headers=ORIGIN
    )
    assert response.status_code == 401
    assert 'id="login-form"' in response.text
    assert "invalid token: it is unknown, expired or revoked" in response.text
    assert "set-cookie" not in response.headers


def test_login_ignores_other_site(secured: tuple[TestClient, str, str]) -> None:
    client, _, viewer = secured
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            "/ui/login",
            data={"token": viewer, "next": target},
            headers=ORIGIN,
            follow_redirects=False,
        )
        assert response.headers["location"] == "/ui/", target


def test_login_needs_same_origin(secured: tuple[TestClient, str, str]) -> None:
    client, _, viewer = secured
    foreign = client.post(
        "/ui/login",
        data={"token": viewer},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403
    assert "not sent from a page of this server" in foreign.text
    assert "set-cookie" not in foreign.headers
    missing = client.post("/ui/login", data={"token": viewer}, follow_redirects=False)
    assert missing.status_code == 403
    by_referer = client.post(
        "/ui/login",
        data={"token": viewer},
        headers={"referer": LOCAL + "/ui/login"},
        follow_redirects=False,
    )
    assert by_referer.status_code == 303


def test_logout_clears_cookie(secured: tuple[TestClient, str, str]) -> None:
    client, _, viewer = secured
    client.post("/ui/login", data={"token": viewer}, headers=ORIGIN)
    assert client.get("/ui/vision/runs", follow_redirects=False).status_code == 200
    assert 'id="logout-form"' in client.get("/ui/logout").text
    response = client.post("/ui/logout", headers=ORIGIN, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login"
    assert response.headers["set-cookie"].startswith('tether_token="";')
    assert client.get("/ui/vision/runs", follow_redirects=False).status_code == 303


def test_home_shows_memberships(secured: tuple[TestClient, str, str]) -> None:
    client, admin, viewer = secured
    client.cookies.set("tether_token", viewer)
    table = _table(client.get("/ui/").text, "workspaces")
    assert '<a href="/ui/vision/runs">vision</a>' in table
    assert "/ui/default/runs" not in table
    client.cookies.set("tether_token", admin)
    table = _table(client.get("/ui/").text, "workspaces")
    assert '<a href="/ui/default/runs">default</a>' in table
    assert '<a href="/ui/vision/runs">vision</a>' in table


def test_workspace_without_role(secured: tuple[TestClient, str, str]) -> None:
    client, _, viewer = secured
    client.cookies.set("tether_token", viewer)
    response = client.get("/ui/default/runs")
    assert response.status_code == 404
    assert "workspace &#39;default&#39; not found" in response.text
    assert "<html" in response.text


# -- the run table ------------------------------------------------------------


def test_runs_lists_values(filled: Runs, client: TestClient) -> None:
    page = client.get("/ui/default/runs").text
    assert _run_names(page) == ["penguin-tree", "second-gbm", "best-gbm"]
    table = _table(page, "runs-table")
    assert f'value="{filled.best}"' in table
    rows = re.findall(r"<tr>.*?</tr>", table.split("<tbody>")[1], re.S)
    best = _cells(rows[2])
    assert "flights" in best
    assert "FINISHED" in "".join(best)
    assert "0.79" in best  # the latest auc
    assert "0.1" in best  # param lr
    assert "gbm" in best
    headers = re.findall(r">([^<>]+)</a>\s*</th>", table)
    assert "metrics.auc" in headers
    assert "params.lr" in headers


def test_runs_filter(filled: Runs, client: TestClient) -> None:
    page = client.get("/ui/default/runs", params={"filter": "metrics.auc > 0.7"}).text
    assert _run_names(page) == ["best-gbm"]
    page = client.get(
        "/ui/default/runs",
        params={"filter": "params.model = 'gbm' and params.lr < 0.15"},
    ).text
    assert _run_names(page) == ["best-gbm"]


def test_runs_filter_error(filled: Runs, client: TestClient) -> None:
    response = client.get("/ui/default/runs", params={"filter": "metrics.auc >"})
    assert response.status_code == 400
    match = re.search(r'<div id="filter-error".*?</div>', response.text, re.S)
    assert match
    assert "invalid filter at column 14: expected a value after" in unescape(match[0])
    assert 'value="metrics.auc &gt;"' in response.text
    assert 'id="runs-table"' in response.text


def test_runs_order_error(filled: Runs, client: TestClient) -> None:
    response = client.get("/ui/default/runs", params={"order": "metrics.auc sideways"})
    assert response.status_code == 400
    assert "invalid order_by" in response.text


def test_runs_experiment(filled: Runs, client: TestClient) -> None:
    page = client.get("/ui/default/runs", params={"experiment": "penguins"}).text
    assert _run_names(page) == ["penguin-tree"]
    assert '<option value="penguins" selected>penguins</option>' in page
    assert '<option value="flights">flights</option>' in page


def test_runs_sort(filled: Runs, client: TestClient) -> None:
    page = client.get("/ui/default/runs", params={"order": "metrics.auc DESC"}).text
    assert _run_names(page) == ["best-gbm", "second-gbm", "penguin-tree"]
    page = client.get("/ui/default/runs", params={"order": "metrics.auc ASC"}).text
    assert _run_names(page) == ["second-gbm", "best-gbm", "penguin-tree"]
    header = re.search(r'aria-sort="ascending">\s*<a href="([^"]+)"', page)
    assert header
    assert parse_qs(urlsplit(unescape(header[1])).query)["order"] == [
        "metrics.auc DESC"
    ]


def test_runs_sort_quotes_keys(filled: Runs, client: TestClient) -> None:
    page = client.get(
        "/ui/default/runs", params={"columns": "metrics.train/loss", "chosen": "1"}
    ).text
    links = [unescape(h) for h in re.findall(r'<th>\s*<a href="([^"]+)"', page)]
    orders = [parse_qs(urlsplit(link).query)["order"][0] for link in links]
    assert "metrics.`train/loss` DESC" in orders
    response = client.get(
        "/ui/default/runs", params={"order": "metrics.`train/loss` DESC"}
    )
    assert response.status_code == 200
    assert _run_names(response.text)[0] == "best-gbm"


def test_runs_columns(filled: Runs, client: TestClient) -> None:
    page = client.get(
        "/ui/default/runs",
        params={"columns": ["params.lr"], "chosen": "1", "add": "tags.team"},
    ).text
    table = _table(page, "runs-table")
    headers = re.findall(r">([^<>]+)</a>\s*</th>", table)
    assert headers[-2:] == ["params.lr", "tags.team"]
    assert "metrics.auc" not in headers
    assert "<td>vision</td>" in table
    choices = re.search(r'<form id="runs-columns".*?</form>', page, re.S)
    assert choices
    assert 'value="metrics.auc">' in choices[0]
    assert 'value="params.lr" checked>' in choices[0]


def test_runs_bad_column(filled: Runs, client: TestClient) -> None:
    page = client.get("/ui/default/runs", params={"add": "weights.x"}).text
    assert 'id="add-error"' in page
    assert "invalid column weights.x" in page


def _page_link(page: str, relation: str) -> str:
    match = re.search(rf'<a rel="{relation}" href="([^"]+)"', page)
    assert match, f"no {relation} link"
    return unescape(match[1])


def test_runs_paging(tether_home: Path, client: TestClient) -> None:
    for index in range(105):
        with tether.start_run(
            experiment="many", name=f"run-{index:03d}", source={}, capture_output=False
        ) as run:
            run.log_metric("score", float(index))
    params = {"order": "metrics.score ASC"}
    first = client.get("/ui/default/runs", params=params).text
    names = _run_names(first)
    assert names == [f"run-{i:03d}" for i in range(50)]
    assert "Previous" not in first
    second = client.get(_page_link(first, "next")).text
    assert _run_names(second) == [f"run-{i:03d}" for i in range(50, 100)]
    assert "Page 2" in second
    third = client.get(_page_link(second, "next")).text
    assert _run_names(third) == [f"run-{i:03d}" for i in range(100, 105)]
    assert 'rel="next"' not in third
    back = client.get(_page_link(third, "prev")).text
    assert _run_names(back) == [f"run-{i:03d}" for i in range(50, 100)]
    first_again = client.get(_page_link(back, "prev")).text
    assert _run_names(first_again) == names
    bigger = client.get("/ui/default/runs", params={**params, "size": "100"}).text
    assert len(_run_names(bigger)) == 100


def test_runs_bad_page_token(filled: Runs, client: TestClient) -> None:
    response = client.get("/ui/default/runs", params={"page_token": "garbage"})
    assert response.status_code == 400
    assert "invalid page token" in response.text


# -- one run ------------------------------------------------------------------


def test_run_page_values(filled: Runs, client: TestClient) -> None:
    page = client.get(f"/ui/default/runs/{filled.best}").text
    params = _table(page, "run-params")
    assert "<th>lr</th><td>0.1</td>" in params
    assert "<th>model</th><td>gbm</td>" in params
    metrics = _table(page, "run-metrics")
    assert "auc</a></th><td>0.79</td>" in metrics
    assert "train/loss</a></th><td>0.25</td>" in metrics
    assert "<th>team</th><td>vision</td>" in _table(page, "run-tags")
    summary = _table(page, "run-summary")
    assert f"<td>{filled.best}</td>" in summary
    assert "<td>flights</td>" in summary
    assert "<td>FINISHED</td>" in summary
    charts = re.search(r'<div id="run-charts".*?</div>', page, re.S)
    assert charts
    assert f'src="/ui/default/runs/{filled.best}/metrics/auc.svg"' in charts[0]
    assert f'src="/ui/default/runs/{filled.best}/metrics/train/loss.svg"' in charts[0]
    assert f'href="/ui/default/lineage?entity=run:{filled.best}"' in page


def test_run_page_previews(filled: Runs, client: TestClient) -> None:
    page = client.get(f"/ui/default/runs/{filled.best}").text
    artifacts = _table(page, "run-artifacts")
    for path in ("eval/predictions.csv", "plots/roc.png", "report.html", "notes.txt"):
        assert path in artifacts
    assert "<td>image/png</td>" in artifacts
    tables = re.findall(r'<table class="preview-table">.*?</table>', page, re.S)
    csv_rows = [_cells(row) for row in re.findall(r"<tr>.*?</tr>", tables[0], re.S)]
    assert csv_rows[0] == ["id", "label", "score"]
    assert csv_rows[1] == ["1", "yes", "0.9"]
    parquet_rows = [_cells(r) for r in re.findall(r"<tr>.*?</tr>", tables[1], re.S)]
    assert parquet_rows == [["x", "y"], ["1", "a"], ["2", "b"], ["3", "c"]]
    base = f"/ui/default/runs/{filled.best}/artifacts"
    assert f'<img class="artifact" src="{base}/plots/roc.png"' in page
    assert f'<iframe class="report" sandbox src="{base}/report.html"' in page
    assert "first line\nsecond line</pre>" in page
    assert "alert(1)" not in page


def test_run_page_logs_and_source(filled: Runs, client: TestClient) -> None:
    run = get_store().get_run(filled.best)
    page = client.get(f"/ui/default/runs/{filled.best}").text
    logs = re.search(r'<div id="run-logs">.*?</div>', page, re.S)
    assert logs
    assert "logs/stdout.txt" in logs[0]
    assert "training finished" in logs[0]
    code = re.search(r'<section id="run-code">.*?</section>', page, re.S)
    assert code
    git = run.source["git"]
    if git.get("commit"):
        assert f"<td>{git['commit']}</td>" in code[0]
        dirty = "yes" if git["dirty"] else "no"
        assert f"<th>Uncommitted changes</th><td>{dirty}</td>" in code[0]
    else:
        assert f"<td>{git['error']}</td>" in code[0]
    environment = re.search(r'<section id="run-environment">.*?</section>', page, re.S)
    assert environment
    python = run.source["environment"]["python"]
    assert f"<th>Python</th><td>{python}</td>" in environment[0]
    assert "Installed packages" in environment[0]
    assert "fastapi==" in environment[0]


def test_run_page_diff(tether_home: Path, client: TestClient) -> None:
    diff = b"--- a/train.py\n+++ b/train.py\n-lr = 0.1\n+lr = 0.2\n"
    digest = tether.artifacts.get_objects().put_bytes(diff, "text/x-diff").digest
    source = {
        "entry_point": "train.py",
        "git": {"commit": "a" * 40, "branch": "main", "dirty": True},
        "environment": {"python": "3.11.7"},
        "artifacts": {"code/diff.patch": digest},
    }
    with tether.start_run(name="dirty", source=source) as run:
        pass
    page = client.get(f"/ui/default/runs/{run.id}").text
    code = re.search(r'<section id="run-code">.*?</section>', page, re.S)
    assert code
    assert f"<th>Commit</th><td>{'a' * 40}</td>" in code[0]
    assert "<th>Branch</th><td>main</td>" in code[0]
    assert "<th>Uncommitted changes</th><td>yes</td>" in code[0]
    assert "+lr = 0.2" in code[0]
    assert "<code>train.py</code>" in code[0]


def test_run_unknown(client: TestClient) -> None:
    response = client.get("/ui/default/runs/0000nosuchrun")
    assert response.status_code == 404
    assert "run &#39;0000nosuchrun&#39; not found" in response.text
    assert "Traceback" not in response.text


def test_artifact_media_type(filled: Runs, client: TestClient) -> None:
    base = f"/ui/default/runs/{filled.best}/artifacts"
    image = client.get(f"{base}/plots/roc.png")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-security-policy"] == "sandbox"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.content == PNG
    report = client.get(f"{base}/report.html")
    assert report.headers["content-type"].startswith("text/html")
    assert report.headers["content-security-policy"] == "sandbox"
    table = client.get(f"{base}/eval/predictions.csv", params={"download": "true"})
    assert table.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''predictions.csv"
    )
    assert table.text.startswith("id,label,score\n")


def test_artifact_in_folder(
    tether_home: Path, tmp_path: Path, client: TestClient
) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "weights.json").write_text('{"w": [1, 2]}')
    with tether.start_run(name="folder") as run:
        run.log_artifact(folder, "model")
    page = client.get(f"/ui/default/runs/{run.id}").text
    link = f"/ui/default/runs/{run.id}/artifacts/model/sub/weights.json"
    assert f'<a href="{link}">model/sub/weights.json</a>' in page
    response = client.get(link)
    assert response.json() == {"w": [1, 2]}
    assert response.headers["content-type"] == "application/json"
    folder_page = client.get(f"/ui/default/runs/{run.id}/artifacts/model")
    assert folder_page.status_code == 400
    assert "is a folder" in folder_page.text


def test_artifact_unknown(filled: Runs, client: TestClient) -> None:
    response = client.get(f"/ui/default/runs/{filled.best}/artifacts/nope.txt")
    assert response.status_code == 404
    assert "has no artifact file &#39;nope.txt&#39;" in response.text


# -- metric charts -----------------------------------------------------------


def _polyline_points(svg: str) -> list[tuple[float, float]]:
    points = []
    for match in re.findall(r'<polyline points="([^"]+)"', svg):
        for pair in match.split():
            x, y = pair.split(",")
            points.append((float(x), float(y)))
    return points


def test_metric_svg(filled: Runs, client: TestClient) -> None:
    response = client.get(f"/ui/default/runs/{filled.best}/metrics/auc.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-security-policy"] == "sandbox"
    svg = response.text
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    points = _polyline_points(svg)
    assert len(points) == 30
    ys = [y for _, y in points]
    assert ys == sorted(ys, reverse=True)  # auc rises, so y falls on screen
    assert "<script" not in svg


def test_metric_svg_key_with_slash(filled: Runs, client: TestClient) -> None:
    response = client.get(f"/ui/default/runs/{filled.best}/metrics/train/loss.svg")
    assert response.status_code == 200
    assert ">train/loss</text>" in response.text


def test_metric_svg_unknown(filled: Runs, client: TestClient) -> None:
    response = client.get(f"/ui/default/runs/{filled.best}/metrics/nope.svg")
    assert response.status_code == 404
    assert "has no metric &#39;nope&#39;" in response.text


def test_long_series_downsampled(tether_home: Path, client: TestClient) -> None:
    count = FETCH_ALL_LIMIT + 10_000
    spike = 37_777
    with tether.start_run(name="long", source={}) as run:
        pass
    points = [
        MetricPoint(
            "loss", 100.0 if step == spike else math.sin(step / 5000), step, 0.0
        )
        for step in range(count)
    ]
    get_store().log_metrics(run.id, points)
    series = metric_series(get_store(), run.id, "loss")
    assert series.stored == count
    assert 3 <= len(series.steps) <= 1000
    assert series.steps[0] == 0
    assert series.steps[-1] == count - 1
    assert max(series.values) == 100.0
    assert min(series.values) < -0.99
    svg = client.get(f"/ui/default/runs/{run.id}/metrics/loss.svg").text
    assert len(_polyline_points(svg)) == len(series.steps)
    assert f"({len(series.steps)} of {count} points)" in svg


def test_series_nan_gap(tether_home: Path) -> None:
    with tether.start_run(name="gap", source={}) as run:
        for step, value in enumerate([1.0, 2.0, math.nan, 3.0, 4.0]):
            run.log_metric("loss", value, step=step)
    series = metric_series(get_store(), run.id, "loss")
    assert series.steps == [0, 1, 2, 3, 4]
    assert math.isnan(series.values[2])
    svg = line_chart([Line("loss", series.steps, series.values)], title="loss")
    assert svg.count("<polyline") == 2


# -- compare ------------------------------------------------------------------


def test_compare_params(filled: Runs, client: TestClient) -> None:
    page = client.get(
        "/ui/default/compare", params={"run": [filled.best, filled.second]}
    ).text
    table = _table(page, "compare-params")
    rows = re.findall(r"<tr[^>]*>.*?</tr>", table.split("<tbody>")[1], re.S)
    by_key = {_cells(row)[0]: (row, _cells(row)[1:]) for row in rows}
    assert by_key["lr"][1] == ["0.1", "0.2"]
    assert 'class="differs"' in by_key["lr"][0]
    assert by_key["model"][1] == ["gbm", "gbm"]
    assert 'class="differs"' not in by_key["model"][0]
    metrics = _table(page, "compare-metrics")
    assert (
        '<th>auc</th><td class="number">0.79</td><td class="number">0.49</td>'
        in metrics
    )


def test_compare_charts(filled: Runs, client: TestClient) -> None:
    page = client.get(
        "/ui/default/compare", params={"run": [filled.best, filled.second]}
    ).text
    charts = re.search(r'<div id="compare-charts".*?</div>', page, re.S)
    assert charts
    svgs = re.findall(r"<svg.*?</svg>", charts[0], re.S)
    assert len(svgs) == 2  # auc and train/loss
    auc = next(s for s in svgs if "<title>auc</title>" in s)
    assert auc.count("<polyline") == 2
    assert f"best-gbm ({filled.best[:8]})" in auc
    assert f"second-gbm ({filled.second[:8]})" in auc


def test_compare_unknown_run(filled: Runs, client: TestClient) -> None:
    response = client.get(
        "/ui/default/compare", params={"run": [filled.best, "0000missing"]}
    )
    assert response.status_code == 404
    assert "0000missing" in response.text


def test_compare_none(client: TestClient) -> None:
    page = client.get("/ui/default/compare").text
    assert "Choose runs to compare" in page


def test_compare_too_many(client: TestClient) -> None:
    response = client.get(
        "/ui/default/compare", params={"run": [f"run{i}" for i in range(21)]}
    )
    assert response.status_code == 400
    assert "21 runs chosen, above the limit of 20" in response.text


# -- lineage ------------------------------------------------------------------


@pytest.fixture
def chain(tether_home: Path) -> dict[str, str]:
    """A data set version read by a training run that registered a model version."""
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    with tether.start_run(name="prepare") as prepare:
        raw = tether.data.register("raw", frame, role="output")
    with tether.start_run(name="train") as train:
        tether.data.register("raw", frame, role="input")
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        version = tether.models.register_model(
            model, "delay", input_example=frame[["x"]].head(2)
        )
    return {
        "prepare": prepare.id,
        "train": train.id,
        "dataset": raw.id,
        "model": version.id,
    }


def _graph_entities(page: str) -> list[str]:
    graph = re.search(
        r'<div class="scroll lineage" id="lineage-graph">.*?</svg>', page, re.S
    )
    assert graph
    return [unescape(e) for e in re.findall(r'data-entity="([^"]+)"', graph[0])]


def test_lineage_of_model(chain: dict[str, str], client: TestClient) -> None:
    page = client.get(
        "/ui/default/lineage", params={"entity": "models:/delay/1", "depth": "3"}
    ).text
    entities = _graph_entities(page)
    assert f"model_version:{chain['model']}" in entities
    assert f"run:{chain['train']}" in entities
    assert f"dataset_version:{chain['dataset']}" in entities
    assert f"run:{chain['prepare']}" in entities
    link = f'href="/ui/default/lineage?entity=run%3A{chain["train"]}&amp;depth=3"'
    assert link in page
    nodes = _table(page, "lineage-nodes")
    assert f'<a href="/ui/default/runs/{chain["train"]}" title="run run train' in nodes
    assert '<a href="/ui/default/datasets/raw" title="datasets:/raw@1">' in nodes
    assert "<th>uri</th><td>models:/delay/1</td>" in _table(page, "lineage-details")


def test_lineage_levels(chain: dict[str, str], client: TestClient) -> None:
    page = client.get(
        "/ui/default/lineage", params={"entity": f"run:{chain['train']}", "depth": "1"}
    ).text
    rows = re.findall(r"<tr[^>]*>.*?</tr>", _table(page, "lineage-nodes"), re.S)[1:]
    levels = {}
    for row in rows:
        cells = _cells(row)
        levels[re.sub(r"<[^>]+>", "", cells[2])] = int(cells[0])
    assert levels["datasets:/raw@1"] == -1
    assert levels["models:/delay/1"] == 1
    assert levels[f"train ({chain['train'][:8]})"] == 0
    entities = _graph_entities(page)
    assert f"run:{chain['prepare']}" not in entities  # two levels up
    edges = re.findall(r'data-src="([^"]+)" data-dst="([^"]+)"', page)
    assert (f"dataset_version:{chain['dataset']}", f"run:{chain['train']}") in edges
    assert (f"run:{chain['train']}", f"model_version:{chain['model']}") in edges


def test_lineage_downstream(chain: dict[str, str], client: TestClient) -> None:
    page = client.get(
        "/ui/default/lineage", params={"entity": "datasets:/raw@1", "depth": "2"}
    ).text
    entities = _graph_entities(page)
    assert f"run:{chain['train']}" in entities
    assert f"model_version:{chain['model']}" in entities


def test_lineage_bad_entity(client: TestClient) -> None:
    response = client.get("/ui/default/lineage", params={"entity": "weights:7"})
    assert response.status_code == 400
    assert "invalid entity &#39;weights:7&#39;" in response.text
    assert 'id="lineage-form"' in response.text


def test_lineage_unknown(client: TestClient) -> None:
    response = client.get("/ui/default/lineage", params={"entity": "runs:/0000gone"})
    assert response.status_code == 404
    assert "0000gone" in response.text
    model = client.get("/ui/default/lineage", params={"entity": "models:/ghost/1"})
    assert model.status_code == 404
    assert "ghost" in model.text
    deployment = client.get("/ui/default/lineage", params={"entity": "deployment:gone"})
    assert deployment.status_code == 404
    assert "deployment &#39;gone&#39; not found" in deployment.text


def test_lineage_bad_depth(chain: dict[str, str], client: TestClient) -> None:
    response = client.get(
        "/ui/default/lineage", params={"entity": f"run:{chain['train']}", "depth": "99"}
    )
    assert response.status_code == 400
    assert "invalid depth 99; use a whole number from 1 to 10" in response.text


def test_lineage_form_only(client: TestClient) -> None:
    page = client.get("/ui/default/lineage")
    assert page.status_code == 200
    assert 'id="lineage-form"' in page.text
    assert 'id="lineage-graph"' not in page.text
