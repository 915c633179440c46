"""Time upstream and downstream lineage walks in a store of 100,000 entities.

    .venv/bin/python benchmarks/lineage_walk.py [--entities 100000] [--folder DIR]
        [--store URL]

The store (SQLite in ``DIR/tether``, or the empty store that ``--store``
names) is filled straight through SQL in batches, because creating the entities
through the SDK would only time the SDK. It contains chains of five entities,
each linked by lineage edges as the SDK links them::

    raw dataset version -> prepare run -> prepared dataset version
        -> train run -> model version

with a ``derived`` edge from each raw to its prepared version. The first
:data:`FAN_OUT` prepare runs also read one shared base dataset version.
:data:`DEPLOYMENTS` deployments serve version 1 of the first models, and
:data:`MONITORS` monitors watch those versions and use the base version as
reference, with :data:`WINDOWS` computed windows each.

Each walk resolves its URI and builds the whole tree, once untimed and then
:data:`REPEATS` times. The result has the median and the maximum seconds of
the timed walks, and the number of SQL statements of the untimed walk. It
also has the number of nodes, which the script checks. The function :func:`lineage_walk`
has the signature of the Tether workloads in workloads_tether.py. It prints
nothing, and ``main`` prints its result as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_ENTITIES = 100_000
CHAIN = 5
"""Entities per chain: two dataset versions, two runs, one model version."""
VERSIONS_PER_NAME = 100
"""Versions of each dataset and model name, so names are 1% of the chains."""
FAN_OUT = 100
MIN_CHAINS = FAN_OUT + 2
DEPLOYMENTS = 10
MONITORS = 10
WINDOWS = 30
REPEATS = 3
BATCH = 2_000
EXPERIMENT = "lineage-bench"


def lineage_walk(
    sizes: dict[str, int], folder: Path, store_url: str | None = None
) -> dict[str, float]:
    """Fill a new store with ``sizes["lineage_entities"]`` entities and time the walks.

    The store is SQLite under ``folder``, or the empty store at ``store_url``.
    """
    from tether.store import reset_store

    os.environ["TETHER_HOME"] = str(folder / "tether")
    os.environ.pop("TETHER_ARTIFACTS", None)
    if store_url is None:
        os.environ.pop("TETHER_STORE", None)
    else:
        os.environ["TETHER_STORE"] = store_url
    reset_store()
    chains = max(MIN_CHAINS, sizes.get("lineage_entities", DEFAULT_ENTITIES) // CHAIN)
    started = time.perf_counter()
    ids = fill_store(chains)
    result: dict[str, float] = {
        "entities": float(chains * CHAIN + 1 + DEPLOYMENTS + MONITORS),
        "edges": float(ids["edges"]),
        "build_s": time.perf_counter() - started,
    }
    plain = _plain_chain(chains)
    walks = {
        "downstream_raw": (
            "downstream",
            f"datasets:/raw-{_name(plain)}@{_number(plain)}",
        ),
        "downstream_base": ("downstream", "datasets:/base@1"),
        "downstream_run": ("downstream", f"runs:/{ids['prepare'][plain]}"),
        "downstream_served": ("downstream", f"models:/model-{_name(0)}/{_number(0)}"),
        "upstream_model": (
            "upstream",
            f"models:/model-{_name(plain)}/{_number(plain)}",
        ),
        "upstream_base_model": ("upstream", f"models:/model-{_name(1)}/{_number(1)}"),
    }
    for key, (direction, uri) in walks.items():
        median, maximum, nodes, statements = time_walk(direction, uri)
        result[f"{key}_s"] = median
        result[f"{key}_max_s"] = maximum
        result[f"{key}_nodes"] = float(nodes)
        result[f"{key}_statements"] = float(statements)
    check_counts(result)
    return result


def _plain_chain(chains: int) -> int:
    """Return a late chain that does not read the base, and whose model version
    no deployment or monitor uses."""
    index = chains - 1
    if index % VERSIONS_PER_NAME == 0:
        index -= 1
    return index


def _name(chain: int) -> str:
    return f"{chain // VERSIONS_PER_NAME:05d}"


def _number(chain: int) -> int:
    return chain % VERSIONS_PER_NAME + 1


def time_walk(direction: str, uri: str) -> tuple[float, float, int, int]:
    """Return the median and maximum seconds of a walk, its nodes and SQL statements.

    The number of statements does not depend on the machine or its load,
    so it shows how a walk grows with the store where the seconds vary.
    """
    from sqlalchemy import event

    from tether.lineage.resolve import downstream_of, upstream_of
    from tether.store import get_store

    walk: Callable[[str], Any] = (
        downstream_of if direction == "downstream" else upstream_of
    )
    engine = get_store().engine
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        tree = walk(uri)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        walk(uri)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), max(seconds), _count(tree), statements


def _count(node: Any) -> int:
    return 1 + sum(_count(child) for child in node.children)


def check_counts(result: dict[str, float]) -> None:
    """Raise when a walk did not reach the entities the store was built with."""
    users = 1 + 1 + WINDOWS  # a deployment, a monitor and its windows
    expected = {
        # raw, prepare, prepared, train, model version, and prepared again
        # (shown as repeated) through the derived edge
        "downstream_raw_nodes": 6,
        # The base version, and four nodes per chain that reads it. The first
        # model version adds its users. Then come the monitors that use the
        # base as reference: the first one repeated, the others with windows.
        "downstream_base_nodes": 1
        + FAN_OUT * 4
        + users
        + MONITORS
        + (MONITORS - 1) * WINDOWS,
        "downstream_run_nodes": 4,
        # the version, its deployment, its monitor and the monitor's windows
        "downstream_served_nodes": 1 + users,
        # model, train, prepared, prepare, raw, and raw again through derived
        "upstream_model_nodes": 6,
        "upstream_base_model_nodes": 7,
    }
    for key, count in expected.items():
        if result[key] != count:
            raise SystemExit(
                f"{key} is {result[key]:.0f}, expected {count}: the walk no longer "
                "reaches the entities that fill_store links"
            )


def fill_store(chains: int) -> dict[str, Any]:
    """Insert the chains, the deployments and the monitors; return ids and counts."""
    from tether.store import get_store

    store = get_store()
    experiment_id = store.experiment_id(EXPERIMENT)
    names = -(-chains // VERSIONS_PER_NAME)
    dataset_ids, model_ids = _insert_names(store, names)
    base_id = _insert_base(store)
    prepare_ids: list[str] = []
    edges = 0
    for first in range(0, chains, BATCH):
        rows = _chain_rows(range(first, min(first + BATCH, chains)), experiment_id)
        _insert_chain_rows(store, rows, dataset_ids, model_ids, base_id)
        prepare_ids.extend(rows["prepare"])
        edges += len(rows["edges"])
    _insert_users(store)
    return {"prepare": prepare_ids, "edges": edges}


def _insert_names(store: Any, names: int) -> tuple[dict[str, str], dict[str, str]]:
    from sqlalchemy import insert

    from tether.ids import new_id
    from tether.store import schema as t

    now = datetime.now(UTC)
    datasets = {
        f"{kind}-{index:05d}": new_id()
        for kind in ("raw", "prepared")
        for index in range(names)
    }
    models = {f"model-{index:05d}": new_id() for index in range(names)}
    with store.engine.begin() as conn:
        conn.execute(
            insert(t.datasets),
            [{"id": i, "name": n, "created_at": now} for n, i in datasets.items()],
        )
        conn.execute(
            insert(t.models),
            [
                {
                    "id": i,
                    "name": n,
                    "description": "",
                    "created_at": now,
                    "test_suite": None,
                }
                for n, i in models.items()
            ],
        )
    return datasets, models


def _insert_base(store: Any) -> str:
    from sqlalchemy import insert

    from tether.ids import new_id
    from tether.store import schema as t

    dataset_id, version_id = new_id(), new_id()
    with store.engine.begin() as conn:
        conn.execute(
            insert(t.datasets).values(
                id=dataset_id, name="base", created_at=datetime.now(UTC)
            )
        )
        conn.execute(
            insert(t.dataset_versions).values(
                **_version_row(version_id, dataset_id, 1, "base")
            )
        )
    return version_id


def _chain_rows(indexes: range, experiment_id: str) -> dict[str, list[Any]]:
    """Return the runs, dataset versions, model versions and edges of some chains."""
    from tether.ids import new_id

    rows: dict[str, list[Any]] = {
        "runs": [],
        "versions": [],
        "models": [],
        "edges": [],
        "prepare": [],
    }
    for index in indexes:
        raw, prepare, prepared, train, model = (new_id() for _ in range(CHAIN))
        rows["prepare"].append(prepare)
        rows["runs"] += [
            _run_row(prepare, experiment_id, f"prepare-{index}"),
            _run_row(train, experiment_id, f"train-{index}"),
        ]
        rows["versions"] += [
            ("raw", index, raw, None),
            ("prepared", index, prepared, prepare),
        ]
        rows["models"].append((index, model, train))
        rows["edges"] += [
            ("dataset_version", raw, "run", prepare, "input"),
            ("run", prepare, "dataset_version", prepared, "output"),
            ("dataset_version", raw, "dataset_version", prepared, "derived"),
            ("dataset_version", prepared, "run", train, "input"),
            ("run", train, "model_version", model, "produced"),
        ]
        if index < FAN_OUT:
            rows["edges"].append(("dataset_version", "BASE", "run", prepare, "input"))
    return rows


def _insert_chain_rows(
    store: Any,
    rows: dict[str, list[Any]],
    dataset_ids: dict[str, str],
    model_ids: dict[str, str],
    base_id: str,
) -> None:
    from sqlalchemy import insert

    from tether.store import schema as t

    now = datetime.now(UTC)
    versions = [
        _version_row(
            version_id,
            dataset_ids[f"{kind}-{_name(index)}"],
            _number(index),
            f"{kind}-{index}",
            run_id,
        )
        for kind, index, version_id, run_id in rows["versions"]
    ]
    models = [
        _model_row(model_id, model_ids[f"model-{_name(index)}"], _number(index), run_id)
        for index, model_id, run_id in rows["models"]
    ]
    edges = [
        {
            "src_kind": src_kind,
            "src_id": base_id if src_id == "BASE" else src_id,
            "dst_kind": dst_kind,
            "dst_id": dst_id,
            "relation": relation,
            "created_at": now,
        }
        for src_kind, src_id, dst_kind, dst_id, relation in rows["edges"]
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(t.runs), rows["runs"])
        conn.execute(insert(t.dataset_versions), versions)
        conn.execute(insert(t.model_versions), models)
        conn.execute(insert(t.lineage_edges), edges)


def _run_row(run_id: str, experiment_id: str, name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": run_id,
        "experiment_id": experiment_id,
        "name": name,
        "kind": "run",
        "status": "FINISHED",
        "start_time": now,
        "end_time": now,
        "source": {},
    }


def _version_row(
    version_id: str,
    dataset_id: str,
    number: int,
    content: str,
    run_id: str | None = None,
) -> dict[str, Any]:
    digest = hashlib.sha256(content.encode()).hexdigest()
    return {
        "id": version_id,
        "dataset_id": dataset_id,
        "version": number,
        "digest": digest,
        "object_digest": digest,
        "media_type": "application/vnd.apache.parquet",
        "rows": 100,
        "size": 4_096,
        "schema": [{"name": "x", "type": "number", "dtype": "float64"}],
        "profile": {},
        "source": {"type": "benchmark"},
        "run_id": run_id,
        "created_at": datetime.now(UTC),
    }


def _model_row(model_id: str, name_id: str, number: int, run_id: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "model_id": name_id,
        "version": number,
        "run_id": run_id,
        "flavor": "sklearn",
        "artifact_digest": "0" * 64,
        "signature": None,
        "metrics": {},
        "details": {"training_run_id": run_id},
        "created_at": datetime.now(UTC),
    }


def _insert_users(store: Any) -> None:
    """Add deployments of version 1 of the first models, and monitors of them."""
    from tether.store.alert_ops import MonitorWindow

    start = datetime(2024, 1, 1, tzinfo=UTC)
    for index in range(DEPLOYMENTS):
        name, version = f"model-{_name(index * VERSIONS_PER_NAME)}", 1
        uri = f"models:/{name}/{version}"
        target = {"uri": uri, "requested": uri, "name": name, "version": version}
        routing = {
            "primary": target,
            "canary": None,
            "traffic": 0,
            "sticky_header": None,
            "shadow": None,
        }
        record = store.add_deployment(
            f"deployment-{index}",
            host="127.0.0.1",
            port=9000 + index,
            settings={},
            routing=routing,
            actor="bench",
        )
        store.finish_revision(record.id, 1, status="applied")
    for index in range(MONITORS):
        name = f"monitor-{index}"
        model = f"model-{_name(index * VERSIONS_PER_NAME)}"
        spec = {
            "model": model,
            "reference": "datasets:/base@1",
            "version": 1,
            "every": "day",
        }
        store.save_monitor(name, model, spec)
        store.save_window_results(
            [
                MonitorWindow(
                    name,
                    f"day-{day}",
                    start + timedelta(days=day),
                    start + timedelta(days=day + 1),
                    10,
                    {},
                    start,
                )
                for day in range(WINDOWS)
            ]
        )


def main() -> None:
    """Fill a store in a new or given folder, time the walks and print the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--entities",
        type=int,
        default=DEFAULT_ENTITIES,
        help=f"runs, dataset versions and model versions to create (default {DEFAULT_ENTITIES})",
    )
    parser.add_argument(
        "--folder",
        type=Path,
        help="empty folder for the store (default: a new temporary one)",
    )
    parser.add_argument(
        "--store",
        help="URL of an empty store to fill instead, such as postgresql://...",
    )
    args = parser.parse_args()
    if args.entities < CHAIN * MIN_CHAINS:
        parser.error(
            f"--entities must be {CHAIN * MIN_CHAINS} or more, got {args.entities}"
        )
    sizes = {"lineage_entities": args.entities}
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
        result = lineage_walk(sizes, args.folder, args.store)
    else:
        with tempfile.TemporaryDirectory(prefix="lineage-walk-") as name:
            result = lineage_walk(sizes, Path(name), args.store)
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
