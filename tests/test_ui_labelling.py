"""The web UI's labelling pages: projects, one task at a time, and labels posted as forms."""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from starlette.exceptions import StarletteDeprecationWarning

import tether
from tether.artifacts import get_objects
from tether.config import current_user
from tether.data import annotation
from tether.server.app import create_app
from tether.server.settings import ServerSettings

# A server without auth accepts only requests addressed to a loopback name.
LOCAL = "http://127.0.0.1"

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SAMPLE = Path(__file__).parent / "data" / "annotation" / "penguins-sample.csv"
SHOWN = ["island", "bill_length_mm", "flipper_length_mm"]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
ORIGIN = {"Origin": LOCAL}
PAGE = "/ui/default/labelling/penguins"
# The smallest valid PNG: one transparent pixel.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


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
def tasks(home: Path) -> annotation.TaskSet:
    """Tasks over the 12 penguins of the sample, labelled with the three species."""
    source = tether.data.register("penguins-sample", SAMPLE)
    return annotation.create_tasks(
        source, name="penguins", columns=SHOWN, choices=SPECIES
    )


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    """A client of a server without auth over the test's store."""
    with TestClient(create_app(_settings(home)), base_url=LOCAL) as test_client:
        yield test_client


def _shown_task(page: str) -> str:
    match = re.search(r'name="task_id" value="([^"]+)"', page)
    assert match is not None, "the page shows no task form"
    return match.group(1)


def test_projects_list_counts(client: TestClient, tasks: annotation.TaskSet) -> None:
    annotation.add_annotations(
        tasks,
        [
            {"task_id": tasks.ids[0], "label": "Adelie", "annotator": "ana"},
            {"task_id": tasks.ids[0], "label": "Adelie", "annotator": "ben"},
            {"task_id": tasks.ids[1], "label": "Gentoo", "annotator": "ben"},
        ],
    )

    page = client.get("/ui/default/labelling").text

    match = re.search(r'<table id="labelling-projects">.*?</table>', page, re.S)
    assert match is not None
    row = match.group(0)
    assert f'href="{PAGE}"' in row
    assert "datasets:/penguins.tasks@1" in row
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    # tasks, labelled tasks, annotations, annotators
    assert cells == ["12", "2", "3", "2"]
    assert "Adelie, Chinstrap, Gentoo" in row
    assert "datasets:/penguins.labels@1" in row


