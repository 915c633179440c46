"""The model registry: register versions, move aliases, load models by URI."""

from __future__ import annotations

import io
import json
import logging
import platform
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.artifacts import get_objects
from tether.errors import ConfigError, InvalidURIError
from tether.models.flavors import sklearn as sklearn_flavor
from tether.store import get_store
from tether.store.records import Edge, ModelVersionRecord
from tether.uris import parse_model_uri

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.active import RunLike as Run
    from tether.models.signature import Signature

logger = logging.getLogger(__name__)

ModelVersion = ModelVersionRecord
MODEL_FILE = "model.skops"
META_FILE = "tether-model.json"
# Parquet, because pandas writes JSON floats with at most 15 decimal places (10 by
# default), so a JSON example would not read back equal to the registered frame.
EXAMPLE_FILE = "input_example.parquet"


def register_model(
    model: Any,
    name: str,
    *,
    run: Run | None = None,
    signature: Signature | None = None,
    input_example: pd.DataFrame | None = None,
    metrics: Mapping[str, Any] | None = None,
    training_run_id: str | None = None,
) -> ModelVersionRecord:
    """Store ``model`` and register it as the next version of ``name``.

    The signature is inferred from ``input_example`` when not given. The
    version records the flavor, the file digests, the package pins it needs
    and the run that made it.
    """
    from tether.active import current
    from tether.models.signature import infer_signature

    _check_sklearn(model)
    _check_uri_part(name, f"models:/{name}/1", "model name")
    run = run or current()
    if signature is None and input_example is not None:
        signature = infer_signature(input_example)
    with tempfile.TemporaryDirectory(prefix="tether-model-") as folder:
        files = _write_model_folder(Path(folder), model, signature, input_example)
        blob = get_objects().put_dir(folder)
    details = {
        "files": files,
        "training_run_id": training_run_id or (run.id if run else None),
        "python": platform.python_version(),
        "requirements": sklearn_flavor.requirements(),
        "estimator": type(model).__qualname__,
    }
    record = get_store().add_model_version(
        name,
        run_id=run.id if run else None,
        flavor="sklearn",
        artifact_digest=blob.digest,
        signature=signature.to_dict() if signature else None,
        metrics=dict(metrics or {}),
        details=details,
    )
    if run is not None:
        get_store().add_edge(
            Edge("run", run.id, "model_version", record.id, "produced")
        )
    logger.info("registered %s from run %s", record.uri, run.id if run else None)
    return record


def set_alias(name: str, alias: str, version: int) -> None:
    """Point ``alias`` (e.g. ``champion``) at version ``version`` of model ``name``."""
    if alias.isdigit():
        raise ConfigError(
            f"invalid alias {alias!r}; an alias cannot be a number",
            setting="alias",
            value=alias,
        )
    _check_uri_part(alias, f"models:/m@{alias}", "alias")
    get_store().set_alias(name, alias, version)


def get_version(uri: str) -> ModelVersionRecord:
    """Return the model version a ``models:/`` URI points at."""
    ref = parse_model_uri(uri)
    store = get_store()
    version = (
        ref.version
        if ref.version is not None
        else store.resolve_alias(ref.name, str(ref.alias))
    )
    return store.get_model_version(ref.name, version)


def list_versions(name: str | None = None) -> list[ModelVersionRecord]:
    """Return the versions of one model, or of every model."""
    return get_store().list_model_versions(name)


@dataclass
class LoadedModel:
    """A registered model ready to predict, with its signature enforced."""

    uri: str
    name: str
    version: str
    record: ModelVersionRecord
    estimator: Any
    signature: Signature

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Enforce the signature and return the model's predictions."""
        from tether.models.signature import enforce

        result: np.ndarray = self.estimator.predict(enforce(self.signature, frame))
        return result

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Return the positive-class probability of a binary classifier, or None."""
        from tether.models.signature import enforce

        if not hasattr(self.estimator, "predict_proba"):
            return None
        probabilities: np.ndarray = self.estimator.predict_proba(
            enforce(self.signature, frame)
        )
        return probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities


def load(uri: str, *, trusted: Sequence[str] = ()) -> LoadedModel:
    """Load the model at ``models:/name/3`` or ``models:/name@alias``; no code runs."""
    from tether.models.signature import Signature

    record = get_version(uri)
    objects = get_objects()
    files = {
        entry["path"]: entry["digest"]
        for entry in objects.manifest(record.artifact_digest)
    }
    estimator = sklearn_flavor.loads_estimator(
        objects.read_bytes(files[MODEL_FILE]), trusted=trusted
    )
    signature = Signature.from_dict(record.signature) if record.signature else None
    if signature is None:
        raise ConfigError(
            f"{record.uri} has no signature; register it with an input example",
            setting="uri",
            value=uri,
        )
    return LoadedModel(
        uri, record.name, str(record.version), record, estimator, signature
    )


def input_example(record: ModelVersionRecord) -> pd.DataFrame | None:
    """Return the input example stored with a model version, if any."""
    import pandas as pd

    objects = get_objects()
    files = {
        entry["path"]: entry["digest"]
        for entry in objects.manifest(record.artifact_digest)
    }
    if EXAMPLE_FILE not in files:
        return None
    return pd.read_parquet(io.BytesIO(objects.read_bytes(files[EXAMPLE_FILE])))


def _write_model_folder(
    folder: Path, model: Any, signature: Signature | None, example: pd.DataFrame | None
) -> dict[str, str]:
    (folder / MODEL_FILE).write_bytes(sklearn_flavor.dumps_estimator(model))
    meta = {
        "flavor": "sklearn",
        "file": MODEL_FILE,
        "signature": signature.to_dict() if signature else None,
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    if example is not None:
        example.to_parquet(folder / EXAMPLE_FILE, engine="pyarrow", index=False)
    from tether.artifacts.digest import digest_file

    return {p.name: digest_file(p) for p in sorted(folder.iterdir())}


def _check_uri_part(value: str, uri: str, what: str) -> None:
    """Raise ConfigError when ``value`` makes the model URI ``uri`` invalid."""
    try:
        parse_model_uri(uri)
    except InvalidURIError:
        raise ConfigError(
            f"invalid {what} {value!r}; use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
            setting=what,
            value=value,
        ) from None


def _check_sklearn(model: Any) -> None:
    if not sklearn_flavor.is_sklearn_model(model):
        raise ConfigError(
            f"cannot register a {type(model).__qualname__}: only scikit-learn estimators and "
            "pipelines are supported so far",
            setting="model",
            value=type(model).__qualname__,
        )
