"""Shared helpers of the pipeline tests: pipeline modules on disk and step events."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tether.pipelines import StepEvent

ModuleWriter = Callable[[str, str], ModuleType]

# A two-step pipeline, ``total(make(n), factor)``, whose step ``total`` calls
# the project helper ``scale``: enough to change a param, an input, a step or
# a helper.
NUMBERS = """
import tether


def scale(value):
    return value * 2


@tether.step
def make(n):
    return list(range(n))


@tether.step
def total(values, factor):
    return scale(sum(values)) * factor


@tether.pipeline
def numbers(n=3, factor=1):
    return total(make(n), factor)
"""


class Recorder:
    """Collects the step events of pipeline calls, except "started" events."""

    def __init__(self) -> None:
        self.events: list[StepEvent] = []

    def __call__(self, event: StepEvent) -> None:
        if event.status != "started":
            self.events.append(event)

    def statuses(self) -> dict[str, str]:
        """Return the last status of each step."""
        return {event.step: event.status for event in self.events}

    def by_step(self, label: str) -> StepEvent:
        """Return the last event of step ``label``."""
        return [event for event in self.events if event.step == label][-1]

    def take(self) -> list[StepEvent]:
        """Return the events so far and start a new list."""
        events, self.events = self.events, []
        return events


def write_module_fixture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleWriter]:
    """Return a function that writes source into a module file and imports it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    # Without cached bytecode, a reload always reads the rewritten file.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    names: list[str] = []

    def write(name: str, source: str) -> ModuleType:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        names.append(name)
        return importlib.import_module(name)

    yield write
    for name in names:
        sys.modules.pop(name, None)
