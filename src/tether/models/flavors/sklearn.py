"""scikit-learn models stored with skops, so that loading runs no code.

skops rejects any type that is not in its list of trusted types. Types from
scikit-learn, NumPy and SciPy are trusted out of the box (they include the tree
structures inside gradient boosting and random forests), and so are builtin
classes such as ``range``. Builtin functions such as ``exec`` and ``eval``
are not, because a model that contains one can run code when it predicts. Any
other type must be listed by the caller, and the error names each one.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from tether.errors import UntrustedModelError
from tether.models.flavors.base import Flavor, ModelFiles, defined_in

MODEL_FILE = "model.skops"

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "collections.")
# skops lists the function a partial wraps as its own untrusted name, which the
# prefixes above must also allow, so trusting the wrapper adds no new code.
TRUSTED_NAMES = frozenset({"functools.partial"})


def dumps_estimator(estimator: Any) -> bytes:
    """Serialize a scikit-learn estimator or pipeline with skops."""
    import skops.io as sio

    data: bytes = sio.dumps(estimator)
    return data


def loads_estimator(data: bytes, *, trusted: Sequence[str] = ()) -> Any:
    """Load an estimator, trusting scikit-learn's own types and ``trusted``."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=data)
    rejected = [name for name in untrusted if not _is_trusted(name, trusted)]
    if rejected:
        raise UntrustedModelError(
            f"the model contains types that are not trusted: {', '.join(rejected)}; "
            "review them and pass trusted=[...] with these names to load it",
            untrusted=rejected,
        )
    return sio.loads(data, trusted=list(untrusted))


def _is_trusted(name: str, trusted: Sequence[str]) -> bool:
    if name.startswith(TRUSTED_PREFIXES) or name in TRUSTED_NAMES or name in trusted:
        return True
    module, _, attribute = name.partition(".")
    return module == "builtins" and isinstance(getattr(builtins, attribute, None), type)


def is_sklearn_model(value: Any) -> bool:
    """Return whether ``value`` is a scikit-learn estimator or pipeline."""
    return defined_in(value, "sklearn")


class SklearnFlavor(Flavor):
    """scikit-learn estimators and pipelines, stored with skops."""

    name = "sklearn"
    packages: ClassVar[tuple[str, ...]] = (
        "scikit-learn",
        "skops",
        "numpy",
        "scipy",
        "pandas",
    )

    def matches(self, model: Any) -> bool:
        return is_sklearn_model(model)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        (folder / MODEL_FILE).write_bytes(dumps_estimator(model))
        return {"file": MODEL_FILE, "estimator": type(model).__qualname__}

    def load(
        self, files: ModelFiles, meta: Mapping[str, Any], *, trusted: Sequence[str]
    ) -> Any:
        return loads_estimator(
            files.read(meta.get("file", MODEL_FILE)), trusted=trusted
        )
