"""Tests for a version's life in the registry: review, gating, history, cards, deletion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import tether
from cli_helpers import one_line_error, run_json
from tether.cli.main import main
from tether.errors import ConfigError, NotFoundError, PromotionError
from tether.store import get_store

FEATURES = pd.DataFrame(
    {"age": np.arange(30, dtype="int64"), "income": np.linspace(0.0, 3.0, 30)}
)
LABELS = (FEATURES["income"] > 1.5).astype("int64")


@pytest.fixture
def two_versions(tether_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Model ``m`` with versions 1 and 2, registered by user ``ana``."""
    monkeypatch.setenv("TETHER_USER", "ana")
    model = LogisticRegression().fit(FEATURES, LABELS)
    for _ in range(2):
        tether.models.register_model(model, "m", input_example=FEATURES.head(5))
    return tether_home


def _passed(uri: str) -> None:
    tether.models.record_test_result(uri, "smoke", [{"name": "fits", "passed": True}])


@pytest.mark.sql_store  # a server records the token's user as the actor
def test_status_description_and_tags_are_audited(two_versions: Path) -> None:
    tether.models.set_status("models:/m/1", "approved")
    tether.models.describe("models:/m/1", "logistic baseline")
    tether.models.tag("models:/m/1", {"team": "risk", "ticket": 7})
    record = tether.models.tag("models:/m/1", remove=["ticket"])
    assert (record.status, record.description, record.tags) == (
        "approved",
        "logistic baseline",
        {"team": "risk"},
    )
    trail = get_store().audit_trail("models:/m/1")
    assert [(e.actor, e.action) for e in trail] == [
        ("ana", "register"),
        ("ana", "set_status"),
        ("ana", "set_description"),
        ("ana", "set_tags"),
        ("ana", "remove_tags"),
    ]
    assert trail[1].details == {"from": "candidate", "to": "approved"}


def test_unknown_status_names_the_choices(two_versions: Path) -> None:
    with pytest.raises(
        ConfigError, match="unknown status 'live'; use one of candidate"
    ):
        tether.models.set_status("models:/m/1", "live")


def test_champion_needs_passed_required_tests(two_versions: Path) -> None:
    with pytest.raises(PromotionError, match="it has no test results"):
        tether.models.set_alias("m", "champion", 1)
    tether.models.record_test_result(
        "models:/m/1",
        "gates",
        [
            {"name": "auc", "passed": False},
            {"name": "slices", "passed": False, "required": False},
        ],
    )
    failed = r"required tests failed in its latest test run: auc; run"
    with pytest.raises(PromotionError, match=failed):
        tether.models.set_alias("m", "champion", 1)
    assert tether.models.get_version("models:/m/1").aliases == ()
    # Other aliases are not gated.
    tether.models.set_alias("m", "challenger", 1)
    _passed("models:/m/1")
    assert tether.models.set_alias("m", "champion", 1).aliases == (
        "challenger",
        "champion",
    )


def test_forced_move_records_the_override(two_versions: Path) -> None:
    tether.models.set_alias("m", "champion", 2, force=True, reason="hotfix")
    (event,) = get_store().audit_trail("models:/m@champion")
    assert event.details == {
        "from_version": None,
        "to_version": 2,
        "forced": True,
        "reason": "hotfix",
        "problem": "it has no test results",
    }


@pytest.mark.sql_store  # a server records the token's user as the actor
def test_history_gives_periods_per_alias(two_versions: Path) -> None:
    _passed("models:/m/1")
    _passed("models:/m/2")
    tether.models.set_alias("m", "champion", 1)
    tether.models.set_alias("m", "champion", 2)
    tether.models.set_alias("m", "challenger", 1)
    tether.models.remove_alias("m", "challenger")
    periods = tether.models.alias_periods("m")
    assert [(p.alias, p.version, p.end is None, p.actor) for p in periods] == [
        ("challenger", 1, False, "ana"),
        ("champion", 1, False, "ana"),
        ("champion", 2, True, "ana"),
    ]
    assert periods[1].end == periods[2].start


def test_delete_hides_version_and_removes_aliases(two_versions: Path) -> None:
    _passed("models:/m/2")
    tether.models.set_alias("m", "champion", 2)
    assert tether.models.delete_version("models:/m/2") == ["champion"]
    with pytest.raises(NotFoundError, match="version 2 of model 'm' was deleted"):
        tether.models.get_version("models:/m/2")
    with pytest.raises(NotFoundError, match="has no alias 'champion'"):
        tether.models.get_version("models:/m@champion")
    assert [v.version for v in tether.models.list_versions("m")] == [1]
    everything = tether.models.list_versions("m", include_deleted=True)
    assert [(v.version, v.deleted_at is not None) for v in everything] == [
        (2, True),
        (1, False),
    ]
    periods = tether.models.alias_periods("m")
    assert [(p.alias, p.version, p.end is not None) for p in periods] == [
        ("champion", 2, True)
    ]


