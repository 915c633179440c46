"""Per-prediction explanations: each column's Shapley value for one output.

With ``shap`` installed, :func:`shapley_values` uses its tree, linear or
permutation explainer (see :mod:`tether.monitoring.shapley_shap`). Without
it, or with ``method="builtin"``, it computes interventional Shapley values
itself (see :mod:`tether.monitoring.shapley_sampling`). In every case each
row's contributions add up to the explained output minus the base value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import ConfigError, DataError
from tether.monitoring.drift_detection import json_safe
from tether.monitoring.explained_model import (
    ExplainedModel,
    check_frame,
    explained_model,
)
from tether.monitoring.json_values import plain_value
from tether.monitoring.shapley_sampling import sampled_shapley

logger = logging.getLogger(__name__)

METHODS = ("auto", "shap", "builtin")
DEFAULT_BACKGROUND_SIZE = 100
DEFAULT_PERMUTATIONS = 20
DEFAULT_SEED = 0


@dataclass(frozen=True, eq=False)
class ShapleyValues:
    """Each explained row's output split into one contribution per column.

    Attributes:
        method: How the values were computed: ``shap.TreeExplainer``,
            ``shap.LinearExplainer``, ``shap.PermutationExplainer``,
            ``exact`` or ``permutation_sampling``.
        output: What the contributions explain, for example ``probability of
            class 1``, ``decision function of class 1`` or ``prediction``.
        base_value: The mean output over the background rows. A row's output
            is ``base_value`` plus the sum of its contributions.
        contributions: One row per explained row (with its index), one
            column per feature.
        rows: The explained rows' feature values, aligned with ``contributions``.
    """

    method: str
    output: str
    base_value: float
    contributions: pd.DataFrame
    rows: pd.DataFrame

    @property
    def outputs(self) -> pd.Series:
        """Each row's explained output: the base value plus its contributions."""
        return self.base_value + self.contributions.sum(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """Return the tidy form: one row per (row, column) with value and contribution."""
        n_rows, n_columns = self.contributions.shape
        return pd.DataFrame(
            {
                "row": np.repeat(self.contributions.index.to_numpy(), n_columns),
                "column": np.tile(self.contributions.columns.to_numpy(), n_rows),
                "value": self.rows.to_numpy(dtype=object).ravel(),
                "contribution": self.contributions.to_numpy(dtype=float).ravel(),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON types, one entry per explained row."""
        outputs = self.outputs
        rows = [
            {
                "row": plain_value(label),
                "output": float(outputs.loc[label]),
                "contributions": {
                    str(column): float(value)
                    for column, value in self.contributions.loc[label].items()
                },
            }
            for label in self.contributions.index
        ]
        result: dict[str, Any] = json_safe(
            {
                "method": self.method,
                "output": self.output,
                "base_value": self.base_value,
                "columns": [str(column) for column in self.contributions.columns],
                "rows": rows,
            }
        )
        return result


def shapley_values(
    model: Any,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    method: str = "auto",
    class_index: int | None = None,
    background_size: int = DEFAULT_BACKGROUND_SIZE,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    kind: str | None = None,
) -> ShapleyValues:
    """Split each row's output into one Shapley value per column.

    Args:
        model: An estimator or a LoadedModel. A LoadedModel's signature is
            applied to ``rows`` and ``background`` first, so columns it does
            not declare are dropped.
        rows: The rows to explain.
        background: Rows that stand in for an absent column, usually a sample
            of the training data. Its columns must include those of ``rows``.
        method: ``"auto"`` uses shap when it is installed and the built-in
            method otherwise. ``"shap"`` requires shap. ``"builtin"`` never
            uses it.
        class_index: For a classifier, the class to explain, as a column of
            ``predict_proba``. Defaults to 1 for a binary classifier and is
            required for more classes.
        background_size: At most this many background rows are used, sampled
            with ``seed`` when there are more.
        permutations: Column orders sampled per row by the permutation
            methods. The built-in method computes exact values instead when
            that costs no more model calls.
        seed: Seed of the background sample and of the sampled orders.
        kind: ``"classifier"`` or ``"regressor"`` to skip kind detection.

    Raises:
        ConfigError: An unknown method, ``"shap"`` without shap installed,
            a bad class index or a count below 1.
        DataError: ``background`` lacks a column of ``rows``.
    """
    check_frame(rows, "rows")
    check_frame(background, "background")
    _check_options(method, background_size, permutations)
    background = _background_sample(rows, background, background_size, seed)
    explained = explained_model(model, background, kind=kind)
    rows, background = _model_inputs(explained, rows, background)
    use_shap = method == "shap" or (method == "auto" and shap_installed())
    if use_shap:
        from tether.monitoring.shapley_shap import shap_values

        result = shap_values(
            explained,
            rows,
            background,
            class_index=class_index,
            permutations=permutations,
            seed=seed,
        )
        name, output, base, values = (
            result.method,
            result.output,
            result.base_value,
            result.contributions,
        )
    else:
        name, output, base, values = _builtin_values(
            explained, rows, background, class_index, permutations, seed
        )
    logger.debug("Shapley values of %d rows by %s", len(rows), name)
    contributions = pd.DataFrame(values, index=rows.index, columns=rows.columns)
    return ShapleyValues(name, output, base, contributions, rows.copy())


def shap_installed() -> bool:
    """Return whether the optional ``shap`` package imports.

    An installed shap whose import raises ImportError counts as not installed.
    """
    try:
        import shap  # noqa: F401
    except ImportError:
        return False
    return True


def _check_options(method: str, background_size: int, permutations: int) -> None:
    if method not in METHODS:
        raise ConfigError(
            f"method must be one of {', '.join(METHODS)}, got {method!r}",
            setting="method",
            value=method,
        )
    if method == "shap" and not shap_installed():
        raise ConfigError(
            "method='shap' needs the shap package, which is not installed; "
            "run `pip install shap` or pass method='builtin'",
            setting="method",
            value=method,
        )
    for setting, value in (
        ("background_size", background_size),
        ("permutations", permutations),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{setting} must be a positive integer, got {value!r}",
                setting=setting,
                value=value,
            )


def _background_sample(
    rows: pd.DataFrame, background: pd.DataFrame, size: int, seed: int
) -> pd.DataFrame:
    missing = [column for column in rows.columns if column not in background.columns]
    if missing:
        raise DataError(
            f"background lacks the columns {missing} of rows; pass background "
            "rows with the same columns, for example a sample of the training data"
        )
    selected = background[list(rows.columns)]
    if len(selected) > size:
        selected = selected.sample(n=size, random_state=seed)
    return selected.reset_index(drop=True)


def _model_inputs(
    model: ExplainedModel, rows: pd.DataFrame, background: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply a LoadedModel's signature to both frames, so every method gets its columns."""
    from tether.models.loading import LoadedModel

    if not isinstance(model.model, LoadedModel):
        return rows, background
    from tether.models.signature import enforce

    signature = model.model.signature
    return enforce(signature, rows), enforce(signature, background)


def _builtin_values(
    model: ExplainedModel,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    class_index: int | None,
    permutations: int,
    seed: int,
) -> tuple[str, str, float, np.ndarray]:
    n_classes = 0
    index = None
    if model.is_classifier:
        n_classes = model.probabilities(background.head(1)).shape[1]
        index = model.resolve_class_index(class_index, n_classes)

    def output(frame: pd.DataFrame) -> np.ndarray:
        return model.output(frame, index)

    generator = np.random.default_rng(seed)
    result = sampled_shapley(
        output, rows, background, permutations=permutations, generator=generator
    )
    name = model.output_name(index, n_classes or 2)
    return result.method, name, result.base_value, result.contributions