def test_label_five_tasks(client: TestClient, tasks: annotation.TaskSet) -> None:
    chosen = ["Adelie", "Gentoo", "Chinstrap", "Adelie", "Gentoo"]
    page = client.get(PAGE)
    labelled = []
    for label in chosen:
        task = _shown_task(page.text)
        labelled.append(task)
        posted = client.post(
            PAGE,
            data={"task_id": task, "label": label, "started": "0"},
            headers=ORIGIN,
            follow_redirects=False,
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == f"{PAGE}?after={task}"
        page = client.get(posted.headers["location"])

    latest = annotation.latest_labels(tasks)
    assert latest["task_id"].tolist() == sorted(labelled)
    assert dict(zip(latest["task_id"], latest["label"], strict=True)) == dict(
        zip(labelled, chosen, strict=True)
    )
    assert set(latest["annotator"]) == {current_user()}
    assert labelled == tasks.ids[:5]
    assert _shown_task(page.text) == tasks.ids[5]
    assert "labelled 5 of 12 tasks" in page.text
    stored = annotation.load_annotations(tasks)
    assert len(stored) == 5
    assert stored["lead_time"].isna().all()
    assert client.get("/ui/default/labelling").text.count('<td class="num">5</td>') == 2


def test_label_outside_choices(client: TestClient, tasks: annotation.TaskSet) -> None:
    response = client.post(
        PAGE, data={"task_id": tasks.ids[2], "label": "Emperor"}, headers=ORIGIN
    )

    assert response.status_code == 400
    assert "label &#39;Emperor&#39; is not one of the choices" in response.text
    assert _shown_task(response.text) == tasks.ids[2]
    assert annotation.labelled_task_ids(tasks) == set()


def test_label_needs_same_origin(client: TestClient, tasks: annotation.TaskSet) -> None:
    form = {"task_id": tasks.ids[0], "label": "Adelie"}

    without = client.post(PAGE, data=form)
    foreign = client.post(PAGE, data=form, headers={"Origin": "http://other.example"})

    assert without.status_code == 403
    assert foreign.status_code == 403
    assert annotation.labelled_task_ids(tasks) == set()


def test_relabel_and_navigation(client: TestClient, tasks: annotation.TaskSet) -> None:
    third = tasks.ids[2]
    started = f"{time.time() - 2:.3f}"
    for label in ("Adelie", "Gentoo"):
        form = {"task_id": third, "label": label, "started": started}
        client.post(PAGE, data=form, headers=ORIGIN)

    page = client.get(PAGE, params={"task": third}).text
    skipped = client.get(PAGE, params={"after": tasks.ids[0]}).text

    assert annotation.latest_labels(tasks)["label"].tolist() == ["Gentoo"]
    # The page sends the time it was shown; the seconds since are the lead time.
    assert (annotation.load_annotations(tasks)["lead_time"] >= 2.0).all()
    assert "Your label: <strong>Gentoo</strong>" in page
    assert 'value="Gentoo" data-key="3" class="current"' in page
    assert f'id="label-previous" href="{PAGE}?task={tasks.ids[1]}"' in page
    assert f'id="label-next" href="{PAGE}?task={tasks.ids[3]}"' in page
    assert f'id="label-skip" href="{PAGE}?after={third}"' in page
    assert f'id="label-undo" href="{PAGE}?task={third}"' in page
    # The task after the first that the caller has not labelled is the second.
    assert _shown_task(skipped) == tasks.ids[1]
    row = tasks.frame.iloc[2]
    assert f"<tr><th>island</th><td>{row['island']}</td></tr>" in page
    assert f"<th>bill_length_mm</th><td>{row['bill_length_mm']}</td>" in page


def test_every_task_labelled(client: TestClient, tasks: annotation.TaskSet) -> None:
    rows = [{"task_id": task, "label": "Adelie"} for task in tasks.ids]
    annotation.add_annotations(tasks, rows, annotator=current_user())

    page = client.get(PAGE).text

    assert 'id="label-done"' in page
    assert 'id="label-form"' not in page
    assert f'href="{PAGE}?task={tasks.ids[-1]}"' in page


def test_unknown_project_and_task(
    client: TestClient, tasks: annotation.TaskSet
) -> None:
    project = client.get("/ui/default/labelling/krill")
    task = client.get(PAGE, params={"task": "nope-1"})

    assert project.status_code == 404
    assert "annotation project &#39;krill&#39; not found" in project.text
    assert task.status_code == 404
    assert "task &#39;nope-1&#39; is not in datasets:/penguins.tasks@1" in task.text
    assert 'id="label-done"' not in task.text


def test_viewer_reads_editor_labels(home: Path, tasks: annotation.TaskSet) -> None:
    app = create_app(_settings(home, auth=True))
    control = app.state.server.control
    headers = {}
    for user, role in (("vera", "viewer"), ("erin", "editor")):
        control.add_user(user, actor="tests")
        control.grant(user, "default", role, actor="tests")
        token = control.create_token(user, actor="tests")[1]
        headers[user] = {"Authorization": f"Bearer {token}", **ORIGIN}
    form = {"task_id": tasks.ids[0], "label": "Gentoo"}

    with TestClient(app, base_url=LOCAL) as client:
        page = client.get(PAGE, headers=headers["vera"])
        denied = client.post(PAGE, data=form, headers=headers["vera"])
        posted = client.post(
            PAGE, data=form, headers=headers["erin"], follow_redirects=False
        )

    assert page.status_code == 200
    assert 'id="label-form"' not in page.text
    assert "Labelling needs the editor role" in page.text
    assert denied.status_code == 403
    assert posted.status_code == 303
    latest = annotation.latest_labels(tasks)
    assert latest[["task_id", "annotator", "label"]].values.tolist() == [
        [tasks.ids[0], "erin", "Gentoo"]
    ]


def test_image_and_text_tasks(client: TestClient, home: Path) -> None:
    pixel = get_objects().put_bytes(PIXEL, "image/png").digest
    review = "The bird stood on the ice for an hour.\nThen it dived and came back."
    frame = pd.DataFrame({"photo": [pixel], "review": [review]})
    source = tether.data.register("birds", frame)
    annotation.create_tasks(source, choices=["penguin", "gull"])
    base = "/ui/default/labelling/birds"

    page = client.get(base).text
    image = client.get(f"{base}/images/{pixel}")
    other = client.get(f"{base}/images/{'0' * 64}")

    assert f'<img src="{base}/images/{pixel}" alt="photo of task' in page
    assert f"<pre>{review}</pre>" in page
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-security-policy"] == "sandbox"
    assert image.content == PIXEL
    assert other.status_code == 404


def test_label_script_served(client: TestClient) -> None:
    script = client.get("/static/label.js")

    assert script.status_code == 200
    for link in ("label-skip", "label-undo", "label-previous", "label-next"):
        assert link in script.text
    assert "data-key" in script.text
