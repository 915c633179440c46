"""Run the ``tether`` command in this process and check its output, for the CLI tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether.cli.main import main


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """Run a command with ``--format json``, check that it succeeded, and return its JSON."""
    code = main([*args, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run a command, check that it failed with exit code 2 and one error line, return it."""
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err, captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    return lines[0]
