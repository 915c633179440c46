"""Mergeable summaries of one column for :mod:`tether.monitoring.reference`.

Each summary absorbs chunks of values and merges with a summary of other
values. The result equals a summary of all the values at once: exactly for
counts, up to floating-point rounding for the mean and variance (Chan's
parallel update), and in distribution for the reservoir sample.
Memory depends on the settings (bins, category limit, sample size), not on the
number of values seen.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.api.extensions import ExtensionArray

from tether.errors import DataError

ArrayLike = np.ndarray | ExtensionArray
"""A column's values: a NumPy array or a pandas extension array."""

HYPERGEOMETRIC_LIMIT = 1_000_000_000
"""NumPy's ``Generator.hypergeometric`` rejects populations of this size or more."""


@dataclass
class Moments:
    """Count, mean, sum of squared deviations (``m2``), minimum and maximum.

    An empty summary has count 0, mean 0, m2 0, minimum +inf and maximum -inf.
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    @property
    def variance(self) -> float:
        """Population variance (``ddof=0``, as ``numpy.var``), NaN when empty."""
        return self.m2 / self.count if self.count else math.nan

    @classmethod
    def of_sorted(cls, values: np.ndarray) -> Moments:
        """Summarise finite float64 values sorted in ascending order."""
        if values.size == 0:
            return cls()
        mean, m2 = _mean_and_m2(values)
        return cls(int(values.size), mean, m2, float(values[0]), float(values[-1]))

    def merged(self, other: Moments) -> Moments:
        """Return the moments of both sets of values with Chan's parallel update.

        With ``d = other.mean - self.mean`` and ``n = n_a + n_b``, the mean is
        ``mean_a + d * n_b / n`` and ``m2 = m2_a + m2_b + d**2 * n_a * n_b / n``.
        """
        if other.count == 0:
            return Moments(self.count, self.mean, self.m2, self.minimum, self.maximum)
        if self.count == 0:
            return Moments(
                other.count, other.mean, other.m2, other.minimum, other.maximum
            )
        total = self.count + other.count
        other_share = other.count / total
        delta = other.mean - self.mean
        if math.isfinite(delta):
            mean = self.mean + delta * other_share
        else:
            # Means of opposite sign near ±1.8e308 overflow their difference.
            mean = self.mean * (self.count / total) + other.mean * other_share
        m2 = self.m2 + other.m2 + delta * delta * (self.count * other_share)
        return Moments(
            total,
            mean,
            m2,
            min(self.minimum, other.minimum),
            max(self.maximum, other.maximum),
        )


def _mean_and_m2(values: np.ndarray) -> tuple[float, float]:
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(values.mean())
        if not math.isfinite(mean):
            # The sum overflowed although every value is finite. Dividing by a
            # power of two is exact, except for values so small that they
            # become subnormal, and those cannot change a mean this large.
            _, exponent = math.frexp(float(np.abs(values).max()))
            scale = math.ldexp(1.0, exponent - 1)
            scaled = values / scale
            scaled_mean = float(scaled.mean())
            deviations = scaled - scaled_mean
            # NOTE: m2 is +inf when the variance itself exceeds float64.
            m2 = float(np.square(deviations, out=deviations).sum()) * scale * scale
            return scaled_mean * scale, m2
        deviations = values - mean
        return mean, float(np.square(deviations, out=deviations).sum())


@dataclass
class Histogram:
    """Counts of values in fixed bins, plus the values below and above them.

    Bin ``i`` contains the values in ``[edges[i], edges[i + 1])``, and the last
    bin also contains ``edges[-1]``. Edges ``[v, v]`` make one bin that
    contains only ``v``, which is how a constant column is binned.
    """

    edges: np.ndarray
    counts: np.ndarray
    underflow: int = 0
    overflow: int = 0

    @classmethod
    def empty(cls, edges: np.ndarray) -> Histogram:
        """Return a histogram with the given edges and no values."""
        edges = np.asarray(edges, dtype=np.float64)
        return cls(edges, np.zeros(len(edges) - 1, dtype=np.int64))

    @property
    def total(self) -> int:
        """Number of values counted, in the bins or outside them."""
        return int(self.counts.sum()) + self.underflow + self.overflow

    def add_sorted(self, values: np.ndarray) -> None:
        """Count finite values sorted in ascending order."""
        if values.size == 0:
            return
        starts = np.searchsorted(values, self.edges, side="left")
        end = int(np.searchsorted(values, self.edges[-1], side="right"))
        counts = np.diff(starts)
        counts[-1] += end - starts[-1]
        self.counts = self.counts + counts
        self.underflow += int(starts[0])
        self.overflow += int(values.size) - end

    def merged(self, other: Histogram, column: str) -> Histogram:
        """Return the sum of two histograms with the same edges.

        Raises:
            DataError: The edges differ, so the counts cannot be added.
        """
        if not np.array_equal(self.edges, other.edges):
            raise DataError(
                f"cannot merge column {column!r}: its histogram edges differ "
                f"({_describe_edges(self.edges)} and {_describe_edges(other.edges)}). "
                "Build the second profile with first.empty_like() and update() so "
                "both share the edges"
            )
        return Histogram(
            self.edges.copy(),
            self.counts + other.counts,
            self.underflow + other.underflow,
            self.overflow + other.overflow,
        )


def _describe_edges(edges: np.ndarray) -> str:
    return f"{len(edges)} edges from {edges[0]:.6g} to {edges[-1]:.6g}"


def edges_from_sorted(values: np.ndarray, bins: int) -> np.ndarray:
    """Return histogram edges for finite float64 values sorted in ascending order.

    With at most ``bins`` distinct values, each value gets its own bin, with
    edges halfway between neighbours. Otherwise the edges are the quantiles
    at ``0, 1/bins, ..., 1`` (linear interpolation, as ``numpy.quantile``),
    with repeated edges dropped, so there may be fewer than ``bins`` bins.
    """
    steps = values[1:] != values[:-1]
    if np.count_nonzero(steps) < bins:
        distinct = values[np.concatenate(([0], np.flatnonzero(steps) + 1))]
        if distinct.size == 1:
            return np.array([distinct[0], distinct[0]])
        # Halving first keeps the midpoint of values near ±1.8e308 finite.
        middles = distinct[:-1] / 2 + distinct[1:] / 2
        inner = np.concatenate(([distinct[0]], middles, [distinct[-1]]))
        return np.unique(inner)
    return np.unique(_sorted_quantiles(values, bins))


def _sorted_quantiles(values: np.ndarray, bins: int) -> np.ndarray:
    positions = np.linspace(0.0, 1.0, bins + 1) * (values.size - 1)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, values.size - 1)
    fraction = positions - lower
    low, high = values[lower], values[upper]
    with np.errstate(over="ignore", invalid="ignore"):
        points = low + (high - low) * fraction
    # The difference of values near ±1.8e308 can overflow, and the lower value
    # is then a valid edge.
    return np.where(np.isfinite(points), points, low)


@dataclass
class CategoryCounts:
    """Counts of the most frequent categories, and of the rest as ``other``.

    The counts are exact while no more than ``limit`` distinct categories
    have been seen. Past that, the categories beyond the ``limit`` most
    frequent are folded into ``other`` after each chunk or merge, so a
    category that was folded and comes back restarts its count at 0.
    ``sum(counts) + other`` is always the number of values seen.
    """

    limit: int
    labels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    other: int = 0

    @property
    def total(self) -> int:
        """Number of values counted, in ``counts`` or in ``other``."""
        return int(self.counts.sum()) + self.other

    def as_dict(self) -> dict[str, int]:
        """Return the counts by label, most frequent first."""
        return dict(zip(self.labels.tolist(), self.counts.tolist(), strict=True))

    def add(self, labels: np.ndarray, counts: np.ndarray) -> None:
        """Add the counts of one chunk, one entry per label."""
        if self.labels.size:
            labels, counts = _sum_by_label(
                np.concatenate([self.labels, labels]),
                np.concatenate([self.counts, counts]),
            )
        self.labels, self.counts, folded = _keep_top(labels, counts, self.limit)
        self.other += folded

    def merged(self, other: CategoryCounts, limit: int) -> CategoryCounts:
        """Return the counts of both summaries, keeping at most ``limit`` labels."""
        labels, counts = _sum_by_label(
            np.concatenate([self.labels, other.labels]),
            np.concatenate([self.counts, other.counts]),
        )
        labels, counts, folded = _keep_top(labels, counts, limit)
        return CategoryCounts(limit, labels, counts, self.other + other.other + folded)


def _sum_by_label(
    labels: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return each label once with its summed count, in first appearance order.

    Labels already counted come first in the input, so they win ties in
    :func:`_keep_top`.
    """
    codes, unique = pd.factorize(labels)
    if len(unique) == len(labels):
        return labels, counts
    sums = np.zeros(len(unique), dtype=np.int64)
    np.add.at(sums, codes, counts)
    return np.asarray(unique, dtype=object), sums


