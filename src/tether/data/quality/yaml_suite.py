"""Suites written in YAML: loading with line-numbered errors, and dumping.

A suite file is a mapping::

    name: flights                     # defaults to the file name without suffix
    description: raw flights table    # optional
    reference: datasets:/flights@1    # optional default of distribution checks
    checks:
      - check: not_null
        column: dep_time
        max_share: 0.05
        severity: warn

Each check names its kind under ``check`` and takes the fields of its helper
(see :data:`CHECK_TYPES`), plus ``severity`` and ``description``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tether.data.profiles import json_safe
from tether.data.quality.base import Check
from tether.data.quality.column_checks import (
    AllowedValuesCheck,
    DtypeCheck,
    NotNullCheck,
    RangeCheck,
    RegexCheck,
)
from tether.data.quality.distribution import DistributionCheck
from tether.data.quality.freshness import FreshnessCheck
from tether.data.quality.suite import Suite
from tether.data.quality.table_checks import (
    ColumnsPresentCheck,
    RowCountCheck,
    UniqueCheck,
)
from tether.errors import ConfigError
from tether.output_files import write_text
from tether.yaml_lines import KeyPath, line_of, parse_with_lines

CHECK_TYPES: dict[str, type[Check]] = {
    cls.KIND: cls
    for cls in (
        ColumnsPresentCheck,
        DtypeCheck,
        NotNullCheck,
        RangeCheck,
        AllowedValuesCheck,
        UniqueCheck,
        RegexCheck,
        RowCountCheck,
        FreshnessCheck,
        DistributionCheck,
    )
}
"""Check kinds a YAML suite can name, mapped to their classes."""

SUITE_KEYS = ("name", "description", "reference", "checks")
COMMON_FIELDS = ("severity", "description")


def load_suite(path: str | Path) -> Suite:
    """Read a suite from a YAML file.

    Raises:
        ConfigError: The file is not valid YAML, or it names an unknown check,
            an unknown or missing field, or an invalid value. The message
            names the file, the line, the check and the fix.
        OSError: The file cannot be read.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"suite file {str(file)!r} not found; pass the path of a YAML suite, "
            "or write one with `tether data infer-checks`",
            setting="suite",
            value=str(file),
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"suite file {str(file)!r} is not UTF-8 text (byte {exc.start}); save "
            "the suite as UTF-8 YAML",
            setting="suite",
            value=str(file),
        ) from None
    return parse_suite(text, source=str(file), default_name=file.name.split(".")[0])


def parse_suite(text: str, *, source: str = "<yaml>", default_name: str = "") -> Suite:
    """Build a suite from YAML text; ``source`` names the text in errors.

    Raises:
        ConfigError: As :func:`load_suite`.
    """
    data, lines = parse_with_lines(text, source, noun="field")
    return _Reader(source, lines).suite(data, default_name)


def suite_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Suite:
    """Build a suite from the mapping that a YAML suite file contains.

    Raises:
        ConfigError: As :func:`load_suite`, without line numbers.
    """
    return _Reader(source, {}).suite(data, "")


def suite_to_dict(suite: Suite) -> dict[str, Any]:
    """Return the YAML mapping of a suite.

    Raises:
        ConfigError: A check has no YAML form (a check class written in
            Python, or a distribution check against an in-memory frame).
    """
    data: dict[str, Any] = {"name": suite.name}
    if suite.description:
        data["description"] = suite.description
    data["checks"] = [json_safe(check.spec()) for check in suite.checks]
    return data


def dump_suite(suite: Suite, path: str | Path | None = None) -> str:
    """Return the suite as YAML text, and write it to ``path`` when given."""
    text = yaml.dump(
        suite_to_dict(suite),
        Dumper=_SuiteDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=88,
    )
    if path is not None:
        target = Path(path)
        write_text(target, text)
    return text


class _SuiteDumper(yaml.SafeDumper):
    """A YAML dumper that writes mappings as blocks, lists of scalars on one
    line (``[a, b]``), and list items indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(item, list | dict) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_SuiteDumper.add_representer(list, _represent_list)


class _Reader:
    """Turns the parsed YAML into a suite, naming the line of every problem."""

    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines

    def where(self, *path: str | int) -> str:
        return line_of(self.lines, self.source, *path)

    def suite(self, data: Any, default_name: str) -> Suite:
        if not isinstance(data, Mapping):
            found = "nothing" if data is None else f"a {type(data).__name__}"
            raise ConfigError(
                f"{self.where()}: a suite file must be a mapping with 'name' and "
                f"'checks', but it contains {found}; see docs/data-quality.md",
                setting="suite",
            )
        for key in data:
            if key not in SUITE_KEYS:
                raise self._unknown("unknown suite field", key, SUITE_KEYS, (key,))
        name = data.get("name") or default_name
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"{self.where('name')}: the suite needs a name (a string), got "
                f"{data.get('name')!r}; add 'name: my-suite'",
                setting="name",
            )
        checks = data.get("checks")
        if not isinstance(checks, list):
            raise ConfigError(
                f"{self.where('checks')}: 'checks' must be a list of checks, got "
                f"{type(checks).__name__}; write each check as '- check: KIND'",
                setting="checks",
            )
        reference = data.get("reference")
        built = [
            self.check(index, item, reference) for index, item in enumerate(checks)
        ]
        description = data.get("description") or ""
        return Suite(name=name, checks=built, description=str(description))

    def check(self, index: int, item: Any, reference: Any) -> Check:
        path: KeyPath = ("checks", index)
        label = f"check {index + 1}"
        if not isinstance(item, Mapping) or "check" not in item:
            raise ConfigError(
                f"{self.where(*path)}: {label} must be a mapping with a 'check' "
                f"field naming its kind (one of {', '.join(CHECK_TYPES)}), got "
                f"{item!r}",
                setting="check",
            )

        kind = item["check"]
        cls = CHECK_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise self._unknown(
                f"{label}: unknown check", kind, tuple(CHECK_TYPES), (*path, "check")
            )

        label = f"check {index + 1} ({kind})"
        fields = {key: value for key, value in item.items() if key != "check"}
        allowed = (*cls.FIELDS, *COMMON_FIELDS)
        for key in fields:
            if key not in allowed:
                raise self._unknown(
                    f"{label}: unknown field", key, allowed, (*path, key)
                )
        if cls is DistributionCheck and "reference" not in fields and reference:
            fields["reference"] = reference
        self._require(cls, fields, label, path)

        try:
            return cls(**fields)
        except (ConfigError, TypeError) as error:
            setting = getattr(error, "setting", None)
            at: KeyPath = (
                (*path, setting)
                if isinstance(setting, str) and setting in fields
                else path
            )
            text = str(error).removeprefix(f"{kind}: ")
            raise ConfigError(
                f"{self.where(*at)}: {label}: {text}",
                setting=setting,
                value=getattr(error, "value", None),
            ) from error

    def _require(
        self, cls: type[Check], fields: Mapping[str, Any], label: str, path: KeyPath
    ) -> None:
        required = [
            item.name
            for item in dataclasses.fields(cls)
            if item.name in cls.FIELDS
            and item.default is dataclasses.MISSING
            and item.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in fields]
        if missing:
            hint = ", ".join(f"'{name}: ...'" for name in missing)
            raise ConfigError(
                f"{self.where(*path)}: {label} is missing required field(s) "
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
