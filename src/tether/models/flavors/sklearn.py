"""scikit-learn models stored with skops, so that loading runs no code.

skops rejects any type that is not in its list of trusted types. Types from
scikit-learn, NumPy and SciPy are trusted out of the box (they include the tree
structures inside gradient boosting and random forests), and so are builtin
classes such as ``range``. Builtin functions such as ``exec`` and ``eval``
are not, because a model that contains one can run code when it predicts. Any
other type must be listed by the caller, and the error names each one.

Trees and forests are scored through ``sklearn_forests``, which gives the
estimator's own outputs without its per-tree overhead.

With the option ``onnx=True`` (``register_model(..., onnx=True)``) the flavor
also stores ``model.onnx``, converted by skl2onnx and checked against
scikit-learn on the input example (see ``tether.models.flavors.onnx``).
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tether.errors import ConfigError, UntrustedModelError
from tether.models.flavors.base import Flavor, ModelFiles, defined_in, installed_pins
from tether.models.flavors.skops_import import import_skops_io
from tether.models.flavors.tree_checks import check_trees

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.flavors.sklearn_forests import ForestScorer
    from tether.models.signature import Signature

MODEL_FILE = "model.skops"

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "collections.")
# skops lists the function a partial wraps as its own untrusted name, which the
# prefixes above must also allow, so trusting the wrapper adds no new code.
TRUSTED_NAMES = frozenset({"functools.partial"})


def dumps_estimator(estimator: Any) -> bytes:
    """Serialize a scikit-learn estimator or pipeline with skops."""
    sio = import_skops_io()
    data: bytes = sio.dumps(estimator)
    return data


def loads_estimator(data: bytes, *, trusted: Sequence[str] = ()) -> Any:
    """Load an estimator, trusting scikit-learn's own types and ``trusted``.

    The node arrays of every tree inside are checked before it is returned
    (see ``tree_checks``), because trusting scikit-learn's tree types would
    otherwise let a crafted file make ``predict`` read out of bounds.
    """
    sio = import_skops_io()
    untrusted = sio.get_untrusted_types(data=data)
    rejected = [name for name in untrusted if not _is_trusted(name, trusted)]
    if rejected:
        raise UntrustedModelError(
            f"the model contains types that are not trusted: {', '.join(rejected)}; "
            "review them and pass trusted=[...] with these names to load it",
            untrusted=rejected,
        )
    estimator = sio.loads(data, trusted=list(untrusted))
    check_trees(estimator)
    return estimator


def _is_trusted(name: str, trusted: Sequence[str]) -> bool:
    if name.startswith(TRUSTED_PREFIXES) or name in TRUSTED_NAMES or name in trusted:
        return True
    module, _, attribute = name.partition(".")
    return module == "builtins" and isinstance(getattr(builtins, attribute, None), type)


def is_sklearn_model(value: Any) -> bool:
    """Return whether ``value`` is a scikit-learn estimator or pipeline."""
    return defined_in(value, "sklearn")


class OnnxConversionWarning(UserWarning):
    """skl2onnx could not convert a model, so its version has no ONNX file."""


class SklearnFlavor(Flavor):
    """scikit-learn estimators and pipelines, stored with skops, optionally ONNX too."""

    name = "sklearn"
    packages: ClassVar[tuple[str, ...]] = (
        "scikit-learn",
        "skops",
        "numpy",
        "scipy",
        "pandas",
    )
    option_names: ClassVar[tuple[str, ...]] = ("onnx",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._stored_onnx = False

    def matches(self, model: Any) -> bool:
        return is_sklearn_model(model)

    def save(
        self,
        model: Any,
        folder: Path,
        *,
        signature: Signature | None = None,
        example: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        (folder / MODEL_FILE).write_bytes(dumps_estimator(model))
        meta: dict[str, Any] = {
            "file": MODEL_FILE,
            "estimator": type(model).__qualname__,
        }
        if self.options.get("onnx"):
            meta.update(self._save_onnx(model, folder, signature, example))
        return meta

    def _save_onnx(
        self,
        model: Any,
        folder: Path,
        signature: Signature | None,
        example: pd.DataFrame | None,
    ) -> dict[str, Any]:
        """Store ``model.onnx``; return its meta, or why it was not stored."""
        from tether.models.flavors.onnx import (
            ONNX_FILE,
            OnnxConversionError,
            check_onnx_model,
            convert_to_onnx,
        )

        if signature is None or example is None:
            raise ConfigError(
                "onnx=True needs an input example, to check the ONNX model's "
                "predictions against scikit-learn's; pass input_example=...",
                setting="onnx",
                value=True,
            )
        try:
            data = convert_to_onnx(model, signature)
        except OnnxConversionError as exc:
            reason = f"skl2onnx cannot convert the {type(model).__qualname__}: {exc}"
            warnings.warn(
                f"{reason}; the version is registered without model.onnx",
                OnnxConversionWarning,
                stacklevel=2,
            )
            return {"onnx": None, "onnx_skipped": reason}
        check_onnx_model(model, data, example)
        (folder / ONNX_FILE).write_bytes(data)
        self._stored_onnx = True
        return {"onnx": ONNX_FILE}

    def requirements(self) -> list[str]:
        """Return the pins of the flavor's packages, and of ONNX's when it stored one."""
        from tether.models.flavors.onnx import PACKAGES

        pins = super().requirements()
        if self._stored_onnx:
            pins.extend(installed_pins(PACKAGES))
        return pins

    def load(
        self, files: ModelFiles, meta: Mapping[str, Any], *, trusted: Sequence[str]
    ) -> Any:
        return loads_estimator(
            files.read(meta.get("file", MODEL_FILE)), trusted=trusted
        )

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        scorer = _scorer(model)
        if scorer is None:
            return super().predict(model, frame)
        return scorer.predict(frame)

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        scorer = _scorer(model)
        if scorer is None or not scorer.classifier:
            return super().predict_proba(model, frame)
        return scorer.predict_proba(frame)

    def predict_with_proba(
        self, model: Any, frame: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray | None]:
        scorer = _scorer(model)
        if scorer is None or not scorer.classifier:
            return super().predict_with_proba(model, frame)
        return scorer.predict_with_proba(frame)


def _scorer(model: Any) -> ForestScorer | None:
    from tether.models.flavors.sklearn_forests import forest_scorer

    return forest_scorer(model)
