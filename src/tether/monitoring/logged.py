"""Read the predictions a served model logged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether.store import get_store

if TYPE_CHECKING:
    import pandas as pd


def load_predictions(model_name: str, version: int | None = None) -> pd.DataFrame:
    """Return every logged prediction of a model (one version or all) as one frame."""
    import pandas as pd

    paths = get_store().prediction_log_paths(model_name, version)
    frames = [pd.read_parquet(path) for path in paths]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
