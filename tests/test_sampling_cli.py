"""``tether data sample``: a reservoir sample of a file or a version, registered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tether
from cli_helpers import run_json
from nyc_tables import flights as nyc_flights
from tether.cli.main import main
from tether.data.sampling import read_chunks, reservoir_sample


@pytest.fixture
def flights_csv(tmp_path: Path) -> Path:
    path = tmp_path / "flights.csv"
    nyc_flights[["month", "day", "carrier", "distance"]].to_csv(path, index=False)
    return path


def test_sample_file(
    tether_home: Path, flights_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_json(
        capsys,
        "data",
        "sample",
        str(flights_csv),
        "--k",
        "300",
        "--seed",
        "4",
        "--chunk-rows",
        "60000",
    )
    _, record = reservoir_sample(read_chunks(flights_csv, chunk_rows=1000), 300, seed=4)
    assert summary["uri"] == "datasets:/flights-sample@1"
    assert summary["rows"] == 300
    assert summary["source_rows"] == 336_776
    assert summary["row_digest"] == record.digest
    sample = tether.data.load(summary["uri"])
    assert len(sample) == 300


def test_sample_version_text(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tether.data.register("numbers", pd.DataFrame({"v": range(1000)}))
    code = main(["data", "sample", "datasets:/numbers@1", "--k", "10", "--name", "few"])
    out = capsys.readouterr().out
    assert code == 0
    assert "datasets:/few@1  10 of 1000 rows (seed 0)" in out
    assert "row digest " in out


def test_sample_k_too_large(
    tether_home: Path, flights_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = flights_csv.with_name("small.csv")
    pd.DataFrame({"v": range(5)}).to_csv(path, index=False)
    code = main(["data", "sample", str(path), "--k", "6"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        "error: k=6 is larger than the 5 rows of the source; choose k of at most 5, "
        "or use the whole source"
    ]


def test_sample_missing_file(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["data", "sample", str(tmp_path / "none.csv"), "--k", "6"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "none.csv does not exist" in err[0]


def test_sample_bare_name(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tether.data.register("numbers", pd.DataFrame({"v": range(1000)}))
    summary = run_json(capsys, "data", "sample", "numbers", "--k", "10")
    assert summary["uri"] == "datasets:/numbers-sample@1"
    assert summary["source_rows"] == 1000


def test_sample_unknown_name(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["data", "sample", "nothing-here", "--k", "6"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        "error: nothing-here is neither a file nor a registered dataset; pass a data "
        "file path, a dataset name or datasets:/NAME@VERSION"
    ]
