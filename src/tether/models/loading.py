"""Load a registered model version and call it with its signature enforced."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tether.artifacts import get_objects
from tether.errors import ConfigError, UntrustedModelError
from tether.models.flavors import Flavor, ModelFiles, get_flavor
from tether.models.folder import EXAMPLE_FILE, META_FILE
from tether.models.registry import get_version
from tether.store.records import ModelVersionRecord

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.signature import Signature


@dataclass
class LoadedModel:
    """A registered model ready to predict, with its signature enforced.

    Attributes:
        estimator: The model object the flavor loaded (an estimator, a
            booster, a module, ...).
        flavor: The flavor that loaded it and knows how to call it.
    """

    uri: str
    name: str
    version: str
    record: ModelVersionRecord
    estimator: Any
    signature: Signature
    flavor: Flavor

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Enforce the signature and return the model's predictions."""
        from tether.models.signature import enforce

        return self.flavor.predict(self.estimator, enforce(self.signature, frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Return the positive-class probability of a binary classifier, or None.

        A classifier of more than two classes gets one column per class.
        """
        from tether.models.signature import enforce

        probabilities = self.flavor.predict_proba(
            self.estimator, enforce(self.signature, frame)
        )
        if probabilities is None:
            return None
        if probabilities.ndim == 2 and probabilities.shape[1] == 2:
            return probabilities[:, 1]
        return probabilities


def model_files(record: ModelVersionRecord) -> ModelFiles:
    """Return the stored files of a model version."""
    objects = get_objects()
    digests = {
        entry["path"]: entry["digest"]
        for entry in objects.manifest(record.artifact_digest)
    }
    return ModelFiles(digests, objects.read_bytes, objects.path)


def load(uri: str, *, trusted: Sequence[str] = ()) -> LoadedModel:
    """Load the model at ``models:/name/3`` or ``models:/name@alias``.

    Args:
        uri: The version's URI.
        trusted: Extra type names to trust when the flavor's format lists the
            types it would create (scikit-learn through skops).

    Raises:
        UntrustedModelError: the version's files can run code when loaded and
            nobody marked it trusted, or the files hold untrusted types.
    """
    from tether.models.signature import Signature

    record = get_version(uri)
    flavor = get_flavor(record.flavor)
    if flavor.runs_code_on_load and not record.trusted:
        raise UntrustedModelError(
            f"{record.uri} is a {flavor.name} model whose files run code when loaded, "
            "and nobody marked it trusted; review it, then run "
            f"`tether models trust {record.uri}`",
            untrusted=[record.uri],
        )
    files = model_files(record)
    meta = json.loads(files.read(META_FILE)) if META_FILE in files else {}
    estimator = flavor.load(files, meta.get("meta", {}), trusted=trusted)
    if record.signature is None:
        raise ConfigError(
            f"{record.uri} has no signature; register it with an input example",
            setting="uri",
            value=uri,
        )
    signature = Signature.from_dict(record.signature)
    return LoadedModel(
        uri, record.name, str(record.version), record, estimator, signature, flavor
    )


def input_example(record: ModelVersionRecord) -> pd.DataFrame | None:
    """Return the input example stored with a model version, if any."""
    import pandas as pd

    files = model_files(record)
    if EXAMPLE_FILE not in files:
        return None
    return pd.read_parquet(io.BytesIO(files.read(EXAMPLE_FILE)))
