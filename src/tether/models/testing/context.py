"""The shared state of one suite run: the model, the data and cached outputs.

Each dataset is loaded once per run and the model scores it once, however
many tests read it; the champion is loaded once too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tether.errors import NotFoundError
from tether.models.testing.datasets import column_names, load_frame, resolve_dataset
from tether.models.testing.metrics import Outputs

if TYPE_CHECKING:
    import pandas as pd

    from tether.models.loading import LoadedModel
    from tether.models.testing.base import LabelledTest, ModelTest
    from tether.models.testing.suite import Suite
    from tether.store.records import DatasetVersionRecord

IN_MEMORY = "<data>"
"""The key of a DataFrame passed to ``run_tests(data=...)``."""


class DataSource:
    """The frames a suite's tests read, by dataset version URI.

    Args:
        default: The data of tests that name no dataset: a dataset URI, a
            DataFrame, or None when the suite has none.
    """

    def __init__(self, default: str | pd.DataFrame | None) -> None:
        self.default = default
        self._records: dict[str, DatasetVersionRecord] = {}
        self._frames: dict[str, pd.DataFrame] = {}

    def key(self, dataset: str | None) -> str | None:
        """Return the key of a test's data: the resolved version URI, or None for none.

        Raises:
            NotFoundError: the dataset or version does not exist.
            InvalidURIError, ConfigError: the URI is malformed or names a tag.
        """
        if dataset is not None:
            return self.record(dataset).uri
        if self.default is None:
            return None
        if isinstance(self.default, str):
            return self.record(self.default).uri
        self._frames[IN_MEMORY] = self.default
        return IN_MEMORY

    def record(self, uri: str) -> DatasetVersionRecord:
        """Return the version ``uri`` names, resolved once per run."""
        if uri not in self._records:
            record = resolve_dataset(uri)
            self._records[uri] = record
            self._records[record.uri] = record
        return self._records[uri]

    def columns(self, key: str) -> list[str]:
        """Return the column names of the data at ``key``, without loading a version."""
        if key in self._frames:
            return [str(column) for column in self._frames[key].columns]
        return column_names(self._records[key])

    def is_numeric(self, key: str, column: str) -> bool:
        """Return whether ``column`` of the data at ``key`` contains numbers (or booleans)."""
        if key in self._frames:
            from pandas.api.types import is_numeric_dtype

            return bool(is_numeric_dtype(self._frames[key][column]))
        kinds = {str(c["name"]): c.get("type") for c in self._records[key].schema}
        return kinds.get(column) in ("integer", "float", "boolean")

    def frame(self, key: str) -> pd.DataFrame:
        """Return the data at ``key``, loading a dataset version on first use."""
        if key not in self._frames:
            self._frames[key] = load_frame(self._records[key])
        return self._frames[key]

    def describe(self, key: str) -> str:
        """Return the dataset URI, or ``a DataFrame of N rows`` for in-memory data."""
        if key == IN_MEMORY:
            return f"a DataFrame of {len(self._frames[key])} rows"
        return key


class RunContext:
    """The model under test, its data and the champion, shared by a suite's tests.

    Args:
        model: The loaded version under test.
        suite: The suite being run; it gives the default label.
        data: The data the tests read.
        trusted: Extra type names to trust when loading the champion.
    """

    def __init__(
        self,
        model: LoadedModel,
        suite: Suite,
        data: DataSource,
        trusted: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.suite = suite
        self.data = data
        self.trusted = tuple(trusted)
        self._outputs: dict[tuple[str, str], Outputs] = {}
        self._champions: dict[str, LoadedModel | None] = {}

    def dataset_key(self, test: ModelTest) -> str:
        """Return the key of the data ``test`` runs on.

        Raises:
            ConfigError: neither the test nor the suite names a dataset.
        """
        key = self.data.key(test.dataset)
        if key is None:
            raise test.error(
                "dataset",
                "no dataset to run on; set 'dataset' in the suite or the test, or "
                "pass data to run on (--data on the command line)",
            )
        return key

    def label(self, test: LabelledTest) -> str:
        """Return the label column of ``test``: its own, else the suite's."""
        label = test.label or self.suite.label
        if label is None:
            raise test.error(
                "label",
                "no label column; set 'label' in the suite or the test",
            )
        return label

    def frame(self, key: str) -> pd.DataFrame:
        """Return the data at ``key``."""
        return self.data.frame(key)

    def outputs(self, key: str) -> Outputs:
        """Return the model's outputs on every row of the data at ``key``."""
        cache_key = (self.model.uri, key)
        if cache_key not in self._outputs:
            self._outputs[cache_key] = score(self.model, self.frame(key))
        return self._outputs[cache_key]

    def champion(self, alias: str) -> LoadedModel | None:
        """Return the version that ``alias`` points at, or None when the alias is not set."""
        if alias not in self._champions:
            from tether.models.loading import load

            name = self.model.name
            try:
                self._champions[alias] = load(
                    f"models:/{name}@{alias}", trusted=self.trusted
                )
            except NotFoundError as error:
                if error.kind != "alias":
                    raise
                self._champions[alias] = None
        return self._champions[alias]

    def champion_outputs(self, champion: LoadedModel, key: str) -> Outputs:
        """Return the champion's outputs on every row of the data at ``key``."""
        cache_key = (champion.uri, key)
        if cache_key not in self._outputs:
            self._outputs[cache_key] = score(champion, self.frame(key))
        return self._outputs[cache_key]


def score(
    model: LoadedModel, frame: pd.DataFrame, *, probabilities: bool = True
) -> Outputs:
    """Enforce the signature once and return the model's predictions and probabilities.

    Args:
        probabilities: Whether to call ``predict_proba`` as well; a tree
            ensemble walks its trees again for it.
    """
    import numpy as np

    from tether.models.signature import enforce

    inputs = enforce(model.signature, frame)
    predictions = np.asarray(model.flavor.predict(model.estimator, inputs))
    matrix = (
        model.flavor.predict_proba(model.estimator, inputs) if probabilities else None
    )
    classes = getattr(model.estimator, "classes_", None)
    return Outputs(
        predictions=(
            predictions.ravel()
            if predictions.ndim == 2 and predictions.shape[1] == 1
            else predictions
        ),
        probabilities=_as_matrix(matrix),
        classes=None if classes is None else np.asarray(classes),
    )


def _as_matrix(probabilities: Any) -> Any:
    """Return probabilities as one column per class; a 1-D array is P(class 1)."""
    import numpy as np

    if probabilities is None:
        return None
    array = np.asarray(probabilities, dtype=float)
    if array.ndim == 1:
        return np.column_stack([1.0 - array, array])
    return array


def require_input(context: RunContext, test: ModelTest, key: str, column: str) -> str:
    """Return the signature type of model input ``column``, or raise ConfigError."""
    for spec in context.model.signature.inputs:
        if spec.name == column:
            return spec.type
    inputs = ", ".join(context.model.signature.input_names)
    raise test.error(
        key,
        f"{column!r} is not an input of {context.model.record.uri}; its inputs are "
        f"{inputs}",
        value=column,
    )
