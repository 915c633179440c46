"""Load a registered model version and call it with its signature enforced.

Every file is checked against the digest recorded at registration before a
flavor reads it, so a blob changed on disk fails to load instead of reaching
a deserializer.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.artifacts import get_objects
from tether.artifacts.digest import digest_bytes, digest_file
from tether.errors import ConfigError, DataError, UntrustedModelError
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
        flavor: The flavor that loaded it, which calls it.
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


RUNTIMES = ("native", "onnx")
"""The runtimes ``load`` can run a model on: its flavor's library, or onnxruntime."""


def model_files(record: ModelVersionRecord) -> ModelFiles:
    """Return the stored files of a model version, checked on every read.

    Raises:
        DataError: the folder's manifest no longer has its digest.
    """
    objects = get_objects()
    manifest = objects.read_bytes(record.artifact_digest)
    if digest_bytes(manifest) != record.artifact_digest:
        raise _corrupt(record, "the file list (manifest)", record.artifact_digest)
    entries = json.loads(manifest)["files"]
    digests = {entry["path"]: entry["digest"] for entry in entries}
    recorded = record.details.get("files") or digests
    names = {digest: name for name, digest in digests.items()}

    def read(digest: str) -> bytes:
        data = objects.read_bytes(digest)
        _check_digest(record, names[digest], recorded, digest_bytes(data))
        return data

    def locate(digest: str) -> Path:
        path = objects.path(digest)
        _check_digest(record, names[digest], recorded, digest_file(path))
        return path

    return ModelFiles(digests, read, locate)


def _check_digest(
    record: ModelVersionRecord, name: str, recorded: dict[str, str], actual: str
) -> None:
    """Raise unless file ``name`` hashes to the digest recorded at registration."""
    expected = recorded.get(name)
    if expected != actual:
        raise _corrupt(record, f"the file {name!r}", str(expected))


def _corrupt(record: ModelVersionRecord, part: str, expected: str) -> DataError:
    return DataError(
        f"{part} of {record.uri} is corrupt: its content no longer has the digest "
        f"{expected} recorded at registration; run `tether doctor` to check the "
        "store, and register the model again if the blob cannot be restored",
        source=record.artifact_digest,
    )


def load(
    uri: str, *, trusted: Sequence[str] = (), runtime: str = "native"
) -> LoadedModel:
    """Load the model at ``models:/name/3`` or ``models:/name@alias``.

    Args:
        uri: The version's URI.
        trusted: Extra type names to trust when the flavor's format lists the
            types it would create (scikit-learn through skops).
        runtime: ``"native"`` calls the model through its flavor's library;
            ``"onnx"`` runs the version's ``model.onnx`` on onnxruntime (a
            scikit-learn model registered with ``onnx=True``).

    Raises:
        UntrustedModelError: the version's files can run code when loaded and
            the version is not marked trusted, or the files hold untrusted
            types.
        ConfigError: an unknown runtime, or ``"onnx"`` for a version without
            an ONNX file.
        DataError: a file no longer has the digest recorded at registration.
    """
    from tether.models.signature import Signature

    if runtime not in RUNTIMES:
        raise ConfigError(
            f"unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}",
            setting="runtime",
            value=runtime,
        )
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
    if runtime == "onnx":
        estimator = _load_onnx(record, files, meta.get("meta", {}))
    else:
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


def _load_onnx(
    record: ModelVersionRecord, files: ModelFiles, meta: dict[str, Any]
) -> Any:
    """Return the version's ONNX model on onnxruntime."""
    from tether.models.flavors.onnx import OnnxModel

    name = meta.get("onnx")
    if not name or name not in files:
        reason = meta.get("onnx_skipped") or "it was registered without onnx=True"
        raise ConfigError(
            f"{record.uri} has no ONNX model ({reason}); load it with "
            "runtime='native', or register the scikit-learn model again with "
            "onnx=True",
            setting="runtime",
            value="onnx",
        )
    return OnnxModel(files.read(name))


def input_example(record: ModelVersionRecord) -> pd.DataFrame | None:
    """Return the input example stored with a model version, if any."""
    import pandas as pd

    files = model_files(record)
    if EXAMPLE_FILE not in files:
        return None
    return pd.read_parquet(io.BytesIO(files.read(EXAMPLE_FILE)))
