"""Any Python object with ``predict``, stored with cloudpickle.

This is the flavor of last resort: it stores an object that no other flavor
matched, as long as it has a callable ``predict``. An object may also define
``load_context(files)``, which is called once after loading with the
version's :class:`~tether.models.flavors.base.ModelFiles`, for example to
rebuild state that it left out of the pickle.

Unpickling runs code, so the registry loads such a version only after it
was marked trusted. Pickles are not portable across Python minor versions,
so loading on another one than the version was pickled with is rejected.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tether.errors import ConfigError, DataError
from tether.models.flavors.base import Flavor, ModelFiles

if TYPE_CHECKING:
    import pandas as pd

    from tether.models.signature import Signature

MODEL_FILE = "model.pkl"


class PythonFlavor(Flavor):
    """Objects with a ``predict`` method, pickled with cloudpickle."""

    name = "python"
    extra = "python"
    packages: ClassVar[tuple[str, ...]] = ("cloudpickle", "numpy", "pandas")
    runs_code_on_load = True

    def matches(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(
        self,
        model: Any,
        folder: Path,
        *,
        signature: Signature | None = None,
        example: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        import cloudpickle

        if not self.matches(model):
            raise ConfigError(
                f"the python flavor stores objects with a predict method, and a "
                f"{type(model).__qualname__} has none; add predict(frame)",
                setting="model",
                value=type(model).__qualname__,
            )
        (folder / MODEL_FILE).write_bytes(cloudpickle.dumps(model))
        return {
            "file": MODEL_FILE,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "python": platform.python_version(),
            "cloudpickle": cloudpickle.__version__,
            "load_context": callable(getattr(model, "load_context", None)),
        }

    def load(
        self, files: ModelFiles, meta: Mapping[str, Any], *, trusted: Sequence[str]
    ) -> Any:
        import cloudpickle

        _check_python_version(str(meta.get("python", "")))
        try:
            model = cloudpickle.loads(files.read(meta.get("file", MODEL_FILE)))
        except (ImportError, AttributeError) as exc:
            raise DataError(
                f"the pickled model needs code that is not importable here: {exc}; "
                "install the module that defines the model's class where it loads, "
                "or register it after cloudpickle.register_pickle_by_value(module) "
                "so that the class is stored with it"
            ) from exc
        load_context = getattr(model, "load_context", None)
        if callable(load_context):
            load_context(files)
        return model


def _check_python_version(pickled_with: str) -> None:
    """Raise unless this Python has the major and minor version of ``pickled_with``."""
    if not pickled_with:
        raise ConfigError(
            "the version does not record the Python version it was pickled with; "
            "register it again",
            setting="python",
            value=pickled_with,
        )
    expected_minor = ".".join(pickled_with.split(".")[:2])
    if expected_minor == f"{sys.version_info.major}.{sys.version_info.minor}":
        return
    raise ConfigError(
        f"the model was pickled with Python {pickled_with}, and this is Python "
        f"{platform.python_version()}; pickles do not load reliably across minor "
        f"versions, so load it with Python {expected_minor}, or register it again from "
        "this Python",
        setting="python",
        value=pickled_with,
    )
