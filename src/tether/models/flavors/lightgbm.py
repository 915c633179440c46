"""LightGBM models in LightGBM's text model format, so that loading runs no code.

The text file contains the trees, the objective and the categories of pandas
categorical columns, but not the scikit-learn wrapper. A registered
``LGBMClassifier`` or ``LGBMRegressor`` therefore loads as a
:class:`LightGBMClassifier` or :class:`LightGBMRegressor`: a booster with
the class labels from the version's metadata, whose ``predict`` and
``predict_proba`` compute what the original's did. A raw ``Booster`` loads
as a ``Booster``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tether.errors import ConfigError
from tether.models.flavors.base import Flavor, ModelFiles, defined_in

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.signature import Signature

MODEL_FILE = "model.txt"
SUPPORTED_CLASSES = ("LGBMClassifier", "LGBMRegressor", "Booster")
"""Classes of the ``lightgbm`` package that the flavor stores."""


class LightGBMRegressor:
    """An ``LGBMRegressor`` loaded from LightGBM's model file.

    Attributes:
        booster: The ``lightgbm.Booster`` with the trees.
    """

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the predicted values, as ``LGBMRegressor.predict`` does."""
        import numpy as np

        return np.asarray(self.booster.predict(frame))


class LightGBMClassifier(LightGBMRegressor):
    """An ``LGBMClassifier`` loaded from LightGBM's model file.

    Attributes:
        booster: The ``lightgbm.Booster`` with the trees.
        classes_: The class labels, in the order of the probability columns.
    """

    def __init__(self, booster: Any, classes: Sequence[Any]) -> None:
        import numpy as np

        super().__init__(booster)
        self.classes_ = np.asarray(classes)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the most probable class label of each row."""
        import numpy as np

        indexes = np.argmax(self.predict_proba(frame), axis=1)
        labels: np.ndarray = self.classes_[indexes]
        return labels

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Return one probability column per class, as ``LGBMClassifier`` does."""
        import numpy as np

        scores = np.asarray(self.booster.predict(frame))
        if scores.ndim == 1:
            # A binary booster returns the probability of the second class only.
            return np.vstack((1.0 - scores, scores)).transpose()
        return scores


class LightGBMFlavor(Flavor):
    """LightGBM's scikit-learn classifier and regressor, and raw boosters."""

    name = "lightgbm"
    extra = "lightgbm"
    packages: ClassVar[tuple[str, ...]] = ("lightgbm", "numpy", "scipy", "pandas")

    def matches(self, model: Any) -> bool:
        return defined_in(model, "lightgbm")

    def save(
        self,
        model: Any,
        folder: Path,
        *,
        signature: Signature | None = None,
        example: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        class_name = _supported_class(model)
        booster = model if class_name == "Booster" else model.booster_
        objective = booster.params.get("objective")
        if class_name != "Booster" and callable(model.objective_):
            raise ConfigError(
                f"the {class_name} uses a custom objective function, which "
                "LightGBM's model file does not store; register it with "
                "flavor='python' to store it with cloudpickle",
                setting="model",
                value=class_name,
            )
        booster.save_model(folder / MODEL_FILE)
        meta: dict[str, Any] = {
            "file": MODEL_FILE,
            "format": "text",
            "class": class_name,
            "objective": objective,
            "feature_names": booster.feature_name(),
        }
        if class_name == "LGBMClassifier":
            meta["classes"] = model.classes_.tolist()
        return meta

    def load(
        self, files: ModelFiles, meta: Mapping[str, Any], *, trusted: Sequence[str]
    ) -> Any:
        import lightgbm

        class_name = meta.get("class")
        if class_name not in SUPPORTED_CLASSES:
            raise ConfigError(
                f"the lightgbm flavor cannot load a {class_name!r}; it loads "
                f"{', '.join(SUPPORTED_CLASSES)}",
                setting="class",
                value=class_name,
            )
        text = files.read(meta.get("file", MODEL_FILE)).decode("utf-8")
        booster = lightgbm.Booster(model_str=text)
        if class_name == "LGBMClassifier":
            return LightGBMClassifier(booster, meta["classes"])
        if class_name == "LGBMRegressor":
            return LightGBMRegressor(booster)
        return booster

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(model.predict(_categorical(frame)))

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        import numpy as np

        if not hasattr(model, "predict_proba"):
            return None
        return np.asarray(model.predict_proba(_categorical(frame)))


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn string columns into the pandas categorical columns LightGBM takes.

    A column that was categorical in training reaches the flavor as strings
    when its signature type is ``string``. LightGBM maps the values to the
    categories it saw in training, which its model file stores, so the
    categories given here do not matter.
    """
    import pandas as pd

    strings = [
        label
        for label in frame.columns
        if isinstance(frame[label].dtype, pd.StringDtype)
    ]
    if not strings:
        return frame
    return frame.assign(
        **{str(label): frame[label].astype("category") for label in strings}
    )


def _supported_class(model: Any) -> str:
    """Return the name of ``model``'s class, which must be one the flavor stores."""
    import lightgbm

    for name in SUPPORTED_CLASSES:
        if type(model) is getattr(lightgbm, name):
            return name
    raise ConfigError(
        f"the lightgbm flavor stores {', '.join(SUPPORTED_CLASSES)} from the "
        f"lightgbm package, not a {type(model).__module__}.{type(model).__qualname__}; "
        "register it with flavor='python' to store it with cloudpickle",
        setting="model",
        value=type(model).__qualname__,
    )
