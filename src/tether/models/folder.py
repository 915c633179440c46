"""A model version's folder: the flavor's files, the metadata, the input example.

The folder is written to a temporary place, checked, and only then stored as
one content-addressed folder. So a model is never registered half-way when it
cannot be saved, when its example does not match its signature, or when its
``predict`` raises on its own example.
"""

from __future__ import annotations

import json
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.artifacts import get_objects
from tether.artifacts.digest import digest_file
from tether.errors import ConfigError, SchemaError, TetherError
from tether.models.flavors import Flavor

if TYPE_CHECKING:
    import pandas as pd

    from tether.models.signature import Signature

META_FILE = "tether-model.json"
# Parquet, because pandas writes JSON floats with at most 15 decimal places (10 by
# default), so a JSON example would not read back equal to the registered frame.
EXAMPLE_FILE = "input_example.parquet"


@dataclass
class StoredFolder:
    """A model folder in the artifact store.

    Attributes:
        digest: The folder's manifest digest.
        files: Each file's BLAKE3 digest, by name.
        meta: What the flavor needs to load the model.
        signature: The signature, inferred from the example when not given.
    """

    digest: str
    files: dict[str, str]
    meta: dict[str, Any]
    signature: Signature | None
    environment: dict[str, Any] = field(default_factory=dict)


def store_model_folder(
    model: Any,
    flavor: Flavor,
    signature: Signature | None,
    example: pd.DataFrame | None,
) -> StoredFolder:
    """Write, check and store the folder of ``model``; return where it went."""
    from tether.models.signature import enforce

    signature = _checked_signature(model, flavor, signature, example)
    checked = None
    if signature is not None and example is not None:
        checked = enforce(signature, example)
    with tempfile.TemporaryDirectory(prefix="tether-model-") as name:
        folder = Path(name)
        try:
            meta = flavor.save(model, folder, signature=signature, example=checked)
        except TetherError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"the {flavor.name} flavor could not save the "
                f"{type(model).__qualname__}: {type(exc).__name__}: {exc}",
                setting="model",
                value=type(model).__qualname__,
            ) from exc
        document = {
            "flavor": flavor.name,
            "meta": meta,
            "signature": signature.to_dict() if signature else None,
        }
        (folder / META_FILE).write_text(json.dumps(document, indent=2, sort_keys=True))
        if example is not None:
            example.to_parquet(folder / EXAMPLE_FILE, engine="pyarrow", index=False)
        files = {
            str(p.relative_to(folder)): digest_file(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        blob = get_objects().put_dir(folder)
    environment = {
        "python": platform.python_version(),
        "requirements": flavor.requirements(),
    }
    return StoredFolder(blob.digest, files, meta, signature, environment)


def _checked_signature(
    model: Any,
    flavor: Flavor,
    signature: Signature | None,
    example: pd.DataFrame | None,
) -> Signature | None:
    """Return the signature, inferred from ``example`` when not given.

    With an example, the example must pass the signature, and a model that
    predicts must predict on it. When the signature has no outputs, they are
    inferred from those predictions.
    """
    from tether.models.signature import Signature, enforce, infer_signature

    if example is None:
        return signature
    if signature is None:
        signature = infer_signature(example)
    try:
        checked = enforce(signature, example)
    except SchemaError as exc:
        raise ConfigError(
            f"the input example does not match the signature: {exc}; pass an example "
            "with the signature's columns and types, or omit the signature to infer it",
            setting="input_example",
            value="input_example",
        ) from exc
    if not flavor.can_predict(model):
        return signature
    try:
        predictions = flavor.predict(model, checked)
    except Exception as exc:
        raise ConfigError(
            f"the model's predict raised on its own input example: "
            f"{type(exc).__name__}: {exc}; fix the model or the example before "
            "registering it",
            setting="model",
            value=type(model).__qualname__,
        ) from exc
    if not signature.outputs:
        # Keep the declared inputs (categories, levels, nullability) and
        # infer only the outputs from the predictions.
        outputs = infer_signature(example, predictions).outputs
        signature = Signature(inputs=list(signature.inputs), outputs=list(outputs))
    return signature
