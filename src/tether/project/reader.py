"""Typed reads of parsed YAML that record a problem at the exact key or value.

Each read returns the value, or None after recording a problem, so the
loader goes on and reports every problem of the file in one pass.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from tether.artifacts.materializers import is_json
from tether.errors import ConfigError
from tether.project.marks import Marks, dotted
from tether.project.problems import Problem
from tether.uris import NAME_PATTERN
from tether.yaml_lines import KeyPath

T = TypeVar("T")

_MISSING = object()


class Reader:
    """Reads values from parsed YAML and collects the problems it finds."""

    def __init__(self, marks: Marks) -> None:
        self.marks = marks
        self.problems: list[Problem] = list(marks.problems)

    def report(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        """Record a problem at the value (or the key) of ``path``."""
        line, column = self.marks.at_key(path) if at_key else self.marks.at_value(path)
        key = dotted(path)
        text = f"{key}: {message}" if key else message
        self.problems.append(Problem(self.marks.file, line, column, key, text))

    def mapping(
        self,
        value: Any,
        path: KeyPath,
        allowed: tuple[str, ...],
        *,
        required: tuple[str, ...] = (),
        example: str = "",
    ) -> dict[str, Any] | None:
        """Return ``value`` when it is a mapping whose keys are all ``allowed``.

        Unknown keys get a "did you mean" hint; each missing required key is
        a problem at the mapping.
        """
        if not isinstance(value, Mapping):
            hint = f", such as {example}" if example else ""
            self.report(path, f"expected a mapping of keys{hint}, got {_shown(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.unknown((*path, key), key, allowed, "key")
        for key in required:
            if key not in value:
                self.report(path, f"missing the key {key!r}; add '{key}: ...'")
        return {str(k): v for k, v in value.items()}

    def unknown(
        self, path: KeyPath, value: Any, known: tuple[str, ...], noun: str
    ) -> None:
        """Record an unknown key or choice, with the closest known one."""
        self.report(
            path,
            f"unknown {noun} {value!r}; {suggest(value, known)}use one of: "
            f"{', '.join(known)}",
            at_key=noun == "key",
        )

    def entries(
        self, data: Mapping[str, Any], section: str, example: str
    ) -> dict[str, Any]:
        """Return a section's entries by name; a section maps names to mappings."""
        value = data.get(section)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.report(
                (section,),
                f"expected a mapping of names to entries, such as {example}, "
                f"got {_shown(value)}",
            )
            return {}
        found: dict[str, Any] = {}
        for name, entry in value.items():
            if self.name((section, name), name):
                found[str(name)] = entry
        return found

    def name(self, path: KeyPath, value: Any) -> bool:
        """Return whether ``value`` is a valid name; record a problem if not."""
        if isinstance(value, str) and re.fullmatch(NAME_PATTERN, value):
            return True
        self.report(
            path,
            f"invalid name {value!r}; use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
            at_key=True,
        )
        return False

    def text(
        self,
        entry: Mapping[str, Any],
        path: KeyPath,
        key: str,
        *,
        default: Any = None,
        choices: tuple[str, ...] = (),
        hint: str = "",
    ) -> Any:
        """Return the text at ``key``, or ``default`` when it is absent or invalid."""
        value = entry.get(key, _MISSING)
        if value is _MISSING or value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            fix = f"; {hint}" if hint else ""
            self.report((*path, key), f"expected text, got {_shown(value)}{fix}")
            return default
        if choices and value not in choices:
            self.unknown((*path, key), value, choices, "value")
            return default
        return value

    def integer(
        self,
        entry: Mapping[str, Any],
        path: KeyPath,
        key: str,
        *,
        default: Any = None,
        low: int | None = None,
        high: int | None = None,
        unit: str = "",
    ) -> Any:
        """Return the whole number at ``key`` within ``low`` and ``high``."""
        value = entry.get(key, _MISSING)
        if value is _MISSING or value is None:
            return default
        valid = isinstance(value, int) and not isinstance(value, bool)
        if valid and (low is None or value >= low) and (high is None or value <= high):
            return value
        self.report((*path, key), _range_message(value, low, high, "whole ", unit))
        return default

    def number(
        self,
        entry: Mapping[str, Any],
        path: KeyPath,
        key: str,
        *,
        default: Any = None,
        low: float | None = None,
        unit: str = "",
    ) -> Any:
        """Return the finite number at ``key``, above ``low`` when it is given."""
        value = entry.get(key, _MISSING)
        if value is _MISSING or value is None:
            return default
        valid = isinstance(value, int | float) and not isinstance(value, bool)
        if valid and math.isfinite(value) and (low is None or value > low):
            return float(value)
        self.report((*path, key), _range_message(value, low, None, "", unit))
        return default

    def boolean(
        self, entry: Mapping[str, Any], path: KeyPath, key: str, *, default: bool
    ) -> bool:
        """Return the boolean at ``key``."""
        value = entry.get(key, _MISSING)
        if value is _MISSING or value is None:
            return default
        if isinstance(value, bool):
            return value
        self.report((*path, key), f"expected true or false, got {_shown(value)}")
        return default

    def strings(
        self, entry: Mapping[str, Any], path: KeyPath, key: str
    ) -> tuple[str, ...]:
        """Return the list of texts at ``key``; a single text counts as a list of one."""
        value = entry.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.report((*path, key), f"expected a list of texts, got {_shown(value)}")
        return ()

    def params(
        self, entry: Mapping[str, Any], path: KeyPath, key: str = "params"
    ) -> dict[str, Any]:
        """Return the mapping of JSON-compatible arguments at ``key``."""
        value = entry.get(key)
        if value is None:
            return {}
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            if is_json(dict(value)):
                return dict(value)
            self.report(
                (*path, key),
                "values must be JSON-compatible (text, numbers, booleans, lists, "
                "mappings); write dates and times as quoted text",
            )
            return {}
        self.report(
            (*path, key),
            f"expected a mapping of argument names to values, got {_shown(value)}",
        )
        return {}

    def build(
        self,
        path: KeyPath,
        make: Callable[[], T],
        keys: Mapping[str, str] | None = None,
    ) -> T | None:
        """Call ``make`` and turn a ConfigError into a problem at the key it names.

        The domain classes check their own values and name the setting at
        fault. ``keys`` maps a setting to its key in the file where the two differ.
        """
        try:
            return make()
        except ConfigError as error:
            setting = str(error.setting or "")
            key = (keys or {}).get(setting, setting.lstrip("-").replace("-", "_"))
            where = (*path, key) if key and (*path, key) in self.marks.keys else path
            self.report(where, str(error))
            return None


def suggest(value: Any, known: tuple[str, ...]) -> str:
    """Return ``"did you mean 'X'? "`` for the known name closest to ``value``, or ""."""
    text = str(value)
    close = difflib.get_close_matches(text, known, n=1, cutoff=0.6)
    if not close:
        # A prefix ('prod' for 'production') is as likely a slip as a typo.
        close = [name for name in known if text and name.startswith(text)][:1]
    return f"did you mean {close[0]!r}? " if close else ""


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _range_message(
    value: Any, low: float | None, high: float | None, kind: str, unit: str
) -> str:
    units = f" {unit}" if unit else ""
    if low is not None and high is not None:
        wanted = f"a {kind}number from {low:g} to {high:g}{units}"
    elif low is not None and kind:
        wanted = f"a {kind}number of {low:g} or more{units}"
    elif low is not None:
        wanted = f"a number above {low:g}{units}"
    else:
        wanted = f"a {kind}number{units}"
    return f"invalid value {_shown(value)}; give {wanted}"
