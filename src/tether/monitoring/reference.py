"""Reference profiles: monitor drift without keeping the training data.

A :class:`ReferenceProfile` summarises each column of a reference data set
once, then grows with :meth:`~ReferenceProfile.update` and
:meth:`~ReferenceProfile.merge`. Per column it keeps counts, the mean and
variance, a fixed-edge histogram, category counts and a uniform reservoir
sample, whose values rebuild a frame for :func:`~tether.monitoring.drift`.
Memory depends on the settings, not on the number of rows. A profile is
stored as a JSON artifact of a run and read back with :func:`load_reference`.
See ``docs/monitoring-reference.md``.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from tether.active import current
from tether.data.seeds import check_seed
from tether.errors import ConfigError, DataError, NotFoundError
from tether.monitoring.reference_sketch import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    KINDS,
    NANOSECONDS_PER_UNIT,
    CategoryCounts,
    ColumnProfile,
    Histogram,
    Moments,
    Reservoir,
    SketchSettings,
    kind_of,
)
from tether.store.records import DatasetVersionRecord

if TYPE_CHECKING:
    from tether.store.records import ModelVersionRecord
    from tether.tracking.run import Run

logger = logging.getLogger(__name__)

DEFAULT_BINS = 20
DEFAULT_TOP_K = 1000
DEFAULT_SAMPLE_SIZE = 10_000
DEFAULT_ARTIFACT_PATH = "monitoring/reference_profile.json"
"""Artifact path of a logged profile, where ``models:/`` URIs look by default."""
MODEL_TAG = "reference_profile"
"""Model version tag whose value is the ``runs:/`` URI of the version's profile."""
FORMAT = "tether.reference_profile"
FORMAT_VERSION = 1


