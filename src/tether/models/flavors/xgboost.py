"""XGBoost models in XGBoost's own UBJSON format, so that loading runs no code.

``save_model`` writes the trees. For the scikit-learn API classes it also
writes their fitted attributes, such as the number of classes and the
objective, which ``load_model`` on a new instance of the same class reads
back. No pickle is involved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tether.errors import ConfigError
from tether.models.flavors.base import Flavor, ModelFiles, defined_in

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.signature import Signature

MODEL_FILE = "model.ubj"
SUPPORTED_CLASSES = (
    "XGBClassifier",
    "XGBRegressor",
    "XGBRFClassifier",
    "XGBRFRegressor",
    "Booster",
)
"""Classes of the ``xgboost`` package that the flavor stores and loads."""


class XGBoostFlavor(Flavor):
    """XGBoost's scikit-learn API classes and raw boosters, in UBJSON."""

    name = "xgboost"
    extra = "xgboost"
    # A version pins whichever of the two distributions is installed: both
    # provide the xgboost module, and xgboost-cpu leaves out the CUDA libraries.
    packages: ClassVar[tuple[str, ...]] = (
        "xgboost",
        "xgboost-cpu",
        "scikit-learn",
        "numpy",
        "pandas",
    )

    def matches(self, model: Any) -> bool:
        return defined_in(model, "xgboost")

    def save(
        self,
        model: Any,
        folder: Path,
        *,
        signature: Signature | None = None,
        example: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        class_name = _supported_class(model)
        model.save_model(folder / MODEL_FILE)
        booster = model if class_name == "Booster" else model.get_booster()
        config = json.loads(booster.save_config())
        meta: dict[str, Any] = {
            "file": MODEL_FILE,
            "format": "ubj",
            "class": class_name,
            "objective": config["learner"]["objective"]["name"],
            "feature_names": booster.feature_names,
        }
        if hasattr(model, "classes_"):
            meta["classes"] = model.classes_.tolist()
        return meta

    def load(
        self, files: ModelFiles, meta: Mapping[str, Any], *, trusted: Sequence[str]
    ) -> Any:
        import numpy as np
        import xgboost

        class_name = meta.get("class")
        if class_name not in SUPPORTED_CLASSES:
            raise ConfigError(
                f"the xgboost flavor cannot load a {class_name!r}; it loads "
                f"{', '.join(SUPPORTED_CLASSES)}",
                setting="class",
                value=class_name,
            )
        model = getattr(xgboost, class_name)()
        model.load_model(bytearray(files.read(meta.get("file", MODEL_FILE))))
        # XGBoost's classifiers take only the labels 0..n-1, and classes_ is
        # derived from the stored number of classes, so this checks that count.
        classes = meta.get("classes")
        if classes is not None and not np.array_equal(model.classes_, classes):
            raise ConfigError(
                f"the loaded {class_name} has classes {model.classes_.tolist()}, "
                f"but the model was registered with {classes}; load it with the "
                "XGBoost version it was registered with",
                setting="classes",
                value=classes,
            )
        return model

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np
        import xgboost

        if isinstance(model, xgboost.Booster):
            return np.asarray(model.predict(xgboost.DMatrix(frame)))
        return np.asarray(model.predict(frame))


def _supported_class(model: Any) -> str:
    """Return the name of ``model``'s class, which must be one the flavor loads."""
    import xgboost

    for name in SUPPORTED_CLASSES:
        if type(model) is getattr(xgboost, name):
            return name
    raise ConfigError(
        f"the xgboost flavor stores {', '.join(SUPPORTED_CLASSES)} from the xgboost "
        f"package, not a {type(model).__module__}.{type(model).__qualname__}; "
        "register it with flavor='python' to store it with cloudpickle",
        setting="model",
        value=type(model).__qualname__,
    )
