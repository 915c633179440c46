"""Suites written in YAML, loaded with errors that name the file, line and key.

A suite file is a mapping::

    name: flights-promotion              # defaults to the file name without suffix
    description: gates of the champion   # optional
    dataset: datasets:/flights-test@1    # the data of tests that name none
    label: late                          # the label column of labelled tests
    tests:
      - name: auc
        kind: metric
        metric: roc_auc
        min: 0.65

Each test names its kind under ``kind`` (see :data:`TEST_KINDS`) and takes
``name``, ``required`` (default true), ``dataset`` and the fields of its kind.
``docs/model-testing.md`` lists every key.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tether.errors import ConfigError
from tether.models.testing.base import ModelTest, Origin
from tether.models.testing.kinds import TEST_KINDS
from tether.models.testing.suite import Suite
from tether.yaml_lines import KeyPath, line_of, parse_with_lines

SUITE_KEYS = ("name", "description", "dataset", "label", "tests")
COMMON_KEYS = ("name", "kind", "required", "dataset")


def load_suite(path: str | Path) -> Suite:
    """Read a suite from a YAML file.

    Raises:
        ConfigError: the file is missing, not UTF-8 or not valid YAML, or it
            names an unknown kind or key, lacks a required key, or has a value
            of the wrong type. The message names the file, the line and the fix.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"suite file {str(file)!r} not found; pass the path of a YAML test "
            "suite (see docs/model-testing.md)",
            setting="suite",
            value=str(file),
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"suite file {str(file)!r} is not UTF-8 text (byte {error.start}); save "
            "the suite as UTF-8 YAML",
            setting="suite",
            value=str(file),
        ) from None
    return parse_suite(text, source=str(file), default_name=file.name.split(".")[0])


def parse_suite(text: str, *, source: str = "<yaml>", default_name: str = "") -> Suite:
    """Build a suite from YAML text; ``source`` names the text in errors.

    Raises:
        ConfigError: as :func:`load_suite`.
    """
    data, lines = parse_with_lines(text, source, noun="key")
    return _Reader(source, lines).suite(data, default_name)


class _Reader:
    """Turns parsed YAML into a suite, naming the line of every problem."""

    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines

    def where(self, *path: str | int) -> str:
        return line_of(self.lines, self.source, *path)

    def origin(self, *path: str | int) -> Origin:
        """Return the origin of the mapping at ``path``, with the line of each key."""
        keys = {
            str(found[-1]): line
            for found, line in self.lines.items()
            if len(found) == len(path) + 1 and found[: len(path)] == path
        }
        return Origin(self.source, self.lines.get(path), keys)

    def suite(self, data: Any, default_name: str) -> Suite:
        if not isinstance(data, Mapping):
            found = "nothing" if data is None else f"a {type(data).__name__}"
            raise ConfigError(
                f"{self.where()}: a suite file must be a mapping with 'name' and "
                f"'tests', but it contains {found}; see docs/model-testing.md",
                setting="suite",
            )
        for key in data:
            if key not in SUITE_KEYS:
                raise self._unknown("unknown suite key", key, SUITE_KEYS, (key,))
        tests = data.get("tests")
        if not isinstance(tests, list):
            raise ConfigError(
                f"{self.where('tests')}: 'tests' must be a list of tests, got "
                f"{type(tests).__name__}; write each test as '- name: NAME' with "
                "'kind: KIND' under it",
                setting="tests",
            )
        built = [self.test(index, item) for index, item in enumerate(tests)]
        return Suite(
            name=data.get("name") or default_name,
            tests=built,
            dataset=data.get("dataset"),
            label=data.get("label"),
            description=data.get("description") or "",
            origin=self.origin(),
        )

    def test(self, index: int, item: Any) -> ModelTest:
        path: KeyPath = ("tests", index)
        label = f"test {index + 1}"
        if not isinstance(item, Mapping) or "kind" not in item:
            raise ConfigError(
                f"{self.where(*path)}: {label} must be a mapping with a 'kind' key "
                f"(one of {', '.join(TEST_KINDS)}), got {item!r}",
                setting="kind",
            )
        kind = item["kind"]
        cls = TEST_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise self._unknown(
                f"{label}: unknown kind", kind, tuple(TEST_KINDS), (*path, "kind")
            )
        name = item.get("name")
        label = f"test {name!r} ({kind})" if isinstance(name, str) else label
        allowed = (*COMMON_KEYS, *cls.FIELDS)
        for key in item:
            if key not in allowed:
                raise self._unknown(f"{label}: unknown key", key, allowed, (*path, key))
        self._require(cls, item, label, path)
        fields = {key: value for key, value in item.items() if key != "kind"}
        try:
            return cls(**fields, origin=self.origin(*path))
        except TypeError as error:
            raise ConfigError(
                f"{self.where(*path)}: {label}: {error}", setting="kind"
            ) from None

    def _require(
        self, cls: type[ModelTest], item: Mapping[str, Any], label: str, path: KeyPath
    ) -> None:
        required = [
            field.name
            for field in dataclasses.fields(cls)
            if field.name in ("name", *cls.FIELDS)
            and field.default is dataclasses.MISSING
            and field.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in item]
        if missing:
            hint = ", ".join(f"'{name}: ...'" for name in missing)
            raise ConfigError(
                f"{self.where(*path)}: {label} is missing the key(s) "
                f"{', '.join(missing)}; add {hint}",
                setting=missing[0],
            )

    def _unknown(
        self, problem: str, value: Any, known: tuple[str, ...], path: KeyPath
    ) -> ConfigError:
        close = difflib.get_close_matches(str(value), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return ConfigError(
            f"{self.where(*path)}: {problem} {value!r}; {hint}"
            f"use one of: {', '.join(known)}",
            setting=str(value),
        )
