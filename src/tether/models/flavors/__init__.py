"""Model flavors: how each kind of model is saved, loaded and called.

A flavor is looked up by name, or found for a model object by trying each
flavor in order. Flavors with their own native format come before
scikit-learn, because XGBoost's and LightGBM's estimators subclass
scikit-learn's; the generic Python flavor comes last.
"""

from __future__ import annotations

import importlib
from typing import Any

from tether.errors import ConfigError
from tether.models.flavors.base import Flavor, ModelFiles

__all__ = ["FLAVORS", "Flavor", "ModelFiles", "flavor_for", "get_flavor"]

# name -> "module:class", in the order flavor_for tries them.
FLAVORS: dict[str, str] = {
    "xgboost": "tether.models.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "tether.models.flavors.lightgbm:LightGBMFlavor",
    "pytorch": "tether.models.flavors.pytorch:PyTorchFlavor",
    "sklearn": "tether.models.flavors.sklearn:SklearnFlavor",
    "python": "tether.models.flavors.python:PythonFlavor",
}


def get_flavor(name: str, **options: Any) -> Flavor:
    """Return the flavor called ``name``, configured with ``options``.

    Raises:
        ConfigError: no flavor has that name, or it has no such option.
    """
    target = FLAVORS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown model flavor {name!r}; known flavors: {', '.join(FLAVORS)}",
            setting="flavor",
            value=name,
        )
    module, _, attribute = target.partition(":")
    flavor: Flavor = getattr(importlib.import_module(module), attribute)(**options)
    return flavor


def flavor_for(model: Any, **options: Any) -> Flavor:
    """Return the first flavor that stores ``model``, configured with ``options``.

    Raises:
        ConfigError: no flavor stores a model of this type, or the flavor
            that does has no such option.
    """
    for name in FLAVORS:
        if get_flavor(name).matches(model):
            return get_flavor(name, **options)
    raise ConfigError(
        f"cannot register a {type(model).__module__}.{type(model).__qualname__}: no "
        f"flavor stores it (flavors: {', '.join(FLAVORS)}); give it a predict method "
        "to register it as a Python model",
        setting="model",
        value=type(model).__qualname__,
    )
