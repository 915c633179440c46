"""Read an MLflow model folder (``MLmodel``) into a model Tether can register.

MLflow describes a model folder in its ``MLmodel`` YAML file, with one entry
per flavor. Tether registers two of them with its own flavors:

- ``sklearn`` saved as skops (MLflow's default from 3.x outside Databricks):
  loaded by Tether's sklearn flavor loader, which trusts only scikit-learn's,
  NumPy's, SciPy's and builtin types. The ``skops_trusted_types`` list in
  ``MLmodel`` is ignored, because it comes from the same file as the model.
- ``sklearn`` saved as pickle or cloudpickle: unpickling runs code from the
  file, so it is done only with ``load_pickles=True`` (``--load-pickles``).
- ``xgboost``: loaded with ``load_model`` on a new instance of one of the
  XGBoost classes Tether's xgboost flavor supports; no pickle is involved.

Any other folder is reported as unsupported with the reason, and the import
keeps its files as a run artifact instead.
"""

from __future__ import annotations

import importlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tether.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

MLMODEL_FILE = "MLmodel"
SKOPS_FORMAT = "skops"
PICKLE_FORMATS = ("pickle", "cloudpickle")


@dataclass(frozen=True)
class ModelPlan:
    """The Tether flavor chosen for an MLflow model folder, or the reason there is none.

    Attributes:
        flavor: The Tether flavor to register it with, or None when it cannot be.
        problem: Why it cannot be registered; "" when it can.
        config: The MLflow flavor's entry of ``MLmodel``.
        example_info: ``saved_input_example_info`` of ``MLmodel``, if any.
    """

    folder: Path
    flavor: str | None
    problem: str = ""
    config: dict[str, Any] | None = None
    example_info: dict[str, Any] | None = None


def plan_model(folder: Path, *, load_pickles: bool) -> ModelPlan:
    """Read ``MLmodel`` and choose the Tether flavor; load nothing yet."""
    try:
        document = yaml.safe_load((folder / MLMODEL_FILE).read_text(encoding="utf-8"))
    except OSError:
        return ModelPlan(folder, None, f"{folder} has no readable {MLMODEL_FILE} file")
    except yaml.YAMLError as exc:
        return ModelPlan(
            folder, None, f"{folder / MLMODEL_FILE} is invalid YAML: {exc}"
        )
    flavors = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavors, dict):
        return ModelPlan(folder, None, f"{folder / MLMODEL_FILE} lists no flavors")
    example_info = document.get("saved_input_example_info")
    example = example_info if isinstance(example_info, dict) else None
    if isinstance(flavors.get("sklearn"), dict):
        return _sklearn_plan(folder, flavors["sklearn"], example, load_pickles)
    if isinstance(flavors.get("xgboost"), dict):
        return ModelPlan(folder, "xgboost", "", flavors["xgboost"], example)
    names = ", ".join(sorted(str(name) for name in flavors)) or "none"
    return ModelPlan(
        folder,
        None,
        f"Tether registers MLflow's sklearn and xgboost flavors, and this model has "
        f"{names}",
    )


def _sklearn_plan(
    folder: Path,
    config: dict[str, Any],
    example: dict[str, Any] | None,
    load_pickles: bool,
) -> ModelPlan:
    serialization = str(config.get("serialization_format") or "cloudpickle")
    if serialization == SKOPS_FORMAT:
        return ModelPlan(folder, "sklearn", "", config, example)
    if serialization not in PICKLE_FORMATS:
        return ModelPlan(
            folder, None, f"unknown sklearn serialization format {serialization!r}"
        )
    if not load_pickles:
        return ModelPlan(
            folder,
            None,
            f"the scikit-learn model is a {serialization} file, and loading it runs "
            "code from the file; review its source and import again with "
            "--load-pickles to register it",
        )
    return ModelPlan(folder, "sklearn", "", config, example)


def load_model(plan: ModelPlan) -> Any:
    """Return the model object of a plan whose flavor is set.

    Raises:
        DataError: the files cannot be loaded; the message gives the reason.
        UntrustedModelError: a skops file contains types that are not trusted.
    """
    config = plan.config or {}
    if plan.flavor == "sklearn":
        return _load_sklearn(plan.folder, config)
    if plan.flavor == "xgboost":
        return _load_xgboost(plan.folder, config)
    raise DataError(
        f"{plan.folder} cannot be loaded: {plan.problem}", source=str(plan.folder)
    )


def _load_sklearn(folder: Path, config: dict[str, Any]) -> Any:
    from tether.models.flavors.sklearn import is_sklearn_model, loads_estimator

    path = _inside(folder, str(config.get("pickled_model") or "model.pkl"))
    data = path.read_bytes()
    if config.get("serialization_format") == SKOPS_FORMAT:
        return loads_estimator(data)
    # Only reached with --load-pickles: the user reviewed where the file came from.
    model = pickle.loads(data)
    if not is_sklearn_model(model):
        raise DataError(
            f"{path} contains a {type(model).__module__}.{type(model).__qualname__}, "
            "not a scikit-learn model",
            source=str(path),
        )
    return model


def _load_xgboost(folder: Path, config: dict[str, Any]) -> Any:
    from tether.models.flavors.xgboost import SUPPORTED_CLASSES

    class_path = str(config.get("model_class") or "xgboost.core.Booster")
    module, _, class_name = class_path.rpartition(".")
    if not module.startswith("xgboost") or class_name not in SUPPORTED_CLASSES:
        raise DataError(
            f"the XGBoost model class {class_path!r} is not one Tether's xgboost "
            f"flavor supports ({', '.join(SUPPORTED_CLASSES)})",
            source=str(folder),
        )
    try:
        xgboost = importlib.import_module("xgboost")
    except ImportError as exc:
        raise DataError(
            "the model is an XGBoost model and xgboost is not installed; "
            "pip install 'tether-mlops[xgboost]'",
            source=str(folder),
        ) from exc
    model = getattr(xgboost, class_name)()
    model.load_model(str(_inside(folder, str(config.get("data") or "model.xgb"))))
    return model


def read_input_example(plan: ModelPlan) -> pd.DataFrame | None:
    """Return the model's input example as a DataFrame, or None.

    Only examples that MLflow saved from a DataFrame (``type: dataframe``,
    orient ``split`` or ``records``) are read, because an array or a JSON
    object example has no column names to infer a signature from.
    """
    import pandas as pd

    info = plan.example_info or {}
    if info.get("type") != "dataframe":
        return None
    path = _inside(plan.folder, str(info.get("artifact_path") or "input_example.json"))
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("pandas_orient", "split") == "records" and isinstance(document, list):
        return pd.DataFrame.from_records(document)
    if isinstance(document, dict) and "columns" in document and "data" in document:
        return pd.DataFrame(document["data"], columns=document["columns"])
    return None


def _inside(folder: Path, name: str) -> Path:
    """Return ``folder / name``, rejecting a name that leaves the folder."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise DataError(
            f"{folder / MLMODEL_FILE} names the file {name!r}, which is outside the "
            "model folder",
            source=str(folder),
        )
    return path
