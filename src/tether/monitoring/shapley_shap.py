"""Shapley values from the optional ``shap`` package.

Tree ensembles get ``shap.TreeExplainer`` and scikit-learn linear models
``shap.LinearExplainer``, both on all-numeric frames. Any other model, or a
frame with text or category columns, gets ``shap.PermutationExplainer``
around the model's own output. Every explainer uses the same background rows
with interventional (marginal) expectations, so the base value is the mean
output over the background.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from tether.monitoring.explained_model import ExplainedModel

logger = logging.getLogger(__name__)

TREE_EXPLAINER = "shap.TreeExplainer"
LINEAR_EXPLAINER = "shap.LinearExplainer"
PERMUTATION_EXPLAINER = "shap.PermutationExplainer"

# NOTE: HistGradientBoosting models are left to the permutation explainer,
# because shap 0.51's TreeExplainer missed additivity on them by about 7e-4
# in probability on the breast cancer data.
TREE_MODULES = (
    "sklearn.tree",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._gb",
    "xgboost",
    "lightgbm",
)
LINEAR_MODULES = ("sklearn.linear_model",)


@dataclass(frozen=True, eq=False)
class ShapResult:
    """Contributions from a shap explainer, for one explained output.

    Attributes:
        method: The explainer's name, such as ``shap.TreeExplainer``.
        output: What the contributions add up to, minus the base value.
        base_value: The explainer's expected value for that output.
        contributions: One row per explained row, one column per feature.
    """

    method: str
    output: str
    base_value: float
    contributions: np.ndarray


def shap_values(
    model: ExplainedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    class_index: int | None,
    permutations: int,
    seed: int,
) -> ShapResult:
    """Explain ``rows`` with the shap explainer that fits the model."""
    import shap
    from shap.utils._exceptions import InvalidModelError

    numeric = all(_is_numeric(rows[name]) for name in rows.columns)
    estimator = model.estimator
    if numeric and _defined_in(estimator, TREE_MODULES):
        try:
            return _tree_values(shap, model, rows, background, class_index)
        # shap raises these for a model or output it cannot explain with trees,
        # such as the probability of a multiclass gradient boosting model.
        except (NotImplementedError, InvalidModelError) as error:
            logger.info(
                "shap.TreeExplainer cannot explain %s (%s); "
                "using shap.PermutationExplainer",
                type(estimator).__name__,
                error,
            )
    if numeric and _is_linear(estimator):
        return _linear_values(shap, model, rows, background, class_index)
    return _permutation_values(
        shap, model, rows, background, class_index, permutations, seed
    )


def _tree_values(
    shap: Any,
    model: ExplainedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    class_index: int | None,
) -> ShapResult:
    probability = model.is_classifier
    explainer = shap.TreeExplainer(
        model.estimator,
        data=background,
        model_output="probability" if probability else "raw",
        feature_perturbation="interventional",
    )
    values = np.asarray(explainer.shap_values(rows), dtype=float)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if not probability:
        return ShapResult(TREE_EXPLAINER, "prediction", float(expected[0]), values)
    index, values, base = _class_values(
        model, values, expected, class_index, probability=True
    )
    output = f"probability of class {model.class_label(index)}"
    return ShapResult(TREE_EXPLAINER, output, base, values)


def _linear_values(
    shap: Any,
    model: ExplainedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    class_index: int | None,
) -> ShapResult:
    explainer = shap.LinearExplainer(model.estimator, background)
    values = np.asarray(explainer.shap_values(rows), dtype=float)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if not model.is_classifier:
        return ShapResult(LINEAR_EXPLAINER, "prediction", float(expected[0]), values)
    index, values, base = _class_values(
        model, values, expected, class_index, probability=False
    )
    output = f"decision function of class {model.class_label(index)}"
    return ShapResult(LINEAR_EXPLAINER, output, base, values)


def _class_values(
    model: ExplainedModel,
    values: np.ndarray,
    expected: np.ndarray,
    class_index: int | None,
    *,
    probability: bool,
) -> tuple[int, np.ndarray, float]:
    """Select the contributions of one class from a classifier's explanation.

    A binary model with one output explains the second class. The first
    class then gets the negated contributions, with base value 1 - b for a
    probability and -b for a decision function.
    """
    if values.ndim == 3:
        index = model.resolve_class_index(class_index, values.shape[2])
        return index, values[:, :, index], float(expected[index])
    index = model.resolve_class_index(class_index, 2)
    if index == 1:
        return index, values, float(expected[0])
    base = 1.0 - expected[0] if probability else -expected[0]
    return index, -values, float(base)


def _permutation_values(
    shap: Any,
    model: ExplainedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    class_index: int | None,
    permutations: int,
    seed: int,
) -> ShapResult:
    codec = _FrameCodec(pd.concat([background, rows], ignore_index=True))
    n_classes = model.probabilities(rows.head(1)).shape[1] if model.is_classifier else 0
    index = model.resolve_class_index(class_index, n_classes) if n_classes else None

    def output(encoded: np.ndarray) -> np.ndarray:
        return model.output(codec.decode(encoded), index)

    encoded_background = codec.encode(background)
    masker = shap.maskers.Independent(
        encoded_background, max_samples=len(encoded_background)
    )
    explainer = shap.PermutationExplainer(output, masker, seed=seed)
    # Each antithetic pair of column orders costs 2p + 1 model calls.
    pairs = max(1, math.ceil(permutations / 2))
    max_evals = pairs * (2 * rows.shape[1] + 1) + 1
    explanation = explainer(codec.encode(rows), max_evals=max_evals, silent=True)
    values = np.asarray(explanation.values, dtype=float)
    base = float(np.asarray(explanation.base_values, dtype=float).ravel()[0])
    name = model.output_name(index, n_classes or 2)
    return ShapResult(PERMUTATION_EXPLAINER, name, base, values)


class _FrameCodec:
    """Converter of a frame to the float matrix that shap's maskers need, and back.

    Numeric and bool columns pass as floats. Every other column passes as the
    code of its value among the values seen, with NaN for a missing value.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = frame.dtypes.to_dict()
        self.levels: dict[str, pd.Index] = {}
        for name in self.columns:
            if not _is_numeric(frame[name]):
                _, self.levels[name] = pd.factorize(frame[name])

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        encoded = np.empty(frame.shape, dtype=float)
        for position, name in enumerate(self.columns):
            series = frame[name]
            if name in self.levels:
                codes = self.levels[name].get_indexer(pd.Index(series)).astype(float)
                codes[codes < 0] = np.nan
                encoded[:, position] = codes
            else:
                encoded[:, position] = series.to_numpy(dtype=float, na_value=np.nan)
        return encoded

    def decode(self, encoded: np.ndarray) -> pd.DataFrame:
        columns = {}
        for position, name in enumerate(self.columns):
            values = encoded[:, position]
            if name in self.levels:
                missing = np.isnan(values)
                codes = np.where(missing, -1, values).astype(np.int64)
                decoded = self.levels[name].take(codes, allow_fill=True)
                columns[name] = pd.Series(decoded, dtype=self.dtypes[name])
            else:
                columns[name] = pd.Series(values).astype(self.dtypes[name])
        return pd.DataFrame(columns)


def _is_numeric(series: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(series.dtype)


def _defined_in(estimator: Any, modules: tuple[str, ...]) -> bool:
    module = type(estimator).__module__
    return any(
        module == prefix or module.startswith(prefix + ".") for prefix in modules
    )


def _is_linear(estimator: Any) -> bool:
    return (
        _defined_in(estimator, LINEAR_MODULES)
        and hasattr(estimator, "coef_")
        and hasattr(estimator, "intercept_")
    )