def _keep_top(
    labels: np.ndarray, counts: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Keep the ``limit`` largest counts, most frequent first, ties in input order.

    Returns:
        The kept labels, their counts and the sum of the other counts.
    """
    if counts.size > limit:
        # The limit-th largest count: every larger one is kept, and the
        # earliest of the equal ones fill the remaining places.
        threshold = np.partition(counts, counts.size - limit)[counts.size - limit]
        above = np.flatnonzero(counts > threshold)
        ties = np.flatnonzero(counts == threshold)[: limit - above.size]
        chosen = np.sort(np.concatenate([above, ties]))
    else:
        chosen = np.arange(counts.size)
    chosen = chosen[np.argsort(-counts[chosen], kind="stable")]
    kept_counts = counts[chosen]
    return labels[chosen], kept_counts, int(counts.sum()) - int(kept_counts.sum())


@dataclass
class Reservoir:
    """A uniform random sample of at most ``capacity`` of the values seen.

    Every subset of ``min(capacity, seen)`` values is equally likely,
    whatever the chunk sizes and however many merges built it, provided the
    merged samples were drawn from independent random streams.
    """

    capacity: int
    values: np.ndarray
    seen: int = 0

    def add(
        self,
        chunk: ArrayLike,
        rng: np.random.Generator,
        convert: Callable[[ArrayLike], np.ndarray] | None = None,
    ) -> None:
        """Offer every value of ``chunk`` to the sample (Algorithm R).

        The value at 1-based stream position ``i`` takes a random slot ``j``,
        uniform in ``[0, i)``, when ``j < capacity``. One random number is drawn
        per value, all at once. ``convert`` maps the chosen values to the
        stored type, so a chunk is converted only where it enters the sample.
        """
        size = len(chunk)
        if size == 0:
            return
        convert = convert or _unchanged
        filled = len(self.values)
        fill = min(self.capacity - filled, size)
        if fill > 0:
            self.values = np.concatenate([self.values, convert(chunk[:fill])])
        if fill < size:
            first = self.seen + fill + 1
            draws = rng.random(size - fill)
            draws *= np.arange(first, self.seen + size + 1, dtype=np.float64)
            chosen = np.flatnonzero(draws < self.capacity)
            if chosen.size:
                # Truncation is the floor here, because the draws are not negative.
                slots = draws[chosen].astype(np.int64)
                targets, rows = _last_per_slot(slots, chosen)
                self.values[targets] = convert(chunk[rows + fill])
        self.seen += size

    def merged(
        self, other: Reservoir, rng: np.random.Generator, capacity: int
    ) -> Reservoir:
        """Return a uniform sample of at most ``capacity`` of both streams' values.

        The number taken from ``self`` follows the hypergeometric law of a
        uniform draw from the union, and each side contributes a uniform
        subset of its own sample, so the result is uniform over the union.
        ``capacity`` must not exceed either side's capacity.
        """
        total = self.seen + other.seen
        size = min(capacity, total)
        from_self = _hypergeometric(rng, self.seen, other.seen, size)
        own = rng.choice(len(self.values), from_self, replace=False)
        theirs = rng.choice(len(other.values), size - from_self, replace=False)
        values = np.concatenate([self.values[own], other.values[theirs]])
        return Reservoir(capacity, values, total)


def _unchanged(values: ArrayLike) -> np.ndarray:
    return np.asarray(values)


def _last_per_slot(
    slots: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return each slot once, with the last of the rows that chose it.

    In a sequential pass a later row overwrites an earlier one in the same slot.
    """
    unique_slots, last_from_end = np.unique(slots[::-1], return_index=True)
    return unique_slots, rows[::-1][last_from_end]


def _hypergeometric(rng: np.random.Generator, good: int, bad: int, draws: int) -> int:
    """Draw how many of ``draws`` picks without replacement come from ``good``."""
    if draws == 0 or good == 0:
        return 0
    if bad == 0:
        return draws
    if good < HYPERGEOMETRIC_LIMIT and bad < HYPERGEOMETRIC_LIMIT:
        return int(rng.hypergeometric(good, bad, draws))
    # Generator.choice without replacement takes any int64 population size,
    # and for few draws it does not build the population.
    picks = rng.choice(good + bad, draws, replace=False)
    return int(np.count_nonzero(picks < good))


NUMERIC = "numeric"
CATEGORICAL = "categorical"
DATETIME = "datetime"
BOOLEAN = "bool"
KINDS = (NUMERIC, CATEGORICAL, DATETIME, BOOLEAN)
NANOSECONDS_PER_UNIT = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}
MAX_EXACT_INTEGER = 2.0**53
"""Integers up to this magnitude survive a round trip through float64."""

