"""Tests for labelling tasks, annotation sets and the Label Studio JSON format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tether
from tether.data import annotation
from tether.data.annotation import labels as annotation_sets
from tether.errors import DataError, NotFoundError
from tether.store import get_store

DATA = Path(__file__).parent / "data" / "annotation"
SAMPLE = DATA / "penguins-sample.csv"
EXPORT = DATA / "label-studio-export.json"
MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
SHOWN = ["island", *MEASURES]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
# BLAKE3 of tests/data/annotation/penguins-sample.csv: the export fixture's
# task ids start with it.
SAMPLE_PREFIX = "cd1c3b042f60"


@pytest.fixture
def penguins(tether_home: Path) -> tether.data.DatasetVersion:
    """The 333 complete rows of palmerpenguins, registered as ``penguins``."""
    frame = load_penguins().dropna().reset_index(drop=True)
    return tether.data.register("penguins", frame)


@pytest.fixture
def sample_tasks(tether_home: Path) -> annotation.TaskSet:
    """Tasks over the 12-row penguin sample that the Label Studio fixture labels."""
    source = tether.data.register("penguins-sample", SAMPLE)
    return annotation.create_tasks(source, columns=SHOWN, choices=SPECIES)


def _times(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(stamp) for stamp in stamps]


def test_task_ids_stable_across_creates(
    penguins: tether.data.DatasetVersion,
) -> None:
    first = annotation.create_tasks(penguins.uri, columns=SHOWN, choices=SPECIES)
    second = annotation.create_tasks(penguins.uri, columns=SHOWN, choices=SPECIES)
    prefix = penguins.digest[:12]
    assert first.uri == "datasets:/penguins.tasks@1"
    assert second.uri == first.uri
    assert first.ids == second.ids
    assert first.ids[:3] == [f"{prefix}-0", f"{prefix}-1", f"{prefix}-2"]
    assert len(first.ids) == 333
    assert first.frame.columns.tolist() == ["task_id", "source_row", *SHOWN]
    assert first.record.source["from"] == "datasets:/penguins@1"
    assert first.record.source["from_digest"] == penguins.digest
    assert first.choices == SPECIES
    assert first.data_columns == SHOWN


def test_tasks_linked_to_source(penguins: tether.data.DatasetVersion) -> None:
    tasks = annotation.create_tasks(penguins, columns=MEASURES)
    edges = get_store().edges_into("dataset_version", tasks.record.id)
    assert [(e.src_kind, e.src_id, e.relation) for e in edges] == [
        ("dataset_version", penguins.id, "derived")
    ]


def test_tasks_from_rows_keep_positions(
    penguins: tether.data.DatasetVersion,
) -> None:
    source = tether.data.load(penguins)
    tasks = annotation.create_tasks(penguins, name="few", rows=[5, 2, 40])
    prefix = penguins.digest[:12]
    assert tasks.uri == "datasets:/few.tasks@1"
    assert tasks.ids == [f"{prefix}-5", f"{prefix}-2", f"{prefix}-40"]
    assert tasks.frame["source_row"].tolist() == [5, 2, 40]
    expected = source.iloc[[5, 2, 40]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        tasks.frame[list(source.columns)], expected, check_dtype=False
    )
    assert tasks.labels_name == "few.labels"


def test_tasks_store_model_predictions(
    penguins: tether.data.DatasetVersion,
) -> None:
    frame = tether.data.load(penguins)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(frame[MEASURES], frame["species"])
    probabilities = model.predict_proba(frame[MEASURES])
    predictions = pd.DataFrame(
        {
            "label": model.classes_[probabilities.argmax(axis=1)],
            "score": probabilities.max(axis=1),
        }
    )
    tasks = annotation.create_tasks(
        penguins,
        columns=MEASURES,
        choices=SPECIES,
        predictions=predictions,
        model_version="models:/species/1",
    )
    assert tasks.has_predictions
    assert tasks.frame["prediction"].tolist() == predictions["label"].tolist()
    np.testing.assert_allclose(tasks.frame["prediction_score"], probabilities.max(1))
    assert set(tasks.frame["prediction_model"]) == {"models:/species/1"}
    assert tasks.record.source["model_version"] == "models:/species/1"
    exported = annotation.to_label_studio(tasks, task_ids=[tasks.ids[0]])
    (prediction,) = exported[0]["predictions"]
    assert prediction["model_version"] == "models:/species/1"
    assert prediction["score"] == pytest.approx(probabilities[0].max())
    assert prediction["result"][0]["type"] == "choices"
    assert prediction["result"][0]["value"] == {"choices": [predictions["label"][0]]}


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ({"columns": ["beak"]}, ["column 'beak' not found", "choose from"]),
        ({"rows": [0, 333]}, ["row 333 is outside", "0 to 332"]),
        ({"rows": [4, 4]}, ["row 4 is listed twice"]),
        (
            {"predictions": pd.DataFrame({"label": ["Adelie"]})},
            ["1 rows but there are 333 tasks"],
        ),
        (
            {
                "choices": ["Adelie", "Gentoo"],
                "predictions": pd.DataFrame({"label": ["Chinstrap"] * 333}),
            },
            ["predicted label 'Chinstrap' is not one of the choices"],
        ),
        (
            {"predictions": pd.DataFrame({"species": ["Adelie"] * 333})},
            ["predictions need a 'label' column"],
        ),
    ],
)
def test_create_tasks_rejects_bad_input(
    penguins: tether.data.DatasetVersion,
    options: dict[str, Any],
    fragments: list[str],
) -> None:
    with pytest.raises(DataError) as caught:
        annotation.create_tasks(penguins, **options)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_create_tasks_rejects_reserved_column(tether_home: Path) -> None:
    source = tether.data.register("clash", pd.DataFrame({"task_id": [1], "x": [2]}))
    with pytest.raises(DataError, match="'task_id' of datasets:/clash@1 has a name"):
        annotation.create_tasks(source)
    tasks = annotation.create_tasks(source, columns=["x"])
    assert tasks.data_columns == ["x"]


def test_load_tasks_rejects_plain_dataset(
    penguins: tether.data.DatasetVersion,
) -> None:
    with pytest.raises(DataError, match="datasets:/penguins@1 is not a task set"):
        annotation.load_tasks("datasets:/penguins@1")


def test_add_annotations_creates_versions(
    sample_tasks: annotation.TaskSet,
) -> None:
    ids = sample_tasks.ids
    first = annotation.add_annotations(
        sample_tasks,
        [
            {
                "task_id": ids[0],
                "label": "Adelie",
                "created_at": "2024-05-06T10:00:00Z",
            },
            {
                "task_id": ids[1],
                "label": "Adelie",
                "created_at": "2024-05-06T10:01:00Z",
            },
            {
                "task_id": ids[4],
                "label": "Gentoo",
                "created_at": "2024-05-06T10:02:00Z",
            },
        ],
        annotator="ana",
    )

    second = annotation.add_annotations(
        sample_tasks,
        pd.DataFrame(
            {
                "task_id": [ids[4], ids[8]],
                "annotator": ["ben", "ben"],
                "label": ["Chinstrap", "Gentoo"],
                "score": [0.6, 0.9],
                "notes": ["short bill", None],
                "created_at": ["2024-05-06T11:00:00+02:00", "2024-05-06T09:30:00Z"],
            }
        ),
    )

    assert first.uri == "datasets:/penguins-sample.labels@1"
    assert second.uri == "datasets:/penguins-sample.labels@2"
    assert first.source["tasks"] == sample_tasks.uri
    assert first.source["added"] == 3
    assert second.source["added"] == 2
    assert len(annotation.load_annotations(first)) == 3

    rows = annotation.load_annotations(second)
    assert rows.columns.tolist() == list(annotation_sets.COLUMNS)
    assert rows["annotator"].tolist() == ["ana", "ana", "ana", "ben", "ben"]
    assert rows["label"].tolist() == [
        "Adelie",
        "Adelie",
        "Gentoo",
        "Chinstrap",
        "Gentoo",
    ]
    assert rows["created_at"].tolist()[3:] == _times(
        "2024-05-06T09:00:00Z", "2024-05-06T09:30:00Z"
    )
    assert rows["notes"].tolist()[3] == "short bill"
    assert rows["score"].tolist()[3:] == [0.6, 0.9]
    assert set(rows["kind"]) == {"annotation"}

    edges = get_store().edges_into("dataset_version", second.id)
    assert {(e.src_id, e.relation) for e in edges} == {
        (sample_tasks.record.id, "derived"),
        (first.id, "derived"),
    }


def test_latest_labels_keeps_newest(sample_tasks: annotation.TaskSet) -> None:
    ids = sample_tasks.ids
    annotation.add_annotations(
        sample_tasks,
        pd.DataFrame(
            {
                "task_id": [ids[2], ids[2], ids[2], ids[3]],
                "annotator": ["ana", "ben", "ana", "ben"],
                "label": ["Chinstrap", "Gentoo", "Adelie", "Adelie"],
                "created_at": _times(
                    "2024-05-06T10:00:00Z",
                    "2024-05-06T10:05:00Z",
                    "2024-05-06T10:03:00Z",
                    "2024-05-06T10:04:00Z",
                ),
            }
        ),
    )
    per_task = annotation.latest_labels(sample_tasks)
    assert per_task[["task_id", "annotator", "label"]].values.tolist() == [
        [ids[2], "ben", "Gentoo"],
        [ids[3], "ben", "Adelie"],
    ]
    per_annotator = annotation.latest_labels(sample_tasks, by_annotator=True)
    assert per_annotator[["task_id", "annotator", "label"]].values.tolist() == [
        [ids[2], "ana", "Adelie"],
        [ids[2], "ben", "Gentoo"],
        [ids[3], "ben", "Adelie"],
    ]
    assert annotation.labelled_task_ids(sample_tasks) == {ids[2], ids[3]}


def test_same_annotations_add_nothing(sample_tasks: annotation.TaskSet) -> None:
    rows = [
        {
            "task_id": sample_tasks.ids[0],
            "annotator": "ana",
            "label": "Adelie",
            "created_at": "2024-05-06T10:00:00Z",
        }
    ]
    first = annotation.add_annotations(sample_tasks, rows)
    again = annotation.add_annotations(sample_tasks, rows)
    assert again.id == first.id
    assert [v.version for v in get_store().list_dataset_versions(first.name)] == [1]


@pytest.mark.parametrize(
    ("rows", "fragments"),
    [
        (
            [{"task_id": "nope-1", "label": "Adelie", "annotator": "ana"}],
            ["1 task id(s) not in datasets:/penguins-sample.tasks@1", "'nope-1'"],
        ),
        (
            [{"task_id": "TASK0", "label": "Emperor", "annotator": "ana"}],
            ["label 'Emperor' is not one of the choices", "Adelie, Chinstrap, Gentoo"],
        ),
        ([{"task_id": "TASK0", "label": "Adelie"}], ["name no annotator"]),
        ([{"task_id": "TASK0", "annotator": "ana"}], ["need column 'label'"]),
        (
            [{"task_id": "TASK0", "label": " ", "annotator": "ana"}],
            ["annotation 0 has no label"],
        ),
        (
            [{"task_id": "TASK0", "label": "Adelie", "annotator": "ana", "size": 3}],
            ["unknown annotation column 'size'"],
        ),
        (
            [
                {
                    "task_id": "TASK0",
                    "label": "Adelie",
                    "annotator": "ana",
                    "created_at": "yesterday",
                }
            ],
            ["invalid created_at", "ISO 8601"],
        ),
        ([], ["no annotations to add to penguins-sample.labels"]),
    ],
)
def test_add_annotations_rejects_bad_rows(
    sample_tasks: annotation.TaskSet,
    rows: list[dict[str, Any]],
    fragments: list[str],
) -> None:
    first = sample_tasks.ids[0]
    records = [
        {**row, "task_id": first} if row.get("task_id") == "TASK0" else row
        for row in rows
    ]
    with pytest.raises(DataError) as caught:
        annotation.add_annotations(sample_tasks, records)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_add_annotations_rejects_unknown_kind(
    sample_tasks: annotation.TaskSet,
) -> None:
    row = {"task_id": sample_tasks.ids[0], "label": "Adelie", "kind": "guess"}
    with pytest.raises(ValueError, match="invalid annotation kind 'guess'"):
        annotation.add_annotations(sample_tasks, [row], annotator="ana")


def test_no_labels_yet_names_fix(sample_tasks: annotation.TaskSet) -> None:
    with pytest.raises(NotFoundError, match="has no annotations yet"):
        annotation.load_annotations(sample_tasks)
    assert annotation.labelled_task_ids(sample_tasks) == set()


def test_concurrent_writer_rows_are_merged(
    sample_tasks: annotation.TaskSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = sample_tasks.ids
    annotation.add_annotations(
        sample_tasks, [{"task_id": ids[0], "label": "Adelie"}], annotator="ana"
    )
    real_register = annotation_sets.register
    calls = []

    def register_after_other_writer(*args: Any, **kwargs: Any) -> Any:
        # Another process adds version 2 between this writer's read and write.
        if not calls:
            calls.append("other")
            other = pd.concat(
                [
                    annotation.load_annotations(sample_tasks),
                    annotation_sets.normalize(
                        pd.DataFrame({"task_id": [ids[1]], "label": ["Adelie"]}),
                        annotator="ben",
                    ),
                ],
                ignore_index=True,
            )
            real_register(sample_tasks.labels_name, other)
        calls.append("ours")
        return real_register(*args, **kwargs)

    monkeypatch.setattr(annotation_sets, "register", register_after_other_writer)
    record = annotation.add_annotations(
        sample_tasks, [{"task_id": ids[2], "label": "Gentoo"}], annotator="cai"
    )
    assert calls == ["other", "ours", "ours"]
    # The first write was refused, so no version lacks the other writer's row.
    assert record.version == 3
    rows = annotation.load_annotations(record)
    assert sorted(zip(rows["annotator"], rows["task_id"], strict=True)) == [
        ("ana", ids[0]),
        ("ben", ids[1]),
        ("cai", ids[2]),
    ]


def test_import_label_studio_fixture(sample_tasks: annotation.TaskSet) -> None:
    assert sample_tasks.ids[0] == f"{SAMPLE_PREFIX}-0"
    result = annotation.import_label_studio(EXPORT)
    assert result.record.uri == "datasets:/penguins-sample.labels@1"
    assert result.created
    assert result.annotations == 34
    assert result.predictions == 12
    assert result.skipped == 1  # annotator 3 cancelled task 10
    assert result.record.source["origin"] == "label-studio:label-studio-export.json"
    rows = annotation.load_annotations(result.record)
    people = rows[rows["kind"] == "annotation"]
    assert sorted(people["annotator"].unique()) == ["1", "2", "3"]
    first = people.iloc[0]
    assert first["task_id"] == f"{SAMPLE_PREFIX}-0"
    assert first["annotator"] == "1"
    assert first["label"] == "Adelie"
    assert first["created_at"] == pd.Timestamp("2024-05-06T10:11:07Z")
    assert first["lead_time"] == 7.155
    assert first["external_id"] == "5001"
    models = rows[rows["kind"] == "prediction"]
    assert set(models["annotator"]) == {"penguin-logreg-v1"}
    task_five = models[models["task_id"] == f"{SAMPLE_PREFIX}-5"].iloc[0]
    assert task_five["label"] == "Chinstrap"
    assert task_five["score"] == 0.96
    assert task_five["created_at"] == pd.Timestamp("2024-05-06T08:01:52.334085Z")
    latest = annotation.latest_labels(result.record, by_annotator=True)
    on_five = latest[latest["task_id"] == f"{SAMPLE_PREFIX}-5"]
    assert on_five["label"].tolist() == ["Chinstrap", "Adelie", "Adelie"]


def test_import_twice_is_unchanged(sample_tasks: annotation.TaskSet) -> None:
    first = annotation.import_label_studio(EXPORT)
    again = annotation.import_label_studio(EXPORT, tasks=sample_tasks.uri)
    assert not again.created
    assert again.record.id == first.record.id
    assert again.annotations == 34


def test_label_studio_round_trip(
    sample_tasks: annotation.TaskSet, tmp_path: Path
) -> None:
    imported = annotation.import_label_studio(EXPORT)
    exported = tmp_path / "round-trip.json"
    count = annotation.export_label_studio(
        sample_tasks, exported, labels=imported.record
    )
    assert count == 12
    copy = annotation.create_tasks(
        tether.data.resolve("penguins-sample"),
        name="copy",
        columns=SHOWN,
        choices=SPECIES,
    )
    assert copy.ids == sample_tasks.ids  # same source rows, so the same ids
    again = annotation.import_label_studio(exported, tasks=copy)
    assert again.record.uri == "datasets:/copy.labels@1"
    keys = ["kind", "task_id", "annotator", "label", "created_at", "lead_time", "score"]
    before = annotation.load_annotations(imported.record)[keys]
    after = annotation.load_annotations(again.record)[keys]
    ordered = keys[:4]
    pd.testing.assert_frame_equal(
        before.sort_values(ordered).reset_index(drop=True),
        after.sort_values(ordered).reset_index(drop=True),
    )


def test_export_writes_label_studio_tasks(
    sample_tasks: annotation.TaskSet, tmp_path: Path
) -> None:
    path = tmp_path / "tasks.json"
    assert annotation.export_label_studio(sample_tasks, path) == 12
    tasks = json.loads(path.read_text())
    assert tasks[0] == {
        "data": {
            "tether_task_id": f"{SAMPLE_PREFIX}-0",
            "tether_tasks": "datasets:/penguins-sample.tasks@1",
            "item": {
                "island": "Torgersen",
                "bill_length_mm": 39.1,
                "bill_depth_mm": 18.7,
                "flipper_length_mm": 181.0,
                "body_mass_g": 3750.0,
            },
        },
        "predictions": [],
    }
    assert annotation.export_label_studio(sample_tasks, path) == 12
    assert json.loads(path.read_text()) == tasks  # the same export, byte for byte


def test_labeling_config_matches_export(sample_tasks: annotation.TaskSet) -> None:
    config = annotation.labeling_config(SPECIES, from_name="species", to_name="penguin")
    root = ET.fromstring(config)
    table = root.find("Table")
    choices = root.find("Choices")
    assert table is not None
    assert choices is not None
    assert table.attrib == {"name": "penguin", "value": "$item"}
    assert choices.attrib == {
        "name": "species",
        "toName": "penguin",
        "choice": "single",
    }
    assert [c.attrib["value"] for c in choices] == SPECIES
    exported = annotation.to_label_studio(
        sample_tasks, from_name="species", to_name="penguin"
    )
    assert "item" in exported[0]["data"]


def _write(tmp_path: Path, content: Any, raw: str | None = None) -> Path:
    path = tmp_path / "export.json"
    path.write_text(raw if raw is not None else json.dumps(content))
    return path


def _task(task_id: str, **fields: Any) -> dict[str, Any]:
    annotation_record = {
        "id": 9,
        "completed_by": 4,
        "created_at": "2024-05-06T10:00:00Z",
        "lead_time": 3.0,
        "result": [
            {
                "from_name": "label",
                "to_name": "item",
                "type": "choices",
                "value": {"choices": ["Gentoo"]},
            }
        ],
    }
    annotation_record.update(fields.pop("annotation", {}))
    return {
        "id": 77,
        "data": {
            "tether_task_id": task_id,
            "tether_tasks": "datasets:/penguins-sample.tasks@1",
        },
        "annotations": [annotation_record],
        **fields,
    }


@pytest.mark.parametrize(
    ("content", "raw", "fragments"),
    [
        (None, "[{", ["export.json is not valid JSON (line 1"]),
        ("tasks", None, ["contains a JSON str, not a list of tasks"]),
        ([{"id": 3}], None, ["task 0 (Label Studio id 3)", "has no 'data' object"]),
        (
            [{"data": {"text": "x"}}],
            None,
            ["has no data.tether_task_id", "tether annotate export"],
        ),
        ([_task("T", annotations={"x": 1})], None, ["'annotations' of type dict"]),
        (
            [_task("T", annotation={"result": [{"type": "choices", "value": {}}]})],
            None,
            ["annotation 0", "no value.choices list"],
        ),
        (
            [
                _task(
                    "T",
                    annotation={
                        "result": [
                            {
                                "type": "choices",
                                "value": {"choices": ["Adelie", "Gentoo"]},
                            }
                        ]
                    },
                )
            ],
            None,
            ["value.choices is ['Adelie', 'Gentoo']", "exactly one label"],
        ),
        (
            [_task("T", annotation={"created_at": None})],
            None,
            ["created_at is missing"],
        ),
        (
            [_task("T", annotation={"created_at": "last tuesday"})],
            None,
            ["created_at is 'last tuesday', not an ISO 8601 time"],
        ),
        ([_task("T", annotation={"lead_time": "3s"})], None, ["lead_time is '3s'"]),
        (
            [_task("T", annotation={"completed_by": {}})],
            None,
            ["completed_by {} names no user"],
        ),
        ([_task("T", annotation={"result": "Gentoo"})], None, ["result is a JSON str"]),
    ],
)
def test_import_rejects_malformed_file(
    sample_tasks: annotation.TaskSet,
    tmp_path: Path,
    content: Any,
    raw: str | None,
    fragments: list[str],
) -> None:
    text = json.dumps(content).replace('"T"', json.dumps(sample_tasks.ids[0]))
    path = _write(tmp_path, None, raw if raw is not None else text)
    with pytest.raises(DataError) as caught:
        annotation.import_label_studio(path)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_import_missing_completed_by(
    sample_tasks: annotation.TaskSet, tmp_path: Path
) -> None:
    task = _task(sample_tasks.ids[0])
    del task["annotations"][0]["completed_by"]
    with pytest.raises(DataError, match="annotation 0 has no completed_by"):
        annotation.import_label_studio(_write(tmp_path, [task]))


def test_import_missing_file(sample_tasks: annotation.TaskSet, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found; pass the JSON file"):
        annotation.import_label_studio(tmp_path / "missing.json")


def test_import_without_labels_names_fix(
    sample_tasks: annotation.TaskSet, tmp_path: Path
) -> None:
    task = _task(sample_tasks.ids[0], annotation={"was_cancelled": True})
    with pytest.raises(DataError, match="contains no labels: 1 annotation"):
        annotation.import_label_studio(_write(tmp_path, [task]))


def test_import_older_export_shapes(
    sample_tasks: annotation.TaskSet, tmp_path: Path
) -> None:
    task = _task(
        sample_tasks.ids[3],
        annotation={"completed_by": {"id": 4, "email": "ana@example.com"}},
        predictions=[12, 13],  # some exports list prediction ids only
    )
    task["completions"] = task.pop("annotations")  # before Label Studio 1.0
    unknown_tasks = dict(task, data={"tether_task_id": sample_tasks.ids[4]})
    path = _write(tmp_path, [task, unknown_tasks])
    result = annotation.import_label_studio(path, tasks=sample_tasks)
    rows = annotation.load_annotations(result.record)
    assert rows[["task_id", "annotator", "label"]].values.tolist() == [
        [sample_tasks.ids[3], "ana@example.com", "Gentoo"],
        [sample_tasks.ids[4], "ana@example.com", "Gentoo"],
    ]
    assert result.predictions == 0


def test_import_needs_task_set_when_unnamed(
    sample_tasks: annotation.TaskSet, tmp_path: Path
) -> None:
    task = _task(sample_tasks.ids[0])
    task["data"] = {"tether_task_id": sample_tasks.ids[0]}
    with pytest.raises(DataError, match=r"names no task set in data\.tether_tasks"):
        annotation.import_label_studio(_write(tmp_path, [task]))


def test_import_picks_choices_tag(
    sample_tasks: annotation.TaskSet, tmp_path: Path
) -> None:
    results = [
        {"from_name": "label", "type": "choices", "value": {"choices": ["Adelie"]}},
        {"from_name": "quality", "type": "choices", "value": {"choices": ["blurry"]}},
        {"from_name": "comment", "type": "textarea", "value": {"text": ["odd"]}},
    ]
    path = _write(
        tmp_path, [_task(sample_tasks.ids[0], annotation={"result": results})]
    )
    with pytest.raises(DataError, match=r"several Choices tags \(label, quality\)"):
        annotation.import_label_studio(path)
    result = annotation.import_label_studio(path, from_name="label")
    rows = annotation.load_annotations(result.record)
    assert rows["label"].tolist() == ["Adelie"]


def test_import_drops_predictions_the_tasks_hold(
    tether_home: Path, tmp_path: Path
) -> None:
    source = tether.data.register("penguins-sample", SAMPLE)
    truth = pd.read_csv(SAMPLE)["species"]
    tasks = annotation.create_tasks(
        source,
        columns=SHOWN,
        choices=SPECIES,
        predictions=pd.DataFrame({"label": truth, "score": 0.8}),
        model_version="rules-v1",
    )
    labels = annotation.add_annotations(
        tasks, [{"task_id": tasks.ids[0], "label": "Adelie"}], annotator="ana"
    )
    path = tmp_path / "tasks.json"
    annotation.export_label_studio(tasks, path, labels=labels)
    exported = json.loads(path.read_text())
    assert [p["model_version"] for p in exported[0]["predictions"]] == ["rules-v1"]
    result = annotation.import_label_studio(path)
    assert result.predictions == 0
    assert not result.created


def test_annotations_on_each_store(store_url: str) -> None:
    source = tether.data.register("penguins-sample", SAMPLE)
    tasks = annotation.create_tasks(source, columns=SHOWN, choices=SPECIES)
    result = annotation.import_label_studio(EXPORT)
    assert result.record.uri == "datasets:/penguins-sample.labels@1"
    assert len(annotation.load_annotations(result.record)) == 46
    extra = annotation.add_annotations(
        tasks, [{"task_id": tasks.ids[11], "label": "Gentoo"}], annotator="3"
    )
    assert extra.version == 2
    assert len(annotation.latest_labels(tasks, by_annotator=True)) == 35


def _add_one(home: str, tasks_uri: str, task_id: str, annotator: str) -> int:
    import os

    os.environ["TETHER_HOME"] = home
    os.environ.pop("TETHER_STORE", None)
    record = annotation.add_annotations(
        tasks_uri, [{"task_id": task_id, "label": "Adelie"}], annotator=annotator
    )
    return record.version


def test_parallel_writers_keep_every_row(
    sample_tasks: annotation.TaskSet, tether_home: Path
) -> None:
    import multiprocessing

    ids = sample_tasks.ids[:6]
    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        pool.starmap(
            _add_one,
            [
                (str(tether_home), sample_tasks.uri, task, f"a{i}")
                for i, task in enumerate(ids)
            ],
        )
    versions = get_store().list_dataset_versions(sample_tasks.labels_name)
    assert sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]
    sizes = {}
    for version in versions:
        sizes[version.version] = len(annotation.load_annotations(version))
    assert sizes == {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}


def test_missing_notes_stay_missing(sample_tasks: annotation.TaskSet) -> None:
    ids = sample_tasks.ids
    annotation.add_annotations(
        sample_tasks, [{"task_id": ids[0], "label": "Adelie"}], annotator="ana"
    )
    annotation.add_annotations(
        sample_tasks, [{"task_id": ids[1], "label": "Gentoo"}], annotator="ana"
    )
    rows = annotation.load_annotations(sample_tasks)
    assert len(rows) == 2
    assert rows["notes"].isna().all(), rows["notes"].tolist()
    assert rows["external_id"].isna().all(), rows["external_id"].tolist()