def test_card_gathers_tests_history_and_signature(two_versions: Path) -> None:
    tether.models.describe("models:/m/1", "a baseline | with a pipe")
    _passed("models:/m/1")
    tether.models.set_alias("m", "champion", 1)
    card = tether.models.build_card("models:/m@champion")
    markdown = card.to_markdown()
    assert "# Model card: models:/m/1" in markdown
    assert "| Aliases | champion |" in markdown
    assert "a baseline | with a pipe" in markdown
    assert "| fits | yes | passed |  |  |" in markdown
    assert "| age | integer | no |" in markdown
    assert "| champion |" in markdown
    html = card.to_html()
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
    assert "http" not in html
    assert "<td>fits</td>" in html


def test_cli_review_commands(
    two_versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "status", "models:/m/2", "approved"]) == 0
    assert main(["models", "tag", "models:/m/2", "team=risk"]) == 0
    forced = ["models", "alias", "m", "champion", "2", "--force", "--reason", "demo"]
    assert main(forced) == 0
    capsys.readouterr()
    shown = run_json(capsys, "models", "show", "m")
    assert [(v["version"], v["status"], v["aliases"]) for v in shown] == [
        (2, "approved", ["champion"]),
        (1, "candidate", []),
    ]
    assert shown[0]["tags"] == {"team": "risk"}
    history = run_json(capsys, "models", "history", "m")
    assert [(h["alias"], h["version"], h["forced"]) for h in history] == [
        ("champion", 2, True)
    ]
    assert main(["models", "delete", "models:/m/2"]) == 0
    capsys.readouterr()
    assert [v["version"] for v in run_json(capsys, "models", "list")] == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "alias", "m", "champion", "1"], "--force with --reason"),
        (["models", "alias", "m", "champion", "1", "--force"], "needs a reason"),
        (["models", "trust", "models:/m/1"], "needs no trust mark"),
        (["models", "status", "models:/m/1", "live"], "unknown status 'live'"),
        (["models", "tag", "models:/m/1", "team"], "write tags as KEY=VALUE"),
        (["models", "delete", "models:/m/9"], "has no version 9"),
        (["models", "history", "nope"], "model 'nope' not found"),
        (["models", "card", "models:/m/1", "--format", "pdf"], "invalid format"),
    ],
)
def test_cli_errors_are_one_line(
    two_versions: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert message in one_line_error(capsys, *args)


def test_cli_card_writes_file(
    two_versions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cards" / "m1.html"
    assert (
        main(["models", "card", "models:/m/1", "--format", "html", "-o", str(target)])
        == 0
    )
    assert "Model card: models:/m/1" in target.read_text(encoding="utf-8")


class RaisingModel:
    """A model whose predict always raises."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("weights not loaded")


def test_example_must_match_signature(tether_home: Path) -> None:
    model = LogisticRegression().fit(FEATURES, LABELS)
    signature = tether.models.infer_signature(FEATURES.head(5))
    renamed = FEATURES.head(5).rename(columns={"income": "salary"})
    with pytest.raises(ConfigError, match="the input example does not match"):
        tether.models.register_model(
            model, "m", signature=signature, input_example=renamed
        )
    with pytest.raises(NotFoundError):
        tether.models.list_versions("m")


def test_raising_predict_registers_nothing(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match="predict raised on its own input example"):
        tether.models.register_model(
            RaisingModel(), "m", input_example=FEATURES.head(5), trusted=True
        )
    with pytest.raises(NotFoundError):
        tether.models.list_versions("m")
    assert get_store().audit_trail() == []


def test_declared_inputs_kept_outputs_inferred(tether_home: Path) -> None:
    from tether.models.signature import ColumnSpec, Signature

    frame = FEATURES.head(8)
    model = LogisticRegression().fit(FEATURES.head(8), [0, 1] * 4)
    declared = Signature(
        inputs=[
            ColumnSpec("age", "integer", False),
            ColumnSpec("income", "float", True),
        ]
    )
    record = tether.models.register_model(
        model, "m", signature=declared, input_example=frame[["age", "income"]]
    )
    stored = Signature.from_dict(record.signature)
    assert list(stored.inputs) == list(declared.inputs)
    assert [(c.name, c.type) for c in stored.outputs] == [("prediction", "integer")]


def test_gated_alias_in_any_case(two_versions: Path) -> None:
    with pytest.raises(PromotionError, match="cannot move Champion"):
        tether.models.set_alias("m", "Champion", 1)
    with pytest.raises(ConfigError, match="needs a reason"):
        tether.models.set_alias("m", "champion", 1, force=True, reason="  ")


def test_show_all_deleted_says_so(
    two_versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tether.models.delete_version("models:/m/1")
    tether.models.delete_version("models:/m/2")
    assert main(["models", "show", "m"]) == 0
    assert "has no versions left: 2 deleted" in capsys.readouterr().out
