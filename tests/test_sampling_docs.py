"""The Python examples of docs/data-sampling.md run and print what the page shows."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[1] / "docs" / "data-sampling.md"
# A Python block, optionally followed by the text block that shows its output.
EXAMPLE = re.compile(r"```python\n(.*?)```(?:\s*```text\n(.*?)```)?", re.S)


def test_examples_print_documented_output(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    examples = EXAMPLE.findall(PAGE.read_text())
    assert len(examples) == 11
    for number, (code, expected) in enumerate(examples):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(code, f"{PAGE.name} example {number}", "exec"), namespace)
        if expected:
            assert output.getvalue() == expected, f"example {number}"
