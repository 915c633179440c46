"""Identifiers, URI parsing and the resolution of store locations."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tether import config, ids
from tether.errors import InvalidURIError
from tether.ids import new_id
from tether.uris import (
    DatasetRef,
    ModelRef,
    RunRef,
    parse_dataset_uri,
    parse_model_uri,
    parse_run_uri,
)

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + ALPHABET.index(char)
    return value


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Replace the clock of ``tether.ids`` with one the test sets."""
    clock = SimpleNamespace(now=1_700_000_000.123)
    fake_time = SimpleNamespace(time=lambda: clock.now)
    monkeypatch.setattr(ids, "time", fake_time)
    monkeypatch.setattr(ids, "_last_ms", 0)
    monkeypatch.setattr(ids, "_counter", 0)
    return clock


# -- ids -----------------------------------------------------------------


def test_id_length_and_alphabet() -> None:
    for value in (new_id() for _ in range(100)):
        assert len(value) == 26
        assert set(value) <= set(ALPHABET)


def test_ids_unique_and_sorted() -> None:
    values = [new_id() for _ in range(10_000)]
    assert len(set(values)) == 10_000
    assert values == sorted(values)


def test_id_prefix_is_milliseconds(frozen_clock: SimpleNamespace) -> None:
    value = new_id()
    assert decode(value[:10]) == 1_700_000_000_123


def test_ids_sorted_within_millisecond(frozen_clock: SimpleNamespace) -> None:
    values = [new_id() for _ in range(1000)]
    assert {value[:10] for value in values} == {values[0][:10]}
    assert len(set(values)) == 1000
    assert values == sorted(values)


def test_ids_sorted_when_clock_goes_back(frozen_clock: SimpleNamespace) -> None:
    values = []
    for now in (100.0, 99.0, 98.5, 100.0, 100.002):
        frozen_clock.now = now
        values.append(new_id())
    assert values == sorted(values)
    assert len(set(values)) == 5
    assert decode(values[-1][:10]) == 100_002


# -- URIs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/churn/3", ModelRef("churn", 3, None)),
        ("models:/churn@champion", ModelRef("churn", None, "champion")),
        (
            "models:/flight-delay_v2.1@prod-eu",
            ModelRef("flight-delay_v2.1", None, "prod-eu"),
        ),
        ("models:/Churn2/120", ModelRef("Churn2", 120, None)),
        ("  models:/churn/1\n", ModelRef("churn", 1, None)),
    ],
)
def test_parse_model_uri(uri: str, expected: ModelRef) -> None:
    assert parse_model_uri(uri) == expected


def test_model_ref_string_round_trips() -> None:
    for uri in ("models:/churn/3", "models:/churn@champion"):
        assert str(parse_model_uri(uri)) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "models:/churn",
        "models:/churn/",
        "models:/churn/x",
        "models:/churn/-1",
        "models:/churn/1/extra",
        "models:/churn@",
        "models:/churn@a@b",
        "models:/-churn/1",
        "models:/a b/1",
        "models://churn/1",
        "model:/churn/1",
        "datasets:/churn@1",
    ],
)
def test_bad_model_uri_rejected(uri: str) -> None:
    with pytest.raises(
        InvalidURIError, match=r"^invalid model URI .*models:/NAME/VERSION"
    ):
        parse_model_uri(uri)


def test_invalid_uri_error_keeps_uri() -> None:
    with pytest.raises(InvalidURIError) as caught:
        parse_model_uri("models:/churn")
    assert caught.value.uri == "models:/churn"
    assert str(caught.value).startswith("invalid model URI 'models:/churn'; use")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("datasets:/iris", DatasetRef("iris", None)),
        ("datasets:/iris@3", DatasetRef("iris", "3")),
        (
            "datasets:/flights-2024.v1@train_split",
            DatasetRef("flights-2024.v1", "train_split"),
        ),
    ],
)
def test_parse_dataset_uri(uri: str, expected: DatasetRef) -> None:
    assert parse_dataset_uri(uri) == expected
    assert str(expected) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "datasets:/",
        "datasets:/iris@",
        "datasets:/iris/3",
        "dataset:/iris",
        "datasets:/.x",
    ],
)
def test_bad_dataset_uri_rejected(uri: str) -> None:
    with pytest.raises(InvalidURIError, match=r"^invalid dataset URI .*datasets:/NAME"):
        parse_dataset_uri(uri)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("runs:/01m90x0w8a000000phsez6dvn2", RunRef("01m90x0w8a000000phsez6dvn2", "")),
        ("runs:/01abc/model/model.skops", RunRef("01abc", "model/model.skops")),
        ("runs:/01abc/", RunRef("01abc", "")),
    ],
)
def test_parse_run_uri(uri: str, expected: RunRef) -> None:
    assert parse_run_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["", "runs:/", "runs:/ABC", "runs:01abc", "runs:/01-abc"]
)
def test_bad_run_uri_rejected(uri: str) -> None:
    with pytest.raises(
        InvalidURIError, match=r"^invalid run URI .*runs:/RUN_ID\[/PATH\]"
    ):
        parse_run_uri(uri)


# -- config --------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (config.HOME_ENV, config.STORE_ENV, config.ARTIFACTS_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_resolve_defaults(clean_env: Path) -> None:
    settings = config.resolve()
    assert settings.home == clean_env / ".tether"
    assert settings.store_url == f"sqlite:///{clean_env}/.tether/tether.db"
    assert settings.artifacts_url == f"{clean_env}/.tether/objects"
    assert settings.predictions_dir == clean_env / ".tether" / "predictions"


def test_resolve_home_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.HOME_ENV, "/srv/tether")
    settings = config.resolve()
    assert settings.home == Path("/srv/tether")
    assert settings.store_url == "sqlite:////srv/tether/tether.db"
    assert settings.artifacts_url == "/srv/tether/objects"


def test_resolve_relative_home(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.HOME_ENV, "state")
    settings = config.resolve()
    assert settings.home == clean_env / "state"
    assert settings.store_url == f"sqlite:///{clean_env}/state/tether.db"


def test_store_env_bare_path(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.STORE_ENV, "meta/store.db")
    assert config.resolve().store_url == f"sqlite:///{clean_env}/meta/store.db"
    monkeypatch.setenv(config.STORE_ENV, "/var/lib/tether.db")
    assert config.resolve().store_url == "sqlite:////var/lib/tether.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tether@db.internal/meta",
        "postgresql+psycopg://tether@db.internal/meta",
        "sqlite:////data/tether.db",
    ],
)
def test_store_env_url_kept(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv(config.STORE_ENV, url)
    monkeypatch.setenv(config.HOME_ENV, "/srv/tether")
    settings = config.resolve()
    assert settings.store_url == url
    assert settings.artifacts_url == "/srv/tether/objects"


def test_artifacts_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ARTIFACTS_ENV, "s3://bucket/tether")
    settings = config.resolve()
    assert settings.artifacts_url == "s3://bucket/tether"
    assert settings.store_url == f"sqlite:///{clean_env}/.tether/tether.db"


def test_arguments_override_env(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.HOME_ENV, "/env/home")
    monkeypatch.setenv(config.STORE_ENV, "/env/store.db")
    monkeypatch.setenv(config.ARTIFACTS_ENV, "/env/objects")
    settings = config.resolve(
        store="arg.db", artifacts="/arg/objects", home="/arg/home"
    )
    assert settings.home == Path("/arg/home")
    assert settings.store_url == f"sqlite:///{clean_env}/arg.db"
    assert settings.artifacts_url == "/arg/objects"