_SAMPLE_DTYPES = {NUMERIC: np.float64, DATETIME: np.float64, BOOLEAN: np.bool_}


@dataclass(frozen=True)
class SketchSettings:
    """Sizes of the per-column summaries.

    Attributes:
        bins: Maximum number of histogram bins of a numeric or datetime column.
        top_k: Maximum number of categories counted by name.
        sample_size: Capacity of each column's reservoir sample.
    """

    bins: int
    top_k: int
    sample_size: int


def kind_of(series: pd.Series, categorical: bool = False) -> str:
    """Return the profile kind of a column: numeric, categorical, datetime or bool.

    Timedeltas are numeric, in nanoseconds. An object column whose non-null
    values are all booleans is bool, and any other object column is
    categorical. ``categorical=True`` makes any column categorical.
    """
    dtype = series.dtype
    if categorical:
        return CATEGORICAL
    if ptypes.is_datetime64_any_dtype(dtype):
        return DATETIME
    if ptypes.is_timedelta64_dtype(dtype):
        return NUMERIC
    if ptypes.is_bool_dtype(dtype):
        return BOOLEAN
    if ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
        return NUMERIC
    if (
        ptypes.is_object_dtype(dtype)
        and ptypes.infer_dtype(series, skipna=True) == "boolean"
    ):
        return BOOLEAN
    return CATEGORICAL


