"""A loaded model version as the scoring server calls it.

The server enforces the signature once per request, so :class:`ServingModel`
calls the flavor directly instead of :meth:`LoadedModel.predict`, which would
enforce it a second time. On the ONNX runtime it also scores columns of NumPy
arrays without a DataFrame: :meth:`ServingModel.predict_arrays` feeds them to
onnxruntime and gets the classes and probabilities from one run. A
scikit-learn tree or forest on the native runtime scores them the same way,
through ``tether.models.flavors.sklearn_forests``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tether.errors import SchemaError
from tether.models.loading import LoadedModel

if TYPE_CHECKING:
    from tether.models.flavors.sklearn_forests import ForestScorer

_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}
_OTHER_TYPES = {"tensor(int64)": np.int64, "tensor(bool)": np.bool_}


class ServingModel:
    """A loaded model with the attributes that the scoring app reports.

    Attributes:
        uri: The URI the server was started with, such as an alias URI.
        version_uri: The URI of the version that was loaded.
        name: The registered model's name.
        version: The version number, as text.
        flavor: The flavor's name, such as ``sklearn``.
        runtime: ``native`` or ``onnx``.
        signature: The version's signature.
    """

    def __init__(self, loaded: LoadedModel, *, uri: str, runtime: str) -> None:
        self.uri = uri
        self.version_uri = loaded.record.uri
        self.name = loaded.name
        self.version: str | None = loaded.version
        self.flavor = loaded.flavor.name
        self.runtime = runtime
        self.signature = loaded.signature
        self._loaded = loaded
        self._onnx = _OnnxColumns(loaded.estimator) if runtime == "onnx" else None
        self._forest = _forest_columns(loaded) if runtime == "native" else None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return one prediction per row of a frame that satisfies the signature."""
        return self._loaded.flavor.predict(self._loaded.estimator, frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Return class probabilities, one column per class, or None."""
        return self._loaded.flavor.predict_proba(self._loaded.estimator, frame)

    def predict_with_proba(
        self, frame: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the predictions and the probabilities (or None) together."""
        return self._loaded.flavor.predict_with_proba(self._loaded.estimator, frame)

    @property
    def scores_arrays(self) -> bool:
        """Whether :meth:`predict_arrays` works: on the ONNX runtime, and for
        scikit-learn trees and forests whose features are the signature's columns."""
        return self._onnx is not None or self._forest is not None

    def predict_arrays(
        self, columns: Mapping[str, np.ndarray], *, with_probabilities: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the predictions and, if asked and available, the probabilities.

        Args:
            columns: Enforced columns, as ``enforce(..., arrays=True)`` returns them.
            with_probabilities: Also return the classifier's probabilities.

        Raises:
            SchemaError: A column has a null that its ONNX input cannot hold.
            ConfigError: The model scores frames only (see :attr:`scores_arrays`).
        """
        if self._onnx is not None:
            return self._onnx.run(columns, with_probabilities=with_probabilities)
        if self._forest is not None:
            return self._forest.predict_columns(
                columns, with_probabilities=with_probabilities
            )
        from tether.errors import ConfigError

        raise ConfigError(
            f"{self.uri} runs on the {self.runtime} runtime with a {self.flavor} "
            "model, which scores frames only; call predict",
            setting="runtime",
            value=self.runtime,
        )


def _forest_columns(loaded: LoadedModel) -> ForestScorer | None:
    """Return the direct scorer of a scikit-learn tree or forest whose
    features are the signature's columns in order, else None."""
    if loaded.flavor.name != "sklearn" or loaded.signature is None:
        return None
    from tether.models.flavors.sklearn_forests import forest_scorer

    scorer = forest_scorer(loaded.estimator)
    if scorer is None or scorer.features != loaded.signature.input_names:
        return None
    return scorer


class _OnnxColumns:
    """Feed NumPy columns to the onnxruntime session of an ``OnnxModel``."""

    def __init__(self, onnx_model: Any) -> None:
        session = onnx_model.session
        self._session = session
        self._inputs = [(node.name, node.type) for node in session.get_inputs()]
        self._outputs = [node.name for node in session.get_outputs()]

    def run(
        self, columns: Mapping[str, np.ndarray], *, with_probabilities: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        feeds = {
            name: _feed(name, tensor_type, columns[name])
            for name, tensor_type in self._inputs
        }
        wanted = self._outputs[:2] if with_probabilities else self._outputs[:1]
        results = self._session.run(wanted, feeds)
        predictions = np.asarray(results[0])
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            predictions = predictions.ravel()
        probabilities = np.asarray(results[1]) if len(results) > 1 else None
        return predictions, probabilities


def _feed(name: str, tensor_type: str, values: np.ndarray) -> np.ndarray:
    """Return one column as the ``[rows, 1]`` array of an ONNX input type.

    The checks and messages match ``OnnxModel``'s, which feeds frames.
    """
    if tensor_type in _FLOAT_TYPES:
        return np.asarray(values, dtype=_FLOAT_TYPES[tensor_type]).reshape(-1, 1)
    if values.dtype == object and any(value is None for value in values):
        raise SchemaError(
            f"column {name!r} has a missing value, which the ONNX input of type "
            f"{tensor_type} cannot hold; send a value in every row or load the "
            "model with runtime='native'",
            column=name,
        )
    if tensor_type == "tensor(string)":
        return np.asarray(values, dtype=object).reshape(-1, 1)
    if tensor_type not in _OTHER_TYPES:
        raise SchemaError(
            f"the ONNX model's input {name!r} has type {tensor_type}, which Tether "
            "cannot feed; load the model with runtime='native'",
            column=name,
        )
    return np.asarray(values, dtype=_OTHER_TYPES[tensor_type]).reshape(-1, 1)
