"""The ``models`` section: each model's test suite (a file or inline tests) and gates."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

from tether.errors import ConfigError, InvalidURIError
from tether.models.testing.base import ModelTest
from tether.models.testing.kinds import TEST_KINDS
from tether.models.testing.suite import Suite
from tether.models.testing.yaml_suite import COMMON_KEYS
from tether.project.reader import Reader
from tether.project.spec import Gates, ModelEntry
from tether.uris import parse_dataset_uri
from tether.yaml_lines import KeyPath

MODEL_KEYS = ("pipeline", "suite", "tests", "dataset", "label", "gates")
GATE_KEYS = ("alias", "tests")
MODEL_EXAMPLE = "'penguins: {suite: model-tests.yaml}'"


def read_models(reader: Reader, data: Mapping[str, Any]) -> dict[str, ModelEntry]:
    """Return the models the file declares."""
    found: dict[str, ModelEntry] = {}
    for name, raw in reader.entries(data, "models", MODEL_EXAMPLE).items():
        entry = _model(reader, name, raw)
        if entry is not None:
            found[name] = entry
    return found


def _model(reader: Reader, name: str, raw: Any) -> ModelEntry | None:
    path: KeyPath = ("models", name)
    entry = reader.mapping(raw, path, MODEL_KEYS, example=MODEL_EXAMPLE)
    if entry is None:
        return None
    suite = reader.text(entry, path, "suite", hint="give a YAML file or module:name")
    tests = _inline_tests(reader, entry, path)
    if suite is None and not tests and "tests" not in entry:
        reader.report(
            path,
            "declares no tests; add 'suite: FILE' (a test suite file) or a "
            "'tests' list",
        )
    if suite is not None and "tests" in entry:
        reader.report(
            (*path, "tests"),
            "give either 'suite' or 'tests', not both; move the inline tests into "
            f"{suite} or remove 'suite'",
            at_key=True,
        )
    dataset = reader.text(entry, path, "dataset", hint="give datasets:/NAME[@VERSION]")
    if dataset is not None:
        _check_dataset(reader, (*path, "dataset"), dataset)
    return ModelEntry(
        name=name,
        pipeline=reader.text(entry, path, "pipeline", hint="name a declared pipeline"),
        suite=suite,
        tests=tuple(tests),
        dataset=dataset,
        label=reader.text(entry, path, "label", hint="name the label column"),
        gates=_gates(reader, entry.get("gates"), (*path, "gates")),
    )


def _gates(reader: Reader, raw: Any, path: KeyPath) -> Gates:
    if raw is None:
        return Gates()
    entry = reader.mapping(raw, path, GATE_KEYS, example="{alias: champion}")
    if entry is None:
        return Gates()
    alias = reader.text(entry, path, "alias", default="champion")
    if alias.isdigit():
        reader.report(
            (*path, "alias"), f"invalid alias {alias!r}; it cannot be a number"
        )
    return Gates(alias=alias, tests=reader.strings(entry, path, "tests"))


def _inline_tests(
    reader: Reader, entry: Mapping[str, Any], path: KeyPath
) -> list[dict[str, Any]]:
    raw = entry.get("tests")
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        reader.report(
            (*path, "tests"),
            "expected a list of tests, each '- name: NAME' with 'kind: KIND' under "
            "it (see docs/model-testing.md)",
        )
        return []
    tests = []
    for index, item in enumerate(raw):
        if _inline_test(reader, item, (*path, "tests", index)) is not None:
            tests.append(dict(item))
    return tests


def _inline_test(reader: Reader, item: Any, path: KeyPath) -> ModelTest | None:
    if not isinstance(item, Mapping):
        reader.report(path, "expected a test mapping with 'name' and 'kind'")
        return None
    kind = item.get("kind")
    cls = TEST_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        if kind is None:
            reader.report(
                path, f"missing the key 'kind'; use one of {', '.join(TEST_KINDS)}"
            )
        else:
            reader.unknown((*path, "kind"), kind, tuple(TEST_KINDS), "test kind")
        return None
    allowed = (*COMMON_KEYS, *cls.FIELDS)
    unknown = [key for key in item if key not in allowed]
    for key in unknown:
        reader.unknown((*path, key), key, allowed, "key")
    missing = [
        spec.name
        for spec in dataclasses.fields(cls)
        if spec.name in ("name", *cls.FIELDS)
        and spec.default is dataclasses.MISSING
        and spec.default_factory is dataclasses.MISSING
        and spec.name not in item
    ]
    for key in missing:
        reader.report(path, f"a {kind} test needs the key {key!r}; add '{key}: ...'")
    if unknown or missing:
        return None
    fields = {key: value for key, value in item.items() if key != "kind"}
    return reader.build(path, lambda: cls(**fields))


def _check_dataset(reader: Reader, path: KeyPath, uri: str) -> None:
    try:
        parse_dataset_uri(uri)
    except InvalidURIError as error:
        reader.report(path, f"{error}; give datasets:/NAME or datasets:/NAME@VERSION")


def inline_suite(entry: ModelEntry) -> Suite:
    """Return the suite of a model's inline tests.

    Raises:
        ConfigError: the model declares no inline tests, or a test is invalid.
    """
    if not entry.tests:
        raise ConfigError(
            f"model {entry.name} declares no inline tests", setting="tests"
        )
    tests = []
    for item in entry.tests:
        cls = TEST_KINDS[str(item["kind"])]
        tests.append(cls(**{k: v for k, v in item.items() if k != "kind"}))
    return Suite(
        name=f"{entry.name}-tests",
        tests=tests,
        dataset=entry.dataset,
        label=entry.label,
    )


def inline_suite_yaml(entry: ModelEntry) -> str:
    """Return a model's inline tests as a suite file's text, as the store keeps suites."""
    document: dict[str, Any] = {"name": f"{entry.name}-tests"}
    if entry.dataset:
        document["dataset"] = entry.dataset
    if entry.label:
        document["label"] = entry.label
    document["tests"] = [dict(item) for item in entry.tests]
    return yaml.safe_dump(document, sort_keys=False)
