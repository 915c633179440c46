"""Reports and exports written through one temporary file and a rename."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.errors import ConfigError
from tether.output_files import write_text


def test_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b c" / "report.json"
    assert write_text(target, "{}\n") == target
    assert target.read_text(encoding="utf-8") == "{}\n"


def test_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    write_text(target, "névé ✓")
    assert target.read_text(encoding="utf-8") == "névé ✓"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_folder_in_the_way_is_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(
        ConfigError, match=r"cannot write .*blocker/out\.json"
    ) as caught:
        write_text(blocker / "out.json", "{}")
    assert caught.value.value == str(blocker / "out.json")
    assert blocker.read_text() == "a file, not a folder"


def test_target_is_folder_keeps_folder(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    (folder / "inner").mkdir(parents=True)
    with pytest.raises(ConfigError, match="cannot write"):
        write_text(folder, "{}")
    assert (folder / "inner").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]