class ReferenceProfile:
    """Mergeable per-column summary of a reference data set.

    Build one with :meth:`fit`. :meth:`update` adds rows in place, and
    :meth:`merge` returns the profile of two profiles' rows. Every column
    has the fields of :class:`~tether.monitoring.reference_sketch.ColumnProfile`.

    Attributes:
        rows: Rows seen by every column.
        seed: Seed of the random generator behind the reservoir samples.
        settings: Histogram bins, category limit and sample size.
        categorical: Columns profiled as categorical whatever their dtype.
        sources: ``{"dataset": URI, "digest": ...}`` of each dataset version
            read by :meth:`fit` or :meth:`update`.
    """

    def __init__(
        self,
        *,
        bins: int = DEFAULT_BINS,
        top_k: int = DEFAULT_TOP_K,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        seed: int = 0,
        categorical: Sequence[str] | None = None,
    ) -> None:
        """Create an empty profile. :meth:`fit` creates one and adds the first data.

        Args:
            bins: Maximum histogram bins per numeric or datetime column.
            top_k: Maximum categories counted by name per column. The rest
                are counted together as ``other``.
            sample_size: Values kept in each column's reservoir sample.
            seed: Seed of :func:`numpy.random.default_rng`, from 0 to 2**32 - 1.
            categorical: Columns to profile as categorical whatever their
                dtype, such as integer codes.

        Raises:
            ConfigError: A size is not a positive integer, the seed is
                invalid, or ``categorical`` is a single string.
        """
        self.settings = SketchSettings(
            bins=_positive("bins", bins),
            top_k=_positive("top_k", top_k),
            sample_size=_positive("sample_size", sample_size),
        )
        self.seed = check_seed(seed, "a reference profile")
        if isinstance(categorical, str):
            raise ConfigError(
                f"categorical must be a list of column names, got the string "
                f"{categorical!r}. Pass [{categorical!r}] instead.",
                setting="categorical",
                value=categorical,
            )
        self.categorical = tuple(str(name) for name in categorical or ())
        self.rows = 0
        self.sources: list[dict[str, Any]] = []
        self._columns: dict[str, ColumnProfile] = {}
        self._rng = np.random.default_rng(self.seed)

    @classmethod
    def fit(
        cls,
        data: pd.DataFrame | str | DatasetVersionRecord,
        *,
        bins: int = DEFAULT_BINS,
        top_k: int = DEFAULT_TOP_K,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        seed: int = 0,
        categorical: Sequence[str] | None = None,
    ) -> ReferenceProfile:
        """Profile a DataFrame or a dataset version (``datasets:/NAME@VERSION``).

        The arguments other than ``data`` are those of the constructor. The
        histogram edges of each column come from the quantiles of the first
        finite values it receives, so fit on data that represents the reference.

        Raises:
            ConfigError: An option is invalid, ``data`` is neither a frame nor
                a dataset URI, or ``categorical`` names a missing column.
            DataError: Two columns share a name.
            NotFoundError: The dataset version does not exist.
        """
        profile = cls(
            bins=bins,
            top_k=top_k,
            sample_size=sample_size,
            seed=seed,
            categorical=categorical,
        )
        return profile.update(data)

    # -- reading -------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """Column names, in the order of the first data."""
        return list(self._columns)

    def column(self, name: str) -> ColumnProfile:
        """Return the summary of column ``name``.

        Raises:
            NotFoundError: The profile has no column of that name.
        """
        found = self._columns.get(str(name))
        if found is None:
            known = ", ".join(repr(key) for key in self._columns) or "none"
            raise NotFoundError(
                f"column {name!r} is not in the reference profile. Columns: {known}",
                kind="column",
                name=str(name),
            )
        return found

    def reference_frame(self) -> pd.DataFrame:
        """Return the sampled values of every column, for :func:`drift`.

        Each column is sampled on its own, so a row mixes values of different
        source rows. Columns with fewer sampled values than the longest are
        padded with nulls, so ``reference_nulls`` in a drift result reflects
        the padding, not the reference data. The profile's ``null_count`` is
        the true count.
        """
        length = max((len(c.sample.values) for c in self._columns.values()), default=0)
        data = {
            name: column.sample_series(length) for name, column in self._columns.items()
        }
        return pd.DataFrame(data, index=pd.RangeIndex(length))

    # -- adding data ---------------------------------------------------------

    def update(
        self, data: pd.DataFrame | str | DatasetVersionRecord
    ) -> ReferenceProfile:
        """Add the rows of a DataFrame or a dataset version, and return self.

        The columns must be those of the first data, in any order. Nothing is
        added when a column fails its checks.

        Raises:
            ConfigError: ``data`` is neither a frame nor a dataset URI, or
                ``categorical`` names a column missing from the first data.
            DataError: The columns differ from the profile's, two columns
                share a name, or a column's values changed kind (numeric,
                categorical, datetime, bool) or mixed naive and aware datetimes.
            NotFoundError: The dataset version does not exist.
        """
        frame, source = _frame_of(data)
        names = _column_names(frame)
        if not self._columns and self.rows == 0:
            self._adopt(frame, names)
        self._check_names(names)
        forced = set(self.categorical)
        kinds = [
            self._columns[name].accepts(frame.iloc[:, position], name in forced)
            for position, name in enumerate(names)
        ]
        for position, name in enumerate(names):
            self._columns[name].add(
                frame.iloc[:, position], kinds[position], self._rng, self.settings
            )
        self.rows += len(frame)
        if source is not None:
            self.sources.append(source)
        logger.debug("reference profile: added %d rows", len(frame))
        return self

    def _adopt(self, frame: pd.DataFrame, names: list[str]) -> None:
        unknown = [name for name in self.categorical if name not in names]
        if unknown:
            raise ConfigError(
                f"categorical names columns that are not in the data: {unknown}. "
                "Check the spelling.",
                setting="categorical",
                value=unknown,
            )
        forced = set(self.categorical)
        for position, name in enumerate(names):
            series = frame.iloc[:, position]
            kind = kind_of(series, name in forced)
            self._columns[name] = ColumnProfile.empty(name, kind, series, self.settings)

    def _check_names(self, names: list[str]) -> None:
        missing = [name for name in self._columns if name not in names]
        extra = [name for name in names if name not in self._columns]
        if missing or extra:
            raise DataError(
                "the data's columns differ from the reference profile's: "
                f"missing {missing}, not in the profile {extra}. Select the "
                "profiled columns, or fit a new profile"
            )

    # -- merging ---------------------------------------------------------------

    def merge(self, other: ReferenceProfile) -> ReferenceProfile:
        """Return the profile of both profiles' rows, leaving both unchanged.

        Moments and counts equal those of one profile fitted on all the rows,
        up to rounding. Each merged sample is a uniform sample of the union.
        The result keeps the smaller of the two ``top_k`` and ``sample_size``,
        and this profile's seed and random state.

        Raises:
            DataError: The column names differ, a column's kind differs, or a
                column's histogram edges differ (the message names it). Build
                the other profile from :meth:`empty_like` to share the edges.
        """
        if not isinstance(other, ReferenceProfile):
            raise ConfigError(
                f"can only merge a ReferenceProfile, got {type(other).__name__}",
                setting="other",
                value=type(other).__name__,
            )
        if other.seed == self.seed and self.rows and other.rows:
            logger.warning(
                "merging two reference profiles with seed %d: their samples come "
                "from one random stream, so the merged sample may not be uniform. "
                "Use empty_like(seed=...) with a new seed for each part",
                self.seed,
            )
        self_empty = not self._columns and self.rows == 0
        other_empty = not other._columns and other.rows == 0
        if not self_empty and not other_empty:
            self._check_names(list(other._columns))
        settings = SketchSettings(
            bins=self.settings.bins,
            top_k=min(self.settings.top_k, other.settings.top_k),
            sample_size=min(self.settings.sample_size, other.settings.sample_size),
        )
        merged = self._like(settings, self.seed)
        merged._rng.bit_generator.state = self._rng.bit_generator.state
        merged.rows = self.rows + other.rows
        merged.sources = [*self.sources, *other.sources]
        merged.categorical = tuple(
            dict.fromkeys([*self.categorical, *other.categorical])
        )
        if self_empty or other_empty:
            lone = other if self_empty else self
            for name, column in lone._columns.items():
                merged._columns[name] = column.merged(
                    column.emptied(settings), merged._rng, settings
                )
            return merged
        for name, column in self._columns.items():
            merged._columns[name] = column.merged(
                other._columns[name], merged._rng, settings
            )
        return merged

    def empty_like(self, *, seed: int) -> ReferenceProfile:
        """Return a profile with no rows and this profile's columns and edges.

        Update it with another part of the data, then :meth:`merge` the two.
        Give each part its own seed: parts with one seed draw the same sample
        positions, and the merged sample is then not uniform.
        """
        profile = self._like(self.settings, seed)
        profile._columns = {
            name: column.emptied(self.settings)
            for name, column in self._columns.items()
        }
        return profile

    def _like(self, settings: SketchSettings, seed: int) -> ReferenceProfile:
        return ReferenceProfile(
            bins=settings.bins,
            top_k=settings.top_k,
            sample_size=settings.sample_size,
            seed=seed,
            categorical=self.categorical,
        )

    # -- storage ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as JSON-safe data that :meth:`from_dict` reads back.

        Floats that are not finite (an overflowed variance, the bounds of an
        empty column) are written as the strings ``"Infinity"``,
        ``"-Infinity"`` and ``"NaN"``. The random state is kept, so a loaded
        profile updates exactly as the original would.
        """
        state = self._rng.bit_generator.state
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rows": self.rows,
            "settings": {
                "bins": self.settings.bins,
                "top_k": self.settings.top_k,
                "sample_size": self.settings.sample_size,
                "seed": self.seed,
                "categorical": list(self.categorical),
            },
            "random_state": {
                "bit_generator": state["bit_generator"],
                # PCG64 state is 128-bit, beyond what many JSON readers keep exact.
                "state": str(state["state"]["state"]),
                "inc": str(state["state"]["inc"]),
                "has_uint32": int(state["has_uint32"]),
                "uinteger": int(state["uinteger"]),
            },
            "sources": list(self.sources),
            "columns": [_column_to_dict(column) for column in self._columns.values()],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ReferenceProfile:
        """Rebuild a profile from :meth:`to_dict` output.

        Raises:
            DataError: ``data`` is not a reference profile of a known format
                version, or a field is missing or malformed.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(
                f"not a reference profile: expected a mapping with format {FORMAT!r}"
            )
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise DataError(
                f"unsupported reference profile format_version {version!r}: this "
                f"Tether reads version {FORMAT_VERSION}. Fit the profile again"
            )
        try:
            return _profile_from_dict(cls, data)
        except KeyError as exc:
            raise DataError(f"invalid reference profile: missing field {exc}") from exc
        except (TypeError, ValueError, IndexError) as exc:
            raise DataError(f"invalid reference profile: {exc}") from exc

    def to_json(self) -> bytes:
        """Return :meth:`to_dict` encoded as UTF-8 JSON."""
        return orjson.dumps(self.to_dict())

    def save(self, path: str | Path) -> Path:
        """Write the profile as a JSON file and return its path."""
        target = Path(path)
        target.write_bytes(self.to_json())
        return target

    def log(
        self, run: Run | None = None, artifact_path: str = DEFAULT_ARTIFACT_PATH
    ) -> str:
        """Store the profile as a JSON artifact of ``run`` (default: the active run).

        Returns:
            The URI ``runs:/RUN_ID/ARTIFACT_PATH`` that :func:`load_reference`
            and :func:`attach_reference` take. A model registered from this
            run finds the profile at the default path without a tag.

        Raises:
            ConfigError: No run is given and none is active.
        """
        run = run or current()
        if run is None:
            raise ConfigError(
                "no active run to log the reference profile to. Wrap the code in "
                "`with tether.start_run():` or pass run=",
                setting="run",
            )
        record = run.log_bytes(
            self.to_json(), artifact_path, media_type="application/json"
        )
        uri = f"runs:/{run.id}/{record.path}"
        logger.info("logged a reference profile of %d rows as %s", self.rows, uri)
        return uri

    def __repr__(self) -> str:
        return (
            f"ReferenceProfile(rows={self.rows}, columns={len(self._columns)}, "
            f"sample_size={self.settings.sample_size}, seed={self.seed})"
        )


