"""One species classifier per flavor, all trained on the same four measurements.

Each trainer returns the model and the keyword arguments that
``tether.models.register_model`` needs for its flavor. Each model predicts
the integer label of ``data.SPECIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from penguins.data import FEATURES, LABEL, SPECIES

Trainer = Callable[[pd.DataFrame], tuple[Any, dict[str, Any]]]
SEED = 7


def train_sklearn(train: pd.DataFrame) -> tuple[Any, dict[str, Any]]:
    """Scale, then fit a random forest, stored with skops and converted to ONNX."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=50, random_state=SEED)
    )
    return model.fit(train[FEATURES], train[LABEL]), {"onnx": True}


def train_xgboost(train: pd.DataFrame) -> tuple[Any, dict[str, Any]]:
    """Gradient-boosted trees in XGBoost's native format."""
    from xgboost import XGBClassifier

    model = XGBClassifier(n_estimators=40, max_depth=3, random_state=SEED)
    return model.fit(train[FEATURES], train[LABEL]), {}


def train_lightgbm(train: pd.DataFrame) -> tuple[Any, dict[str, Any]]:
    """Gradient-boosted trees in LightGBM's text format."""
    from lightgbm import LGBMClassifier

    model = LGBMClassifier(
        n_estimators=40,
        num_leaves=7,
        min_child_samples=5,
        random_state=SEED,
        verbose=-1,
    )
    return model.fit(train[FEATURES], train[LABEL]), {}


def train_pytorch(train: pd.DataFrame) -> tuple[Any, dict[str, Any]]:
    """A small multilayer perceptron whose TorchScript returns the label."""
    import torch
    from torch import nn

    from penguins.torch_modules import ArgMax, Standardize

    torch.manual_seed(SEED)
    inputs = torch.tensor(train[FEATURES].to_numpy(), dtype=torch.float32)
    labels = torch.tensor(train[LABEL].to_numpy(), dtype=torch.int64)
    mean, std = inputs.mean(dim=0), inputs.std(dim=0)
    net = nn.Sequential(
        Standardize(mean, std), nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(inputs), labels)
        loss.backward()
        optimizer.step()
    return nn.Sequential(net, ArgMax()).eval(), {}


def train_python(train: pd.DataFrame) -> tuple[Any, dict[str, Any]]:
    """Fit a nearest-centroid rule, a plain Python object stored with cloudpickle."""
    import cloudpickle

    import penguins.trainers as this_module

    # Pickle this module's classes by value, so a packaged model loads where
    # the example is not installed.
    cloudpickle.register_pickle_by_value(this_module)
    return NearestCentroid().fit(train), {"trusted": True}


class NearestCentroid:
    """Predict the species whose mean standardized measurements are closest."""

    def fit(self, train: pd.DataFrame) -> NearestCentroid:
        values = train[FEATURES].to_numpy(dtype=float)
        self.mean = values.mean(axis=0)
        self.scale = values.std(axis=0)
        scaled = (values - self.mean) / self.scale
        labels = train[LABEL].to_numpy()
        self.centroids = np.stack(
            [scaled[labels == label].mean(axis=0) for label in range(len(SPECIES))]
        )
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        scaled = (frame[FEATURES].to_numpy(dtype=float) - self.mean) / self.scale
        distances = ((scaled[:, None, :] - self.centroids[None]) ** 2).sum(axis=2)
        return distances.argmin(axis=1).astype("int64")


TRAINERS: dict[str, Trainer] = {
    "sklearn": train_sklearn,
    "xgboost": train_xgboost,
    "lightgbm": train_lightgbm,
    "pytorch": train_pytorch,
    "python": train_python,
}
