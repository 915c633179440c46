"""Score scikit-learn trees and forests without their per-tree Python overhead.

``RandomForestClassifier.predict_proba`` checks its input once, then, for
each of its trees, checks the input again, dispatches a joblib task and
takes a lock before it calls the tree's compiled ``Tree.predict``. On one
row of a 100-tree forest the checks and the dispatch take about 90 % of the
time. :class:`ForestScorer` checks the input once and calls each tree's
``Tree.predict`` directly, in the estimator order, adding the results in
the same order and with the same NumPy operations as scikit-learn, so its
outputs are bitwise equal to the estimator's own.

It takes the direct path only where that equality is certain: the exact
estimator classes below with one output, and a DataFrame whose columns are
the fitted feature names in order, whose dtypes are NumPy numbers and whose
values are finite once converted to float32. Anything else (missing values,
infinity, other column names, pandas extension dtypes, subclasses) goes to
the estimator's own method, with its own errors and warnings.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

_FORESTS = {
    ("sklearn.ensemble._forest", "RandomForestClassifier"),
    ("sklearn.ensemble._forest", "ExtraTreesClassifier"),
    ("sklearn.ensemble._forest", "RandomForestRegressor"),
    ("sklearn.ensemble._forest", "ExtraTreesRegressor"),
}
_TREES = {
    ("sklearn.tree._classes", "DecisionTreeClassifier"),
    ("sklearn.tree._classes", "ExtraTreeClassifier"),
    ("sklearn.tree._classes", "DecisionTreeRegressor"),
    ("sklearn.tree._classes", "ExtraTreeRegressor"),
}
_NUMBER_KINDS = frozenset("fiub")

_SCORERS: weakref.WeakKeyDictionary[Any, ForestScorer | None] = (
    weakref.WeakKeyDictionary()
)


def forest_scorer(model: Any) -> ForestScorer | None:
    """Return the direct scorer of ``model``, or None when it has none.

    The result is cached per estimator object, so a server builds it once.
    """
    try:
        return _SCORERS[model]
    except KeyError:
        pass
    except TypeError:
        return None
    scorer = ForestScorer.build(model)
    _SCORERS[model] = scorer
    return scorer


class ForestScorer:
    """The trees of one fitted estimator, called directly.

    Attributes:
        classifier: Whether the estimator is a classifier.
    """

    def __init__(self, model: Any, trees: list[Any], *, forest: bool) -> None:
        self._model = model
        self._trees = trees
        self._forest = forest
        self._features = list(model.feature_names_in_)
        self.classifier = hasattr(model, "classes_")
        self._classes = model.classes_ if self.classifier else None
        self._n_classes = int(model.n_classes_) if self.classifier else 0

    @classmethod
    def build(cls, model: Any) -> ForestScorer | None:
        """Return a scorer for a supported, fitted, single-output estimator."""
        kind = (type(model).__module__, type(model).__name__)
        if kind not in _FORESTS and kind not in _TREES:
            return None
        if getattr(model, "n_outputs_", None) != 1:
            return None
        if not hasattr(model, "feature_names_in_"):
            return None
        forest = kind in _FORESTS
        try:
            estimators = model.estimators_ if forest else [model]
            trees = [estimator.tree_ for estimator in estimators]
        except AttributeError:
            return None
        return cls(model, trees, forest=forest)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return what the estimator's ``predict`` returns for ``frame``."""
        features = self._features_of(frame)
        if features is None:
            return np.asarray(self._model.predict(frame))
        if not self.classifier:
            return self._regress(features)
        return self._classes_of(self._scores(features))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Return what the estimator's ``predict_proba`` returns for ``frame``."""
        features = self._features_of(frame)
        if features is None:
            return np.asarray(self._model.predict_proba(frame))
        return self._proba(features)

    def predict_with_proba(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return the predictions and probabilities of a classifier in one pass.

        A forest's ``predict`` is the class of highest mean probability, so
        both come from one run of the trees. A single tree's ``predict``
        compares the leaf values before they are sliced, which this repeats.
        """
        features = self._features_of(frame)
        if features is None:
            predictions = np.asarray(self._model.predict(frame))
            return predictions, np.asarray(self._model.predict_proba(frame))
        if self._forest:
            probabilities = self._forest_proba(features)
            return self._classes_of(probabilities), probabilities
        leaves = self._trees[0].predict(features)
        return self._classes_of(leaves), leaves[:, : self._n_classes]

    @property
    def features(self) -> list[str]:
        """The fitted feature names, in the order the trees read them."""
        return list(self._features)

    def predict_columns(
        self, columns: Mapping[str, np.ndarray], *, with_probabilities: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Score NumPy columns named by :attr:`features`, without a DataFrame.

        The float32 matrix is the one ``np.asarray(frame, dtype=np.float32)``
        gives for a frame of these columns, so the outputs are the frame
        path's. Columns that the direct path does not take go through a
        frame and the estimator.
        """
        arrays = [np.asarray(columns[name]) for name in self._features]
        features = _matrix(arrays)
        if features is None:
            import pandas as pd

            frame = pd.DataFrame(dict(zip(self._features, arrays, strict=True)))
            if not with_probabilities:
                return self.predict(frame), None
            return self.predict_with_proba(frame)
        if not self.classifier:
            return self._regress(features), None
        if not with_probabilities:
            return self._classes_of(self._scores(features)), None
        if self._forest:
            probabilities = self._forest_proba(features)
            return self._classes_of(probabilities), probabilities
        leaves = self._trees[0].predict(features)
        return self._classes_of(leaves), leaves[:, : self._n_classes]

    def _scores(self, features: np.ndarray) -> np.ndarray:
        """Return what the classifier's ``predict`` takes the argmax of."""
        if self._forest:
            return self._forest_proba(features)
        leaves: np.ndarray = self._trees[0].predict(features)
        return leaves

    def _features_of(self, frame: Any) -> np.ndarray | None:
        """Return the float32 matrix the trees read, or None to use the estimator."""
        columns = getattr(frame, "columns", None)
        if columns is None or list(columns) != self._features:
            return None
        for dtype in frame.dtypes:
            if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMBER_KINDS:
                return None
        with np.errstate(over="ignore"):
            features = np.ascontiguousarray(np.asarray(frame, dtype=np.float32))
        if features.ndim != 2 or not np.isfinite(features).all():
            return None
        return features

    def _proba(self, features: np.ndarray) -> np.ndarray:
        if self._forest:
            return self._forest_proba(features)
        probabilities: np.ndarray = self._trees[0].predict(features)[
            :, : self._n_classes
        ]
        return probabilities

    def _forest_proba(self, features: np.ndarray) -> np.ndarray:
        total = np.zeros((features.shape[0], self._n_classes), dtype=np.float64)
        for tree in self._trees:
            total += tree.predict(features)[:, : self._n_classes]
        total /= len(self._trees)
        return total

    def _classes_of(self, probabilities: np.ndarray) -> np.ndarray:
        assert self._classes is not None
        classes: np.ndarray = self._classes.take(
            np.argmax(probabilities, axis=1), axis=0
        )
        return classes

    def _regress(self, features: np.ndarray) -> np.ndarray:
        if not self._forest:
            single: np.ndarray = self._trees[0].predict(features)[:, 0]
            return single
        total = np.zeros(features.shape[0], dtype=np.float64)
        for tree in self._trees:
            total += tree.predict(features)[:, 0]
        total /= len(self._trees)
        return total


def _matrix(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """Return the finite float32 matrix of numeric columns, or None."""
    if not arrays or any(
        a.ndim != 1 or a.dtype.kind not in _NUMBER_KINDS for a in arrays
    ):
        return None
    features = np.empty((len(arrays[0]), len(arrays)), dtype=np.float32)
    with np.errstate(over="ignore"):
        for position, array in enumerate(arrays):
            features[:, position] = array
    if not np.isfinite(features).all():
        return None
    return features