@dataclass
class ColumnProfile:
    """Mergeable summary of one column.

    Attributes:
        name: Column name.
        kind: ``"numeric"``, ``"categorical"``, ``"datetime"`` or ``"bool"``.
        count: Rows seen, nulls included.
        null_count: Rows that were None, NaN, NaT or ``pd.NA``.
        non_finite_count: Numeric values that were +inf or -inf. They are left
            out of the moments, the histogram and the sample.
        moments: Count, mean, m2, minimum and maximum of the finite values.
            Datetimes are nanoseconds since the epoch (UTC for aware columns)
            and booleans are 0 and 1. Empty for categorical columns.
        histogram: Fixed-edge histogram of numeric and datetime values, None
            until the column has seen a finite value.
        categories: Counts of categorical and bool values by label (the
            ``str`` of each value), None for numeric and datetime columns.
        sample: Uniform reservoir sample of the values, as stored in
            ``moments`` for numeric and datetime columns, bools for bool
            columns and labels for categorical columns.
        integer: Whether every numeric value seen came from an integer column.
        timezone: Time zone of an aware datetime column, None when naive.
        unit: Datetime unit (``"s"``, ``"ms"``, ``"us"`` or ``"ns"``) of the
            first datetime data seen, used to rebuild the sample.
    """

    name: str
    kind: str
    sample: Reservoir
    count: int = 0
    null_count: int = 0
    non_finite_count: int = 0
    moments: Moments = field(default_factory=Moments)
    histogram: Histogram | None = None
    categories: CategoryCounts | None = None
    integer: bool = False
    timezone: str | None = None
    unit: str | None = None

    @classmethod
    def empty(
        cls, name: str, kind: str, series: pd.Series | None, settings: SketchSettings
    ) -> ColumnProfile:
        """Return a summary of no values, typed after ``series`` when given."""
        dtype = _SAMPLE_DTYPES.get(kind, object)
        column = cls(name, kind, Reservoir(settings.sample_size, np.empty(0, dtype)))
        if kind in (CATEGORICAL, BOOLEAN):
            column.categories = CategoryCounts(settings.top_k)
        if series is not None and kind == NUMERIC:
            column.integer = ptypes.is_integer_dtype(series.dtype)
        if series is not None and kind == DATETIME:
            column._set_datetime_type(series)
        return column

    def _set_datetime_type(self, series: pd.Series) -> None:
        zone = series.dt.tz
        self.timezone = None if zone is None else str(zone)
        self.unit = str(series.dt.unit)

    @property
    def value_count(self) -> int:
        """Values in the moments, histogram and sample: not null and not ±inf."""
        return self.count - self.null_count - self.non_finite_count

    @property
    def mean(self) -> float:
        """Mean of the finite values, NaN when there are none."""
        return self.moments.mean if self.moments.count else math.nan

    @property
    def variance(self) -> float:
        """Population variance (``ddof=0``) of the finite values, NaN when none."""
        return self.moments.variance

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values, NaN when none."""
        return math.sqrt(self.variance)

    @property
    def min(self) -> float:
        """Smallest finite value, NaN when there is none."""
        return self.moments.minimum if self.moments.count else math.nan

    @property
    def max(self) -> float:
        """Largest finite value, NaN when there is none."""
        return self.moments.maximum if self.moments.count else math.nan

    def accepts(self, series: pd.Series, categorical: bool) -> str:
        """Return the kind under which ``series`` can be added to this column.

        A column that has no values yet takes the kind of the first values.

        Raises:
            DataError: ``series`` has values of another kind than the column,
                or mixes naive and aware datetimes with it.
        """
        kind = kind_of(series, categorical)
        has_values = self.sample.seen > 0
        if kind != self.kind and has_values and not series.isna().all():
            raise DataError(
                f"column {self.name!r} was profiled as {self.kind} but the new data "
                f"is {kind} (dtype {series.dtype}). Cast it to the profiled type, "
                "or fit a new profile"
            )
        if kind == DATETIME == self.kind and has_values:
            aware = series.dt.tz is not None
            if aware != (self.timezone is not None):
                raise DataError(
                    f"column {self.name!r} mixes naive and time-zone-aware datetimes "
                    f"(profiled time zone {self.timezone}, new dtype {series.dtype}). "
                    "Convert the new data to the profiled kind"
                )
        return kind

    def add(
        self,
        series: pd.Series,
        kind: str,
        rng: np.random.Generator,
        settings: SketchSettings,
    ) -> None:
        """Add the values of ``series``, whose kind :meth:`accepts` returned."""
        if kind != self.kind and self.sample.seen > 0:
            # accepts() let an all-null series of another kind through.
            self.count += len(series)
            self.null_count += len(series)
            return
        # Until a column has values, new data sets its kind and time zone.
        if kind != self.kind:
            self._retype(kind, series, settings)
        elif kind == DATETIME and self.sample.seen == 0:
            self._set_datetime_type(series)
        self.count += len(series)
        if kind == NUMERIC:
            self._add_numeric(series, rng, settings.bins)
        elif kind == DATETIME:
            self._add_datetime(series, rng, settings.bins)
        elif kind == BOOLEAN:
            self._add_bool(series, rng)
        else:
            self._add_categorical(series, rng)

    def _retype(self, kind: str, series: pd.Series, settings: SketchSettings) -> None:
        fresh = ColumnProfile.empty(self.name, kind, series, settings)
        fresh.count, fresh.null_count = self.count, self.null_count
        fresh.non_finite_count = self.non_finite_count
        for item in dataclasses.fields(fresh):
            setattr(self, item.name, getattr(fresh, item.name))

    def _add_numeric(
        self, series: pd.Series, rng: np.random.Generator, bins: int
    ) -> None:
        if ptypes.is_timedelta64_dtype(series.dtype):
            values = _nanoseconds(series.dropna())
        else:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        ordered = np.sort(values)
        # np.sort puts -inf first, then finite values, +inf, and NaN last.
        low = int(np.searchsorted(ordered, -np.inf, side="right"))
        high = int(np.searchsorted(ordered, np.inf, side="left"))
        end = int(np.searchsorted(ordered, np.inf, side="right"))
        self.null_count += len(series) - end
        self.non_finite_count += low + end - high
        if high > low:
            from_integers = ptypes.is_integer_dtype(series.dtype)
            first_values = self.sample.seen == 0
            self.integer = from_integers and (first_values or self.integer)
        self._add_finite(ordered[low:high], rng, bins)

    def _add_datetime(
        self, series: pd.Series, rng: np.random.Generator, bins: int
    ) -> None:
        present = series.dropna()
        self.null_count += len(series) - len(present)
        self._add_finite(np.sort(_nanoseconds(present)), rng, bins)

    def _add_finite(
        self, ordered: np.ndarray, rng: np.random.Generator, bins: int
    ) -> None:
        if ordered.size == 0:
            return
        self.moments = self.moments.merged(Moments.of_sorted(ordered))
        if self.histogram is None:
            # NOTE: the edges come from the first chunk with finite values, so
            # fit on data that represents the whole reference.
            self.histogram = Histogram.empty(edges_from_sorted(ordered, bins))
        self.histogram.add_sorted(ordered)
        # Algorithm R gives a uniform sample in any fixed input order, sorted too.
        self.sample.add(ordered, rng)

    def _add_bool(self, series: pd.Series, rng: np.random.Generator) -> None:
        present = series.dropna()
        self.null_count += len(series) - len(present)
        values = present.to_numpy(dtype=np.bool_)
        if values.size == 0:
            return
        true = int(np.count_nonzero(values))
        false = int(values.size) - true
        size = int(values.size)
        chunk = Moments(
            size,
            true / size,
            true * false / size,
            0.0 if false else 1.0,
            1.0 if true else 0.0,
        )
        self.moments = self.moments.merged(chunk)
        labels = np.array(["True", "False"], dtype=object)
        counts = np.array([true, false], dtype=np.int64)
        if self.categories is not None:
            self.categories.add(labels[counts > 0], counts[counts > 0])
        self.sample.add(values, rng)

    def _add_categorical(self, series: pd.Series, rng: np.random.Generator) -> None:
        present = series.dropna()
        self.null_count += len(series) - len(present)
        if present.empty:
            return
        if self.categories is not None:
            self.categories.add(*_label_counts(present))
        self.sample.add(present.array, rng, convert=labels_of)

    def emptied(self, settings: SketchSettings) -> ColumnProfile:
        """Return a summary of no values with this column's kind and edges."""
        column = ColumnProfile(
            self.name,
            self.kind,
            Reservoir(settings.sample_size, self.sample.values[:0].copy()),
            integer=self.integer,
            timezone=self.timezone,
            unit=self.unit,
        )
        if self.histogram is not None:
            column.histogram = Histogram.empty(self.histogram.edges.copy())
        if self.categories is not None:
            column.categories = CategoryCounts(settings.top_k)
        return column

    def merged(
        self, other: ColumnProfile, rng: np.random.Generator, settings: SketchSettings
    ) -> ColumnProfile:
        """Return the summary of both columns' values.

        A side without values takes the kind of the other side.

        Raises:
            DataError: The kinds differ, naive and aware datetimes meet, or
                the histogram edges differ.
        """
        first, second = self, other
        if first.sample.seen == 0 and second.sample.seen > 0:
            first, second = second, first
        if second.sample.seen > 0:
            _check_mergeable(first, second)
            donor = second
        else:
            donor = first.emptied(settings)
        merged = ColumnProfile(
            first.name,
            first.kind,
            first.sample.merged(donor.sample, rng, settings.sample_size),
            count=first.count + second.count,
            null_count=first.null_count + second.null_count,
            non_finite_count=first.non_finite_count + second.non_finite_count,
            moments=first.moments.merged(donor.moments),
            histogram=_merged_histograms(first.histogram, donor.histogram, first.name),
            integer=first.integer and donor.integer,
            timezone=first.timezone,
            unit=first.unit,
        )
        if first.categories is not None and donor.categories is not None:
            merged.categories = first.categories.merged(
                donor.categories, settings.top_k
            )
        return merged

    def sample_series(self, length: int) -> pd.Series:
        """Return the sample as a column of ``length`` rows, padded with nulls.

        Numeric columns come back as float64, or as nullable Int64 when the
        source was integer and every sampled value is an exact integer.
        Datetimes come back in their unit and time zone, bools as bool (or
        nullable boolean when padded) and categories as their labels.
        """
        values = self.sample.values
        if self.kind == DATETIME:
            series = _datetimes(values, self.unit or "ns", self.timezone)
        elif self.kind == NUMERIC and self.integer and _exact_integers(values):
            series = pd.Series(values.astype(np.int64), dtype="Int64")
        elif self.kind == BOOLEAN and len(values) < length:
            series = pd.Series(values, dtype="boolean")
        else:
            series = pd.Series(values, dtype=values.dtype)
        return series.reindex(pd.RangeIndex(length))


