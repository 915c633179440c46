"""``tether data acquire``: output of real acquisitions and one-line errors."""

from __future__ import annotations

import json
import socket
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine

from tether.artifacts import digest_file
from tether.cli.main import main

PENGUINS = Path(
    str(
        metadata.distribution("palmerpenguins").locate_file(
            "palmerpenguins/data/penguins.csv"
        )
    )
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["data", "acquire", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_text_output(tether_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "penguins", str(PENGUINS))
    size = PENGUINS.stat().st_size
    assert code == 0, err
    assert out.strip() == (
        f"datasets:/penguins@1  new  344 rows  1 file  {size} bytes  "
        f"digest {digest_file(PENGUINS)}"
    )
    code, out, err = run(capsys, "penguins", str(PENGUINS))
    assert code == 0, err
    assert out.startswith("datasets:/penguins@1  unchanged  344 rows")


def test_json_output(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "fotos de pingüinos"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG" + b"a" * 10)
    (folder / "b.png").write_bytes(b"\x89PNG" + b"b" * 20)
    code, out, err = run(capsys, "photos", str(folder), "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["uri"] == "datasets:/photos@1"
    assert summary["new"] is True
    assert summary["rows"] is None
    assert summary["files"] == 2
    assert summary["size"] == 14 + 24
    assert summary["media_type"] == "application/vnd.tether.manifest+json"
    assert summary["source"]["path"] == str(folder)
    assert [f["name"] for f in summary["source"]["files"]] == ["a.png", "b.png"]


def test_source_format_option(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "penguins.data"
    path.write_bytes(PENGUINS.read_bytes())
    code, out, err = run(
        capsys, "penguins", str(path), "--source-format", "csv", "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["rows"] == 344


def test_query_option(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'penguins.db'}"
    engine = create_engine(url)
    pd.read_csv(PENGUINS).to_sql("penguins", engine, index=False)
    engine.dispose()
    query = (
        "SELECT species, count(*) AS n FROM penguins GROUP BY species ORDER BY species"
    )
    code, out, err = run(capsys, "counts", url, "--query", query, "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"] == 3
    assert summary["files"] is None
    assert summary["source"]["query"] == query


def test_missing_file_one_line(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.csv"
    assert_one_line_error(
        *run(capsys, "penguins", str(path)), f"{path} does not exist", "check the path"
    )


def test_unreachable_url_one_line(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/penguins.csv"
    assert_one_line_error(
        *run(capsys, "penguins", url),
        f"cannot connect to {url}",
        "check that the server is running",
    )


def test_broken_csv_one_line(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text('a,b\n1,"open\n2,3\n')
    assert_one_line_error(
        *run(capsys, "broken", str(path)), f"cannot parse {path} as text/csv"
    )


def test_invalid_source_format(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(
        *run(capsys, "penguins", str(PENGUINS), "--source-format", "xlsx"),
        "invalid format 'xlsx'",
        "csv, parquet, json, jsonl, files",
    )


def test_query_with_source_format(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(
        *run(
            capsys,
            "q",
            "sqlite://",
            "--query",
            "SELECT 1 AS one",
            "--source-format",
            "csv",
        ),
        "--source-format does not apply to --query",
    )


def test_timeout_option_applies(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The kernel accepts the connection into the backlog, and nothing responds.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/penguins.csv"
        assert_one_line_error(
            *run(capsys, "penguins", url, "--timeout", "0.2"),
            f"GET {url} timed out after 0.2 s",
            "--timeout in tether data acquire",
        )


def test_timeout_rejected_for_query(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code, _out, err = run(capsys, "x", url, "--query", "SELECT 1", "--timeout", "5")
    assert code == 2
    assert "--timeout applies to HTTP(S) sources" in err


def test_timeout_rejected_for_local_file(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, "penguins", str(PENGUINS), "--timeout", "5")
    assert code == 2
    assert "timeout" in err
