"""Tests for active learning, agreement between annotators and consensus labels."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from scipy.stats import entropy
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import tether
from tether.data import annotation
from tether.errors import ConfigError, DataError

DATA = Path(__file__).parent / "data" / "annotation"
SAMPLE = DATA / "penguins-sample.csv"
EXPORT = DATA / "label-studio-export.json"
SHOWN = [
    "island",
    "bill_length_mm",
    "bill_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
PREFIX = "cd1c3b042f60"  # the BLAKE3 prefix of penguins-sample.csv

# Four tasks, three classes: rows chosen so each strategy orders them differently.
PROBABILITIES = np.array(
    [
        [0.50, 0.30, 0.20],
        [0.90, 0.05, 0.05],
        [0.34, 0.33, 0.33],
        [0.45, 0.45, 0.10],
        [1.00, 0.00, 0.00],
    ]
)

# The worked example of the Wikipedia article "Fleiss' kappa": 10 subjects,
# 14 raters each, 5 categories; the article gives P = 0.378, Pe = 0.213 and
# kappa = 0.210.
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


@pytest.fixture
def sample_tasks(tether_home: Path) -> annotation.TaskSet:
    """Tasks over the 12-row penguin sample that the Label Studio fixture labels."""
    source = tether.data.register("penguins-sample", SAMPLE)
    return annotation.create_tasks(source, columns=SHOWN, choices=SPECIES)


@pytest.fixture
def imported(sample_tasks: annotation.TaskSet) -> annotation.LabelStudioImport:
    """The Label Studio fixture, imported: 3 annotators, 34 labels, 12 predictions."""
    return annotation.import_label_studio(EXPORT)


def _id(row: int) -> str:
    return f"{PREFIX}-{row}"


def test_uncertainty_formulas() -> None:
    least = annotation.uncertainty(PROBABILITIES, "least_confidence")
    margin = annotation.uncertainty(PROBABILITIES, "margin")
    nats = annotation.uncertainty(PROBABILITIES, "entropy")
    np.testing.assert_allclose(least, [0.50, 0.10, 0.66, 0.55, 0.0])
    np.testing.assert_allclose(margin, [0.20, 0.85, 0.01, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(nats, entropy(PROBABILITIES, axis=1))
    assert nats[4] == 0.0  # 0 * ln 0 counts as 0


@pytest.mark.parametrize(
    ("strategy", "rows"),
    [
        ("least_confidence", [2, 3, 0, 1, 4]),
        ("margin", [3, 2, 0, 1, 4]),
        ("entropy", [2, 0, 3, 1, 4]),
    ],
)
def test_select_next_orders_by_strategy(
    sample_tasks: annotation.TaskSet, strategy: str, rows: list[int]
) -> None:
    probabilities = np.vstack([PROBABILITIES, np.tile([1.0, 0.0, 0.0], (7, 1))])
    chosen = annotation.select_next(
        sample_tasks, probabilities, k=5, strategy=strategy, classes=SPECIES
    )
    assert chosen.columns.tolist() == [
        "rank",
        "task_id",
        "source_row",
        "score",
        "predicted",
        "probability",
    ]
    assert chosen["task_id"].tolist()[:4] == [_id(row) for row in rows[:4]]
    assert chosen["rank"].tolist() == [1, 2, 3, 4, 5]
    assert chosen["source_row"].tolist()[:4] == rows[:4]
    # Rows 4 to 11 are all certain; the tie keeps task order.
    assert chosen["task_id"].tolist()[4] == _id(rows[4])


def test_select_next_skips_labelled(sample_tasks: annotation.TaskSet) -> None:
    probabilities = np.vstack([PROBABILITIES, np.tile([1.0, 0.0, 0.0], (7, 1))])
    annotation.add_annotations(
        sample_tasks,
        [
            {"task_id": _id(2), "label": "Adelie"},
            {"task_id": _id(3), "label": "Adelie"},
        ],
        annotator="ana",
    )
    chosen = annotation.select_next(sample_tasks, probabilities, k=3, classes=SPECIES)
    assert chosen["task_id"].tolist() == [_id(0), _id(1), _id(4)]
    everything = annotation.select_next(
        sample_tasks, probabilities, k=2, classes=SPECIES, skip=()
    )
    assert everything["task_id"].tolist() == [_id(2), _id(0)]
    rest = annotation.select_next(sample_tasks, probabilities, k=50, classes=SPECIES)
    assert len(rest) == 10


def test_select_next_aligns_frame_by_task_id(
    sample_tasks: annotation.TaskSet,
) -> None:
    frame = pd.DataFrame(
        [[0.2, 0.7, 0.1], [0.5, 0.5, 0.0]],
        index=[_id(9), _id(6)],
        columns=SPECIES,
    )
    chosen = annotation.select_next(sample_tasks, frame, k=2, strategy="margin")
    assert chosen["task_id"].tolist() == [_id(6), _id(9)]
    assert chosen["predicted"].tolist() == ["Adelie", "Chinstrap"]
    assert chosen["source_row"].tolist() == [6, 9]


@pytest.mark.parametrize(
    ("probabilities", "classes", "fragment"),
    [
        (np.full((3, 3), 1 / 3), SPECIES, "3 rows but there are 12 tasks"),
        (np.full(12, 0.5), SPECIES, "must be a 2-D (tasks, classes) array"),
        (np.full((12, 3), 1 / 3), ["a", "b"], "3 columns but 2 class names"),
        (np.full((12, 3), 0.5), SPECIES, "invalid class probabilities [0.5, 0.5, 0.5]"),
        (np.full((12, 3), 1 / 3), None, "need their class names"),
        (np.full((12, 3), 1 / 3), ["a", "a", "b"], "repeat a name"),
        (np.ones((12, 1)), ["a"], "at least 2 classes"),
    ],
)
def test_select_next_rejects_bad_probabilities(
    sample_tasks: annotation.TaskSet,
    probabilities: np.ndarray,
    classes: list[str] | None,
    fragment: str,
) -> None:
    with pytest.raises(DataError) as caught:
        annotation.select_next(sample_tasks, probabilities, classes=classes)
    assert fragment in str(caught.value)


def test_select_next_rejects_bad_options(sample_tasks: annotation.TaskSet) -> None:
    probabilities = np.full((12, 3), 1 / 3)
    with pytest.raises(ConfigError, match="invalid strategy 'random'"):
        annotation.select_next(sample_tasks, probabilities, strategy="random")
    with pytest.raises(ConfigError, match="invalid k 0"):
        annotation.select_next(sample_tasks, probabilities, k=0, classes=SPECIES)


def test_select_next_on_digits(tether_home: Path) -> None:
    digits = load_digits(as_frame=True)
    frame = digits.frame
    source = tether.data.register("digits", frame)
    pixels = [str(c) for c in digits.feature_names]
    tasks = annotation.create_tasks(
        source, columns=pixels, choices=[str(d) for d in range(10)]
    )

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(frame[pixels].iloc[:150], frame["target"].iloc[:150])
    probabilities = model.predict_proba(tasks.data())
    chosen = annotation.select_next(
        tasks, probabilities, k=20, strategy="entropy", classes=model.classes_
    )

    nats = entropy(probabilities, axis=1)
    expected_rows = np.argsort(-nats, kind="stable")[:20]
    assert chosen["source_row"].tolist() == expected_rows.tolist()
    assert chosen["task_id"].tolist() == [
        f"{source.digest[:12]}-{row}" for row in expected_rows
    ]
    np.testing.assert_allclose(chosen["score"], nats[expected_rows])
    assert (np.diff(chosen["score"]) <= 0).all()

    # Labelling the first five removes them from the next choice.
    annotation.add_annotations(
        tasks,
        pd.DataFrame(
            {
                "task_id": chosen["task_id"][:5],
                "label": frame["target"].iloc[expected_rows[:5]].astype(str).tolist(),
            }
        ),
        annotator="ana",
    )
    after = annotation.select_next(tasks, probabilities, k=15, classes=model.classes_)
    assert after["task_id"].tolist() == chosen["task_id"].tolist()[5:]


def test_cohen_kappa_matches_sklearn_on_penguins() -> None:
    frame = load_penguins().dropna().reset_index(drop=True)
    truth = frame["species"].astype(str).tolist()
    shallow = DecisionTreeClassifier(max_depth=1, random_state=0)
    shallow.fit(frame[["flipper_length_mm"]], frame["species"])
    bills = DecisionTreeClassifier(max_depth=2, random_state=0)
    bills.fit(frame[["bill_length_mm", "bill_depth_mm"]], frame["species"])
    raters = {
        "truth": truth,
        "flipper": shallow.predict(frame[["flipper_length_mm"]]).tolist(),
        "bills": bills.predict(frame[["bill_length_mm", "bill_depth_mm"]]).tolist(),
    }
    for first, second in [
        ("truth", "flipper"),
        ("truth", "bills"),
        ("flipper", "bills"),
    ]:
        ours = annotation.cohen_kappa(raters[first], raters[second])
        theirs = cohen_kappa_score(raters[first], raters[second])
        assert ours == pytest.approx(theirs, abs=1e-12)
        assert 0.0 < ours < 1.0


def test_cohen_kappa_textbook_value() -> None:
    # 50 items: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no. P_o = 0.7,
    # P_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, so kappa = 0.4.
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert annotation.cohen_kappa(first, second) == pytest.approx(0.4)


def test_cohen_kappa_edge_cases() -> None:
    assert annotation.cohen_kappa(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert math.isnan(annotation.cohen_kappa(["a", "a"], ["a", "a"]))
    with pytest.raises(DataError, match="have 2 and 1 labels"):
        annotation.cohen_kappa(["a", "b"], ["a"])
    with pytest.raises(DataError, match="no labels to compare"):
        annotation.cohen_kappa([], [])


def test_fleiss_kappa_wikipedia_example() -> None:
    kappa = annotation.fleiss_kappa(WIKIPEDIA_FLEISS)
    assert round(kappa, 3) == 0.210
    assert kappa == pytest.approx(0.2099307, abs=1e-7)
    counts = np.array(WIKIPEDIA_FLEISS, dtype=float)
    shares = counts.sum(axis=0) / counts.sum()
    np.testing.assert_allclose(shares.round(3), [0.143, 0.200, 0.279, 0.150, 0.229])


def test_fleiss_kappa_rejects_single_label() -> None:
    with pytest.raises(DataError, match="task 1 has 1 label"):
        annotation.fleiss_kappa([[2, 0], [1, 0]])
    assert annotation.fleiss_kappa([[3, 0], [0, 3]]) == 1.0


def test_agreement_report_on_fixture(
    imported: annotation.LabelStudioImport,
) -> None:
    report = annotation.agreement_report(imported.record)
    # Counts (Adelie, Chinstrap, Gentoo) per task: 8 unanimous tasks of 3
    # and 2 of 2 (P_i = 1), and 3 tasks split 2-1 (P_i = 1/3), so P_o = 5/6.
    # Label totals 13, 10, 11 of 34 give P_e = 390/1156, so
    # kappa = (5/6 - 195/578) / (1 - 195/578) = 860/1149.
    assert report.method == "fleiss"
    assert report.annotators == ["1", "2", "3"]
    assert report.labels == SPECIES
    assert report.tasks == 12
    assert report.observed == pytest.approx(5 / 6)
    assert report.kappa == pytest.approx(float(Fraction(860, 1149)))
    pairs = report.pairs.set_index(["first", "second"])
    assert pairs.loc[("1", "2"), "kappa"] == pytest.approx(0.75)
    assert pairs.loc[("1", "2"), "tasks"] == 12
    assert pairs.loc[("1", "3"), "tasks"] == 10
    latest = annotation.latest_labels(imported.record, by_annotator=True)
    table = latest.pivot(index="task_id", columns="annotator", values="label")
    for first, second in [("1", "2"), ("1", "3"), ("2", "3")]:
        both = table[[first, second]].dropna()
        expected = cohen_kappa_score(both[first], both[second])
        assert pairs.loc[(first, second), "kappa"] == pytest.approx(expected)
    as_json = report.to_dict()
    assert as_json["kappa"] == pytest.approx(860 / 1149)
    assert len(as_json["pairs"]) == 3


def test_agreement_report_two_annotators(sample_tasks: annotation.TaskSet) -> None:
    ids = sample_tasks.ids
    labels = ["Adelie", "Adelie", "Chinstrap", "Gentoo"]
    other = ["Adelie", "Chinstrap", "Chinstrap", "Gentoo"]
    rows = [
        {"task_id": ids[i], "annotator": name, "label": label}
        for name, chosen in (("ana", labels), ("ben", other))
        for i, label in enumerate(chosen)
    ]
    annotation.add_annotations(sample_tasks, rows)
    report = annotation.agreement_report(sample_tasks)
    assert report.method == "cohen"
    assert report.tasks == 4
    assert report.observed == 0.75
    assert report.kappa == pytest.approx(cohen_kappa_score(labels, other))


def test_agreement_needs_two_annotators(sample_tasks: annotation.TaskSet) -> None:
    annotation.add_annotations(
        sample_tasks,
        [{"task_id": sample_tasks.ids[0], "label": "Adelie"}],
        annotator="a",
    )
    with pytest.raises(DataError, match="at least 2 annotators, found 1"):
        annotation.agreement_report(sample_tasks)
    annotation.add_annotations(
        sample_tasks,
        [{"task_id": sample_tasks.ids[1], "label": "Adelie"}],
        annotator="b",
    )
    with pytest.raises(DataError, match="no task was labelled by two annotators"):
        annotation.agreement_report(sample_tasks)


def test_consensus_on_fixture(imported: annotation.LabelStudioImport) -> None:
    voted = annotation.consensus(imported.record).set_index("task_id")
    assert len(voted) == 12
    assert voted.loc[_id(5)].to_dict() == {
        "label": "Adelie",
        "votes": 2,
        "annotators": 3,
        "agreement": pytest.approx(2 / 3),
        "tie": False,
    }
    assert voted.loc[_id(7), "label"] == "Chinstrap"
    assert voted.loc[_id(10)].to_dict() == {
        "label": "Gentoo",
        "votes": 2,
        "annotators": 2,
        "agreement": 1.0,
        "tie": False,
    }
    assert not voted["tie"].any()


def test_consensus_tie_rule(sample_tasks: annotation.TaskSet) -> None:
    task = sample_tasks.ids[0]
    annotation.add_annotations(
        sample_tasks,
        [
            {"task_id": task, "annotator": "ana", "label": "Gentoo"},
            {"task_id": task, "annotator": "ben", "label": "Chinstrap"},
        ],
    )
    voted = annotation.consensus(sample_tasks)
    # The task set's choices list Chinstrap before Gentoo.
    assert voted[["label", "votes", "agreement", "tie"]].values.tolist() == [
        ["Chinstrap", 1, 0.5, True]
    ]
    reordered = annotation.consensus(sample_tasks, choices=["Gentoo", "Chinstrap"])
    assert reordered["label"].tolist() == ["Gentoo"]


def test_consensus_tie_sorted_without_choices(tether_home: Path) -> None:
    source = tether.data.register("penguins-sample", SAMPLE)
    tasks = annotation.create_tasks(source, columns=SHOWN)
    task = tasks.ids[0]
    annotation.add_annotations(
        tasks,
        [
            {"task_id": task, "annotator": "ana", "label": "seal"},
            {"task_id": task, "annotator": "ben", "label": "penguin"},
        ],
    )
    assert annotation.consensus(tasks)["label"].tolist() == ["penguin"]


def test_label_errors_from_imported_predictions(
    imported: annotation.LabelStudioImport,
) -> None:
    flagged = annotation.label_errors(imported.record, threshold=0.9)
    assert flagged["task_id"].tolist() == [_id(5), _id(1), _id(2), _id(7)]
    five = flagged.iloc[0]
    assert five["label"] == "Adelie"
    assert five["model_label"] == "Chinstrap"
    assert five["model_probability"] == 0.96
    assert five["reason"] == (
        "annotators disagree (2 of 3 chose 'Adelie'); "
        "model predicts 'Chinstrap' with probability 0.960"
    )
    assert (
        flagged.iloc[1]["reason"] == "model predicts 'Chinstrap' with probability 0.930"
    )
    assert flagged.iloc[3]["reason"] == "annotators disagree (2 of 3 chose 'Chinstrap')"
    stricter = annotation.label_errors(imported.record, threshold=0.95)
    assert stricter["task_id"].tolist() == [_id(5), _id(2), _id(7)]


def test_label_errors_with_model_probabilities(
    imported: annotation.LabelStudioImport, sample_tasks: annotation.TaskSet
) -> None:
    frame = load_penguins().dropna().reset_index(drop=True)
    measures = SHOWN[1:]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        frame[measures], frame["species"]
    )
    probabilities = model.predict_proba(sample_tasks.data()[measures])
    flagged = annotation.label_errors(
        imported.record,
        probabilities=probabilities,
        classes=model.classes_,
        threshold=0.85,
    )
    predicted = model.classes_[probabilities.argmax(axis=1)]
    confidence = probabilities.max(axis=1)
    # The model is confident that task 5 is a Chinstrap, as in the sample, and
    # takes the short-billed Chinstraps 6 and 7 for Adelies with low confidence.
    assert predicted[5] == "Chinstrap"
    assert confidence[5] >= 0.85
    assert predicted[[6, 7]].tolist() == ["Adelie", "Adelie"]
    assert (confidence[[6, 7]] < 0.85).all()
    assert flagged["task_id"].tolist() == [_id(5), _id(2), _id(7)]
    assert flagged["model_label"].tolist() == ["Chinstrap", "Adelie", "Adelie"]
    assert flagged["model_probability"].tolist() == confidence[[5, 2, 7]].tolist()
    with pytest.raises(ConfigError, match=r"invalid threshold 1\.5"):
        annotation.label_errors(imported.record, threshold=1.5)


def test_label_errors_from_task_predictions(tether_home: Path) -> None:
    source = tether.data.register("penguins-sample", SAMPLE)
    truth = pd.read_csv(SAMPLE)["species"]
    tasks = annotation.create_tasks(
        source,
        columns=SHOWN,
        choices=SPECIES,
        predictions=pd.DataFrame({"label": truth, "score": [0.99] * 12}),
        model_version="rules-v1",
    )
    annotation.add_annotations(
        tasks,
        [
            {"task_id": tasks.ids[0], "label": "Gentoo"},
            {"task_id": tasks.ids[1], "label": "Adelie"},
        ],
        annotator="ana",
    )
    flagged = annotation.label_errors(tasks)
    assert flagged["task_id"].tolist() == [tasks.ids[0]]
    assert flagged["reason"].tolist() == [
        "model predicts 'Adelie' with probability 0.990"
    ]
