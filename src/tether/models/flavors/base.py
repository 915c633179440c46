"""The model flavor interface: how one kind of model is saved, loaded and called.

A flavor writes a model's files into a folder, which the registry stores as
one content-addressed folder with the signature and the input example. It
loads the model back from those files and calls it on a DataFrame that the
signature has already checked and converted. Flavors whose files can run code
when loaded (pickles) set ``runs_code_on_load``; the registry then loads a
version only when it was marked trusted. A flavor may take options at
registration (``register_model(..., flavor_options={...})``), which it lists
in ``option_names``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tether.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.signature import Signature


class ModelFiles:
    """The stored files of a model version, read by name.

    Args:
        digests: Each file's blob digest, by its name in the model folder.
        read: Returns a blob's bytes by digest.
        locate: Returns a blob's local path by digest.
    """

    def __init__(
        self,
        digests: Mapping[str, str],
        read: Callable[[str], bytes],
        locate: Callable[[str], Path],
    ) -> None:
        self.digests = dict(digests)
        self._read = read
        self._locate = locate

    def read(self, name: str) -> bytes:
        """Return the bytes of file ``name``."""
        return self._read(self._digest(name))

    def path(self, name: str) -> Path:
        """Return a local path holding file ``name`` (its blob; the name has no suffix)."""
        return self._locate(self._digest(name))

    def __contains__(self, name: object) -> bool:
        return name in self.digests

    def _digest(self, name: str) -> str:
        try:
            return self.digests[name]
        except KeyError:
            raise FileNotFoundError(
                f"the model has no file {name!r}; it has {', '.join(sorted(self.digests))}"
            ) from None


class Flavor(ABC):
    """One kind of model: scikit-learn, XGBoost, PyTorch, a Python object, ...

    Attributes:
        name: The flavor's name, recorded with every version.
        extra: The pip extra that installs what the flavor needs, if any.
        packages: Distributions whose versions a version of this flavor pins.
        runs_code_on_load: Whether loading the files can run arbitrary code.
        option_names: The options ``save`` reads from ``self.options``.
    """

    name: ClassVar[str]
    extra: ClassVar[str | None] = None
    packages: ClassVar[tuple[str, ...]] = ("numpy", "pandas")
    runs_code_on_load: ClassVar[bool] = False
    option_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            accepted = ", ".join(self.option_names) or "none"
            raise ConfigError(
                f"the {self.name} flavor has no option {unknown[0]!r}; "
                f"its options: {accepted}",
                setting="flavor_options",
                value=unknown[0],
            )
        self.options: dict[str, Any] = dict(options)

    @abstractmethod
    def matches(self, model: Any) -> bool:
        """Return whether this flavor stores ``model``; must not import the library."""

    @abstractmethod
    def save(
        self,
        model: Any,
        folder: Path,
        *,
        signature: Signature | None = None,
        example: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        """Write the model's files into ``folder``; return what ``load`` needs.

        ``example`` is the input example after the signature checked and
        converted it, and None when the model was registered without one.
        """

    @abstractmethod
    def load(
        self, files: ModelFiles, meta: Mapping[str, Any], *, trusted: Sequence[str]
    ) -> Any:
        """Return the model from its files and the metadata ``save`` returned."""

    def can_predict(self, model: Any) -> bool:
        """Return whether ``predict`` works on ``model`` (a transformer cannot)."""
        return callable(getattr(model, "predict", None))

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        """Return the model's predictions for a checked DataFrame."""
        import numpy as np

        return np.asarray(model.predict(frame))

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        """Return class probabilities, one column per class, or None."""
        import numpy as np

        if not hasattr(model, "predict_proba"):
            return None
        probabilities = model.predict_proba(frame)
        return None if probabilities is None else np.asarray(probabilities)

    def predict_with_proba(
        self, model: Any, frame: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the predictions and the class probabilities (or None) together.

        Flavors whose models derive both from one pass override this.
        """
        return self.predict(model, frame), self.predict_proba(model, frame)

    def requirements(self) -> list[str]:
        """Return ``package==version`` pins of the installed ``packages``."""
        return installed_pins(self.packages)


def installed_pins(packages: Sequence[str]) -> list[str]:
    """Return ``package==version`` for each of ``packages`` that is installed."""
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def defined_in(model: Any, *prefixes: str) -> bool:
    """Return whether ``model``'s class or a base class comes from a module under ``prefixes``."""
    return any(
        cls.__module__ == prefix or cls.__module__.startswith(prefix + ".")
        for cls in type(model).__mro__
        for prefix in prefixes
    )