def _check_mergeable(first: ColumnProfile, second: ColumnProfile) -> None:
    if first.kind != second.kind:
        raise DataError(
            f"cannot merge column {first.name!r}: it is {first.kind} in one profile "
            f"and {second.kind} in the other"
        )
    if (first.timezone is None) != (second.timezone is None):
        raise DataError(
            f"cannot merge column {first.name!r}: its datetimes are naive in one "
            "profile and time-zone-aware in the other"
        )


def _merged_histograms(
    first: Histogram | None, second: Histogram | None, column: str
) -> Histogram | None:
    if first is None or second is None:
        present = first or second
        if present is None:
            return None
        return Histogram(
            present.edges.copy(),
            present.counts.copy(),
            present.underflow,
            present.overflow,
        )
    return first.merged(second, column)


def _nanoseconds(present: pd.Series) -> np.ndarray:
    """Return non-null datetimes or timedeltas as float nanoseconds.

    Float scaling keeps dates past 2262, which int64 nanoseconds cannot hold,
    at about 0.25 µs resolution near 2020.
    """
    scale = NANOSECONDS_PER_UNIT[str(present.dt.unit)]
    return present.astype("int64").to_numpy(dtype=np.float64) * scale


def _datetimes(nanoseconds: np.ndarray, unit: str, timezone: str | None) -> pd.Series:
    ticks = np.round(nanoseconds / NANOSECONDS_PER_UNIT[unit]).astype(np.int64)
    series = pd.Series(ticks.astype(f"datetime64[{unit}]"))
    if timezone is not None:
        series = series.dt.tz_localize("UTC").dt.tz_convert(timezone)
    return series


def _exact_integers(values: np.ndarray) -> bool:
    return bool(
        np.all(np.abs(values) <= MAX_EXACT_INTEGER)
        and np.all(values == np.floor(values))
    )


def labels_of(values: ArrayLike) -> np.ndarray:
    """Return the labels of categorical values: ``str`` of each, as drift compares them."""
    labels = pd.Series(values, dtype=object).astype(str)
    return labels.to_numpy(dtype=object)


def _label_counts(present: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Count non-null values by label, one entry per label."""
    labelled = isinstance(present.dtype, pd.StringDtype)
    if ptypes.is_object_dtype(present.dtype):
        if ptypes.infer_dtype(present, skipna=False) != "string":
            # Labels first: value_counts would count 1, 1.0 and True as one
            # value, and it cannot hash lists.
            present = present.astype(str)
        labelled = True
    found = present.value_counts(sort=False)
    counts = found.to_numpy(dtype=np.int64)
    # A categorical column counts its unused categories as 0.
    used = counts > 0
    labels = found.index.to_numpy(dtype=object)[used]
    if labelled:
        return labels, counts[used]
    # Distinct values can share a label, such as the categories 1 and "1".
    return _sum_by_label(labels_of(labels), counts[used])