def _positive(setting: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(
            f"{setting} must be an integer of 1 or more, got {value!r}",
            setting=setting,
            value=value,
        )
    return int(value)


def _frame_of(
    data: pd.DataFrame | str | DatasetVersionRecord,
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, DatasetVersionRecord) or (
        isinstance(data, str) and data.startswith("datasets:/")
    ):
        from tether.data.versions import load, resolve

        # NOTE: tether.data.versions.load reads the whole version into memory,
        # so only the profile itself has bounded memory.
        record = data if isinstance(data, DatasetVersionRecord) else resolve(data)
        return load(record), {"dataset": record.uri, "digest": record.digest}
    raise ConfigError(
        "data must be a pandas DataFrame or a dataset URI such as "
        f"datasets:/flights@3, got {type(data).__name__} {data!r:.80}",
        setting="data",
        value=type(data).__name__,
    )


def _column_names(frame: pd.DataFrame) -> list[str]:
    names = [str(label) for label in frame.columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"the data has duplicated column names {repeated}. Rename or drop "
            "the duplicates."
        )
    return names


# -- JSON encoding of columns --------------------------------------------------


def _encode_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _decode_float(value: Any) -> float:
    if isinstance(value, str) and value not in ("NaN", "Infinity", "-Infinity"):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _column_to_dict(column: ColumnProfile) -> dict[str, Any]:
    moments = column.moments
    histogram = column.histogram
    categories = column.categories
    return {
        "name": column.name,
        "kind": column.kind,
        "count": column.count,
        "null_count": column.null_count,
        "non_finite_count": column.non_finite_count,
        "integer": column.integer,
        "timezone": column.timezone,
        "unit": column.unit,
        "moments": {
            "count": moments.count,
            "mean": _encode_float(moments.mean),
            "m2": _encode_float(moments.m2),
            "min": _encode_float(moments.minimum),
            "max": _encode_float(moments.maximum),
        },
        "histogram": None
        if histogram is None
        else {
            "edges": histogram.edges.tolist(),
            "counts": histogram.counts.tolist(),
            "underflow": histogram.underflow,
            "overflow": histogram.overflow,
        },
        "categories": None
        if categories is None
        else {
            "limit": categories.limit,
            "labels": categories.labels.tolist(),
            "counts": categories.counts.tolist(),
            "other": categories.other,
        },
        "sample": {
            "capacity": column.sample.capacity,
            "seen": column.sample.seen,
            "values": column.sample.values.tolist(),
        },
    }


def _profile_from_dict(
    cls: type[ReferenceProfile], data: dict[str, Any]
) -> ReferenceProfile:
    settings = data["settings"]
    profile = cls(
        bins=settings["bins"],
        top_k=settings["top_k"],
        sample_size=settings["sample_size"],
        seed=settings["seed"],
        categorical=settings["categorical"],
    )
    state = data["random_state"]
    profile._rng.bit_generator.state = {
        "bit_generator": state["bit_generator"],
        "state": {"state": int(state["state"]), "inc": int(state["inc"])},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }
    profile.rows = int(data["rows"])
    profile.sources = list(data["sources"])
    for item in data["columns"]:
        column = _column_from_dict(item)
        if column.count != profile.rows:
            raise ValueError(
                f"column {column.name!r} counts {column.count} rows, "
                f"the profile {profile.rows}"
            )
        profile._columns[column.name] = column
    return profile


def _column_from_dict(item: dict[str, Any]) -> ColumnProfile:
    kind = item["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown column kind {kind!r}, expected one of {KINDS}")
    if kind == DATETIME and item["unit"] not in NANOSECONDS_PER_UNIT:
        raise ValueError(f"unknown datetime unit {item['unit']!r}")
    column = ColumnProfile(
        str(item["name"]),
        kind,
        _reservoir_from_dict(item["sample"], kind),
        count=int(item["count"]),
        null_count=int(item["null_count"]),
        non_finite_count=int(item["non_finite_count"]),
        moments=_moments_from_dict(item["moments"]),
        integer=bool(item["integer"]),
        timezone=item["timezone"],
        unit=item["unit"],
    )
    histogram = item["histogram"]
    if histogram is not None:
        column.histogram = Histogram(
            np.asarray(histogram["edges"], dtype=np.float64),
            np.asarray(histogram["counts"], dtype=np.int64),
            int(histogram["underflow"]),
            int(histogram["overflow"]),
        )
        if len(column.histogram.counts) != len(column.histogram.edges) - 1:
            raise ValueError(
                f"column {column.name!r}: histogram counts and edges differ"
            )
    categories = item["categories"]
    if categories is not None:
        labels = np.array([str(label) for label in categories["labels"]], dtype=object)
        counts = np.asarray(categories["counts"], dtype=np.int64)
        if labels.shape != counts.shape:
            raise ValueError(
                f"column {column.name!r}: category labels and counts differ"
            )
        column.categories = CategoryCounts(
            int(categories["limit"]), labels, counts, int(categories["other"])
        )
    return column


def _moments_from_dict(item: dict[str, Any]) -> Moments:
    return Moments(
        int(item["count"]),
        _decode_float(item["mean"]),
        _decode_float(item["m2"]),
        _decode_float(item["min"]),
        _decode_float(item["max"]),
    )


def _reservoir_from_dict(item: dict[str, Any], kind: str) -> Reservoir:
    capacity, seen = int(item["capacity"]), int(item["seen"])
    raw = item["values"]
    if kind == CATEGORICAL:
        values = np.array([str(value) for value in raw], dtype=object)
    elif kind == BOOLEAN:
        values = np.asarray(raw, dtype=np.bool_)
    else:
        values = np.asarray(raw, dtype=np.float64)
    if len(values) != min(capacity, seen):
        raise ValueError(
            f"expected {min(capacity, seen)} sampled values for capacity "
            f"{capacity} after {seen} values, got {len(values)}"
        )
    return Reservoir(capacity, values, seen)


# -- runs and models -----------------------------------------------------------


def load_reference(uri: str | Path) -> ReferenceProfile:
    """Read a stored reference profile.

    Args:
        uri: ``runs:/RUN_ID/PATH`` of a logged profile (``runs:/RUN_ID`` reads
            the default path), ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``,
            or the path of a JSON file written by :meth:`ReferenceProfile.save`.
            A model version's profile is the one its ``reference_profile``
            tag names, else the one at the default path of the run that
            registered it.

    Raises:
        NotFoundError: The run, model version, artifact or file does not exist.
        InvalidURIError: The URI does not parse.
        DataError: The stored data is not a reference profile.
    """
    text = str(uri)
    if text.startswith("runs:/"):
        return ReferenceProfile.from_dict(orjson.loads(_run_artifact_bytes(text)))
    if text.startswith("models:/"):
        return load_reference(_model_reference_uri(text))
    if text.startswith("datasets:/"):
        raise ConfigError(
            f"{text} is a dataset, not a stored profile. Profile it with "
            "ReferenceProfile.fit(uri)",
            setting="uri",
            value=text,
        )
    path = Path(text)
    if not path.is_file():
        raise NotFoundError(
            f"reference profile {text!r} not found: expected runs:/RUN_ID/PATH, "
            "models:/NAME/VERSION, models:/NAME@ALIAS or a JSON file",
            kind="reference profile",
            name=text,
        )
    return ReferenceProfile.from_dict(orjson.loads(path.read_bytes()))


def attach_reference(model_uri: str, reference_uri: str) -> ModelVersionRecord:
    """Tag a model version with the ``runs:/`` URI of its reference profile.

    The tag (key :data:`MODEL_TAG`) goes through the registry, so the change
    is in the model's audit trail.

    Returns:
        The updated model version.

    Raises:
        InvalidURIError: ``reference_uri`` is not a ``runs:/`` URI.
        NotFoundError: The model version, run or artifact does not exist.
    """
    from tether.models.registry import tag

    run_id, path = _run_artifact(reference_uri)
    _artifact_digest(run_id, path)
    return tag(model_uri, {MODEL_TAG: f"runs:/{run_id}/{path}"})


def _run_artifact(uri: str) -> tuple[str, str]:
    from tether.uris import parse_run_uri

    ref = parse_run_uri(uri)
    return ref.run_id, ref.path or DEFAULT_ARTIFACT_PATH


def _run_artifact_bytes(uri: str) -> bytes:
    from tether.artifacts import get_objects

    run_id, path = _run_artifact(uri)
    return get_objects().read_bytes(_artifact_digest(run_id, path))


def _artifact_digest(run_id: str, path: str) -> str:
    from tether.store import get_store

    store = get_store()
    store.get_run(run_id)
    logged = store.list_artifacts(run_id)
    for record in logged:
        if record.path == path and not record.is_dir:
            return record.digest
    paths = ", ".join(record.path for record in logged) or "none"
    raise NotFoundError(
        f"run {run_id} has no artifact {path!r} (its artifacts: {paths}). Log a "
        "profile with ReferenceProfile.log()",
        kind="artifact",
        name=f"runs:/{run_id}/{path}",
    )


def _model_reference_uri(uri: str) -> str:
    from tether.models.registry import get_version

    record = get_version(uri)
    tagged = record.tags.get(MODEL_TAG)
    if tagged:
        return tagged
    run_id = record.run_id or record.details.get("training_run_id")
    if not run_id:
        raise NotFoundError(
            f"{record.uri} has no reference profile: it has no {MODEL_TAG!r} tag "
            "and no run. Attach one with attach_reference(model_uri, 'runs:/...')",
            kind="reference profile",
            name=record.uri,
        )
    return f"runs:/{run_id}/{DEFAULT_ARTIFACT_PATH}"
