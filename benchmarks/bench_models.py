"""The model_load workload, shared by Tether's and MLflow's workers.

Each worker trains the same seeded random forest, registers it in its tool's
store, then times new processes that load it by its registry URI and predict
(model_load_tether.py, model_load_mlflow.py). The module imports only the
standard library at import time, because the runner imports it to render the
page. Its functions import pandas and scikit-learn, which both tools'
virtual environments have: the full ``mlflow`` package depends on
scikit-learn and skops.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench_common as common
import bench_pipelines as pipelines

if TYPE_CHECKING:
    import pandas as pd

MODEL_NAME = "forest"
MODEL_URI = f"models:/{MODEL_NAME}/1"
ONNX_MODEL_URI = f"models:/{MODEL_NAME}/2"
"""Tether's second version of the forest, registered with ``onnx=True``."""
FEATURES = 20
INFORMATIVE_FEATURES = 10
# Rows that each new process predicts on. They follow the training rows in
# the generated data, so the model has not seen them.
PREDICT_ROWS = 100
EXAMPLE_ROWS = 5
# Timed process starts per worker, after one untimed start.
LOAD_SAMPLES = 3
# Packages whose versions decide what the load calls do, kept in the raw results.
MODEL_PACKAGES = ("scikit-learn", "skops", "numpy", "pandas")


def make_data(sizes: dict[str, int]) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """Return the seeded training frame, its labels and the rows to predict on.

    ``make_classification`` draws ``model_rows`` training rows and
    :data:`PREDICT_ROWS` more of :data:`FEATURES` float columns, the same
    for both tools at the same scikit-learn version.
    """
    import pandas as pd
    from sklearn.datasets import make_classification

    rows = sizes["model_rows"]
    features, labels = make_classification(
        n_samples=rows + PREDICT_ROWS,
        n_features=FEATURES,
        n_informative=INFORMATIVE_FEATURES,
        random_state=common.SEED,
    )
    columns = [f"f{index:02d}" for index in range(FEATURES)]
    frame = pd.DataFrame(features, columns=columns)
    return frame.iloc[:rows], labels[:rows], frame.iloc[rows:].reset_index(drop=True)


def train_forest(sizes: dict[str, int], frame: pd.DataFrame, labels: Any) -> Any:
    """Return a seeded ``RandomForestClassifier`` of ``model_trees`` trees fitted on ``frame``."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(
        n_estimators=sizes["model_trees"], random_state=common.SEED
    )
    return model.fit(frame, labels)


def input_example(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the input example that both tools register with the model."""
    return frame.head(EXAMPLE_ROWS)


def write_rows(rows: pd.DataFrame, path: Path) -> None:
    """Write ``rows`` as JSON columns and data, which keeps every float exactly."""
    payload = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
    path.write_text(json.dumps(payload))


def read_rows(path: Path) -> pd.DataFrame:
    """Read the rows that :func:`write_rows` wrote back into a float64 DataFrame."""
    import pandas as pd

    payload = json.loads(path.read_text())
    return pd.DataFrame(payload["data"], columns=payload["columns"], dtype="float64")


def package_versions() -> list[str]:
    """Return ``name==version`` for each of :data:`MODEL_PACKAGES` in this environment."""
    return [f"{name}=={metadata.version(name)}" for name in MODEL_PACKAGES]


def parse_probe_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line of a model_load script."""
    parser = argparse.ArgumentParser(
        description=f"Load {MODEL_URI}, predict on the given rows and write JSON."
    )
    parser.add_argument(
        "--rows", type=Path, required=True, help="JSON file of the rows to predict on"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="JSON file to write the results to"
    )
    return parser.parse_args(argv)


def run_probe(
    load: Callable[[str], Any],
    argv: Sequence[str] | None = None,
    uri: str = MODEL_URI,
) -> None:
    """Load the model with ``load(uri)``, predict on the rows and write JSON.

    Only the ``load`` call is timed here. The rows are read after it, so that
    reading them imports nothing the load call would otherwise import.
    The JSON contains ``load_s`` and the predictions as a list.
    """
    args = parse_probe_args(argv)
    start = time.perf_counter()
    model = load(uri)
    load_s = time.perf_counter() - start
    predictions = model.predict(read_rows(args.rows))
    result = {"load_s": load_s, "predictions": predictions.tolist()}
    args.out.write_text(json.dumps(result))


def check_predictions(
    found: Sequence[Any], expected: Sequence[Any], label: str
) -> None:
    """Raise :class:`bench_common.MismatchError` unless ``found`` equals ``expected``."""
    common.check(
        len(found) == len(expected),
        f"{label}: {len(found)} predictions, expected {len(expected)}",
    )
    differing = [
        index
        for index, (value, wanted) in enumerate(zip(found, expected, strict=True))
        if value != wanted
    ]
    if differing:
        first = differing[0]
        raise common.MismatchError(
            f"{label}: {len(differing)} of {len(expected)} predictions differ from "
            f"the trained model's, the first at row {first}: {found[first]!r} "
            f"instead of {expected[first]!r}"
        )


def run_load_script(
    script: Path, rows: Path, folder: Path
) -> tuple[float, dict[str, Any]]:
    """Run a model_load script in a new process in ``folder``.

    Returns:
        The wall time of the process, from its start to its exit, and the
        JSON that :func:`run_probe` wrote.
    """
    out = folder / "load-result.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(script), f"--rows={rows}", f"--out={out}"]
    seconds = pipelines.run_command(command, folder)
    probe: dict[str, Any] = json.loads(out.read_text())
    return seconds, probe


def time_loads(
    script: Path, model: Any, rows: pd.DataFrame, folder: Path
) -> dict[str, Any]:
    """Time new processes that load the registered model and predict on ``rows``.

    The script runs once untimed, so that every timed start reads cached
    files, then :data:`LOAD_SAMPLES` times. Every run's predictions must
    equal those of ``model``, the estimator that was registered.

    Returns:
        The median wall time of a process (``process_s``), the median time
        of the load call inside it (``load_s``), and the versions of
        :data:`MODEL_PACKAGES` (``packages``), which the raw results keep.
    """
    rows_path = folder / "rows.json"
    write_rows(rows, rows_path)
    expected = model.predict(rows).tolist()
    _, probe = run_load_script(script, rows_path, folder)
    check_predictions(probe["predictions"], expected, "the untimed load")
    process_seconds, load_seconds = [], []
    for index in range(LOAD_SAMPLES):
        seconds, probe = run_load_script(script, rows_path, folder)
        check_predictions(probe["predictions"], expected, f"timed load {index + 1}")
        process_seconds.append(seconds)
        load_seconds.append(float(probe["load_s"]))
    return {
        "process_s": common.median(process_seconds),
        "load_s": common.median(load_seconds),
        "packages": package_versions(),
    }
