"""Search runs and return them as a pandas DataFrame or a list of records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from tether.errors import ConfigError, NotFoundError
from tether.sdk import flush
from tether.store import get_store
from tether.store.records import RunRecord
from tether.store.search_ops import MAX_PAGE_SIZE

if TYPE_CHECKING:
    import pandas as pd

RUN_COLUMNS = [
    "run_id",
    "experiment",
    "name",
    "kind",
    "status",
    "start_time",
    "end_time",
]


@overload
def search_runs(
    experiment: str | Sequence[str] | None = ...,
    filter: str = ...,
    order_by: Sequence[str] = ...,
    max_results: int = ...,
    output_format: Literal["pandas"] = ...,
) -> pd.DataFrame: ...


@overload
def search_runs(
    experiment: str | Sequence[str] | None = ...,
    filter: str = ...,
    order_by: Sequence[str] = ...,
    max_results: int = ...,
    *,
    output_format: Literal["list"],
) -> list[RunRecord]: ...


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str = "",
    order_by: Sequence[str] = (),
    max_results: int = 1000,
    output_format: Literal["pandas", "list"] = "pandas",
) -> pd.DataFrame | list[RunRecord]:
    """Search runs and return one row per run.

    Buffered metrics of this process are written to the store first, so the
    search includes them. ``docs/search.md`` describes the filter language.

    Args:
        experiment: The name of one experiment, several names, or None for all.
        filter: A filter such as ``"metrics.auc > 0.8 and params.model = 'gbm'"``.
        order_by: Order keys such as ``"metrics.auc DESC"``. The default is
            the newest run first.
        max_results: The maximum number of runs to return.
        output_format: ``"pandas"`` for a DataFrame, ``"list"`` for a list of
            :class:`~tether.store.records.RunRecord`, which needs no pandas.

    Returns:
        With ``"pandas"``, a frame with the columns run_id, experiment, name,
        kind, status, start_time and end_time (UTC), then one
        ``params.<key>`` column per param key, one ``metrics.<key>`` column
        per metric key (latest values) and one ``tags.<key>`` column per tag
        key, each in key order. A run without a value has NaN there. With
        ``"list"``, the same runs as records, in the same order.

    Raises:
        FilterSyntaxError: ``filter`` or an order key does not parse.
        ConfigError: ``max_results`` is not a whole number of 1 or more, or
            ``output_format`` is neither "pandas" nor "list".
        NotFoundError: a named experiment does not exist.
    """
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or max_results < 1
    ):
        raise ConfigError(
            f"invalid max_results {max_results!r}; use a whole number of 1 or more",
            setting="max_results",
            value=max_results,
        )
    if output_format not in ("pandas", "list"):
        raise ConfigError(
            f"invalid output_format {output_format!r}; use 'pandas' or 'list'",
            setting="output_format",
            value=output_format,
        )
    flush()
    names = [experiment] if isinstance(experiment, str) else experiment
    _check_experiments(names)
    records = _collect(names, filter, order_by, max_results)
    return records if output_format == "list" else _frame(records)


def _check_experiments(names: Sequence[str] | None) -> None:
    store = get_store()
    unknown = [name for name in names or () if not store.experiment_exists(name)]
    if unknown:
        raise NotFoundError(
            f"experiment {', '.join(map(repr, unknown))} not found; check the name, "
            "or pass experiment=None to search every experiment",
            kind="experiment",
            name=unknown[0],
        )


def _collect(
    experiments: Sequence[str] | None,
    filter_text: str,
    order_by: Sequence[str],
    max_results: int,
) -> list[RunRecord]:
    store = get_store()
    records: list[RunRecord] = []
    token: str | None = None
    while True:
        page_size = min(max_results - len(records), MAX_PAGE_SIZE)
        page, token = store.search_runs(
            experiments=experiments,
            filter=filter_text,
            order_by=order_by,
            max_results=page_size,
            page_token=token,
        )
        records.extend(page)
        if token is None or len(records) >= max_results:
            return records


def _frame(records: list[RunRecord]) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, Any] = {
        "run_id": [r.id for r in records],
        "experiment": [r.experiment for r in records],
        "name": [r.name for r in records],
        "kind": [r.kind for r in records],
        "status": [r.status for r in records],
        "start_time": _times([r.start_time for r in records]),
        "end_time": _times([r.end_time for r in records]),
    }
    for field in ("params", "metrics", "tags"):
        keys = sorted({key for r in records for key in getattr(r, field)})
        for key in keys:
            values = [getattr(r, field).get(key) for r in records]
            columns[f"{field}.{key}"] = _column(values, numeric=field == "metrics")
    return pd.DataFrame(columns, columns=list(columns))


def _column(values: list[Any], *, numeric: bool) -> Any:
    import pandas as pd

    if numeric:
        return pd.Series(values, dtype="float64")
    return pd.Series(values, dtype="str")


def _times(values: list[datetime | None]) -> Any:
    import pandas as pd

    return pd.to_datetime(pd.Series(values, dtype=object), utc=True)
