"""Reservoir sampling: ``k`` rows drawn uniformly from a stream of chunks in one pass.

:func:`reservoir_sample` reads DataFrames or pyarrow record batches one at a
time and keeps at most about ``3 * k`` rows besides the current chunk, however
long the source is. It runs Li's Algorithm L (ACM TOMS 20(4), 1994), which
draws how many rows to skip before the next replacement instead of a number
per row, so it draws about ``k * (1 + log(n / k))`` random numbers for ``n``
rows. Every subset of ``k`` rows is equally likely.

The random numbers are drawn in the same order whatever the chunk sizes, and
a replacement goes to a fixed slot of the reservoir. So the same seed on the
same rows gives the same sample however the source is chunked.
"""

from __future__ import annotations

import logging
import math
import numbers
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from tether.data.readers import media_type_of
from tether.data.seeds import check_seed
from tether.data.splits.record import log_record
from tether.data.splits.rule import positions_digest
from tether.errors import ConfigError, DataError

if TYPE_CHECKING:
    from tether.store.records import DatasetVersionRecord

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 100_000
# The blocks of rows that entered the reservoir are compacted when they hold
# more than this many times k rows, which bounds memory at about 3k rows.
COMPACT_FACTOR = 2
PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class SampleRecord:
    """The parameters and the row digest of one reservoir sample.

    Attributes:
        k: Number of rows drawn.
        seed: Seed of :func:`numpy.random.default_rng`.
        rows_seen: Number of rows in the source.
        digest: BLAKE3 digest of the sampled rows' positions in the source
            (sorted, as little-endian int64).
    """

    k: int
    seed: int
    rows_seen: int
    digest: str

    def to_record(self) -> dict[str, Any]:
        """Return the method, parameters, seed, digest and row counts as JSON."""
        return {
            "method": "reservoir",
            "algorithm": "L",
            "params": {"k": self.k},
            "seed": self.seed,
            "digest": self.digest,
            "rows": {"source": self.rows_seen, "sample": self.k},
        }


def reservoir_sample(
    chunks: Iterable[Any], k: int, *, seed: int = 0
) -> tuple[pd.DataFrame, SampleRecord]:
    """Draw ``k`` rows uniformly without replacement from a stream of chunks.

    Args:
        chunks: DataFrames, or pyarrow record batches or tables (anything with
            ``to_pandas()``), such as ``pd.read_csv(path, chunksize=...)`` or
            ``pyarrow.parquet.ParquetFile(path).iter_batches()``.
        k: Number of rows to draw, at least 1.
        seed: Seed of :func:`numpy.random.default_rng`.

    Returns:
        ``(sample, record)``. The sample's rows are in source order, and its
        index is each row's 0-based position in the source. When a run is
        active, the record is logged on it.

    Raises:
        ConfigError: ``k`` or ``seed`` is not an integer, or ``k`` is below 1.
        DataError: a chunk is not a table, or the source has fewer than ``k``
            rows.
    """
    _validate(k, seed)
    k, seed = int(k), int(seed)
    reservoir = _Reservoir(k, np.random.default_rng(seed))
    for chunk in chunks:
        reservoir.add(_as_frame(chunk))
    sample, positions = reservoir.result()
    record = SampleRecord(
        k=k, seed=seed, rows_seen=reservoir.seen, digest=positions_digest(positions)
    )
    logger.info(
        "reservoir sample: %d of %d rows (digest %s)",
        k,
        reservoir.seen,
        record.digest[:12],
    )
    tags = {"sample.method": "reservoir", "sample.k": k, "sample.seed": seed}
    log_record("samples", record.to_record(), record.digest, tags)
    return sample, record


class _Reservoir:
    """Algorithm L over chunks, with positions counted across the whole stream.

    Rows that enter the reservoir are kept in blocks (one per chunk) and each
    slot points at its row in a block, so a chunk costs only the rows it
    contributes. When the blocks hold more than ``COMPACT_FACTOR * k`` rows,
    the live rows are copied into one block and the rest are dropped.
    """

    def __init__(self, k: int, rng: np.random.Generator) -> None:
        self.k = k
        self.rng = rng
        self.seen = 0
        self.filled = 0
        self.blocks: list[pd.DataFrame] = []
        self.stored = 0
        self.slot_block = np.zeros(k, dtype=np.int64)
        self.slot_row = np.zeros(k, dtype=np.int64)
        self.positions = np.empty(k, dtype=np.int64)
        self.weight = 1.0
        self.next_position = 0

    def add(self, chunk: pd.DataFrame) -> None:
        start = self.seen
        self.seen += len(chunk)
        if self.filled < self.k:
            self._fill(chunk, start)
        if self.filled < self.k:
            return
        slots: list[int] = []
        rows: list[int] = []
        while self.next_position < self.seen:
            slots.append(int(self.rng.integers(self.k)))
            rows.append(self.next_position - start)
            self.weight *= math.exp(math.log(self._uniform()) / self.k)
            self.next_position += self._skip() + 1
        if slots:
            self._replace(chunk, np.array(slots), np.array(rows), start)

    def _fill(self, chunk: pd.DataFrame, start: int) -> None:
        """Put the first rows in the reservoir until it contains ``k``."""
        take = min(self.k - self.filled, len(chunk))
        slots = np.arange(self.filled, self.filled + take)
        # A copy, so that the block does not keep the whole chunk alive.
        self._store(chunk.iloc[:take].copy(), slots)
        self.positions[slots] = np.arange(start, start + take)
        self.filled += take
        if self.filled == self.k:
            self.weight = math.exp(math.log(self._uniform()) / self.k)
            self.next_position = self.k + self._skip()

    def _replace(
        self, chunk: pd.DataFrame, slots: np.ndarray, rows: np.ndarray, start: int
    ) -> None:
        """Write chunk rows into their slots; a slot drawn twice keeps the later row."""
        reversed_first = np.unique(slots[::-1], return_index=True)[1]
        last = np.sort(len(slots) - 1 - reversed_first)
        slots, rows = slots[last], rows[last]
        self._store(chunk.iloc[rows], slots)
        self.positions[slots] = start + rows

    def _store(self, block: pd.DataFrame, slots: np.ndarray) -> None:
        """Append a block whose row ``i`` fills slot ``slots[i]``."""
        self.blocks.append(block)
        self.slot_block[slots] = len(self.blocks) - 1
        self.slot_row[slots] = np.arange(len(slots))
        self.stored += len(block)
        if self.stored > COMPACT_FACTOR * self.k:
            self._compact()

    def _compact(self) -> pd.DataFrame:
        """Keep only the live rows, in slot order, as one block and return it."""
        offsets = np.cumsum([0] + [len(block) for block in self.blocks[:-1]])
        combined = pd.concat(self.blocks) if len(self.blocks) > 1 else self.blocks[0]
        pool = combined.iloc[offsets[self.slot_block] + self.slot_row]
        self.blocks = [pool]
        self.stored = self.k
        self.slot_block[:] = 0
        self.slot_row[:] = np.arange(self.k)
        return pool

    def _uniform(self) -> float:
        """Return a uniform number in (0, 1], so that its logarithm is finite."""
        return 1.0 - float(self.rng.random())

    def _skip(self) -> int:
        """Return how many rows to pass over before the next replacement."""
        gap = math.log(self._uniform()) / math.log1p(-self.weight)
        # A weight that underflowed to 0 gives an infinite gap: no more replacements.
        return math.floor(gap) if math.isfinite(gap) else sys.maxsize

    def result(self) -> tuple[pd.DataFrame, np.ndarray]:
        if self.filled < self.k:
            raise DataError(
                f"k={self.k} is larger than the {self.seen} rows of the source; "
                f"choose k of at most {self.seen}, or use the whole source"
            )
        order = np.argsort(self.positions, kind="stable")
        sample = self._compact().iloc[order]
        positions = self.positions[order]
        sample.index = pd.Index(positions)
        return sample, positions


def _validate(k: Any, seed: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ConfigError(
            f"k must be an integer of at least 1, got {k!r}", setting="k", value=k
        )
    check_seed(seed, "a reservoir sample")


def _as_frame(chunk: Any) -> pd.DataFrame:
    if isinstance(chunk, pd.DataFrame):
        return chunk
    to_pandas = getattr(chunk, "to_pandas", None)
    if callable(to_pandas):
        frame = to_pandas()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise DataError(
        f"a chunk of type {type(chunk).__qualname__} is not a table; pass "
        "DataFrames or pyarrow record batches"
    )


def read_chunks(
    path: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    media_type: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield a CSV, zipped CSV, JSON Lines or Parquet file in chunks of rows.

    Raises:
        DataError: the path is a folder, the file does not exist or cannot be
            parsed, or it is a JSON array, which cannot be read in chunks.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a data file; pass one of its files, or "
            "acquire a folder of CSV, Parquet or JSON files as one table and "
            "sample that dataset",
            source=str(path),
        )
    if not path.is_file():
        raise DataError(
            f"data file {path} does not exist; check the path", source=str(path)
        )
    media_type = media_type or media_type_of(path)
    try:
        yield from _chunks_of(path, media_type, chunk_rows)
    except (ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"cannot parse {path} as {media_type}: {first_line}; check that the "
            "file is complete and in that format",
            source=str(path),
        ) from exc


def _chunks_of(path: Path, media_type: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if media_type == PARQUET:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    if media_type == "application/x-ndjson":
        with pd.read_json(path, lines=True, chunksize=chunk_rows) as reader:
            yield from reader
        return
    if media_type == "application/json":
        raise DataError(
            f"{path} is a JSON array, which cannot be read in chunks; convert it to "
            "JSON Lines (.jsonl), CSV or Parquet",
            source=str(path),
        )
    compression: Literal["zip"] | None = (
        "zip" if media_type == "application/zip" else None
    )
    with pd.read_csv(path, chunksize=chunk_rows, compression=compression) as reader:
        yield from reader


def sample_source(
    source: str | Path | DatasetVersionRecord,
    k: int,
    *,
    seed: int = 0,
    name: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> tuple[DatasetVersionRecord, SampleRecord]:
    """Sample a file or a registered version and register the sample as a version.

    Args:
        source: A data file path, a ``datasets:/NAME@VERSION`` URI, a
            dataset name for its latest version (when no such file exists),
            or a record.
        k: Number of rows to draw.
        seed: Seed of the sample.
        name: Dataset name of the sample; defaults to ``{source name}-sample``.
        chunk_rows: Rows read per chunk.

    Returns:
        The registered sample version and the sample record. The version's
        ``source["sample"]`` contains the record, and a registered source becomes
        its parent in lineage.
    """
    from tether.data.versions import register, resolve
    from tether.store.records import DatasetVersionRecord

    parents: list[DatasetVersionRecord] = []
    if isinstance(source, str) and source.startswith("datasets:/"):
        source = resolve(source)
    elif isinstance(source, str) and _may_be_name(source):
        source = _registered(source)
    if isinstance(source, DatasetVersionRecord):
        from tether.artifacts import get_objects
        from tether.artifacts.objects import MANIFEST_MEDIA_TYPE

        if source.media_type == MANIFEST_MEDIA_TYPE:
            raise DataError(
                f"{source.uri} is a set of files, not a table, so it has no rows to "
                "sample; pass a data file or a table version",
                source=source.uri,
            )
        path = get_objects().path(source.object_digest)
        media_type: str | None = source.media_type
        origin, default_name = source.uri, source.name
        parents.append(source)
    else:
        path = Path(source)
        media_type = None
        origin, default_name = str(path.absolute()), path.stem
    chunks = read_chunks(path, chunk_rows=chunk_rows, media_type=media_type)
    sample, record = reservoir_sample(chunks, k, seed=seed)
    version = register(
        name or f"{default_name}-sample",
        sample,
        role="output",
        source={"sample": {**record.to_record(), "from": origin}},
        parents=parents,
    )
    return version, record


def _may_be_name(source: str) -> bool:
    """Return whether a source is read as a dataset name: it names no file or folder."""
    return "/" not in source and "\\" not in source and not Path(source).exists()


def _registered(name: str) -> DatasetVersionRecord:
    """Return the latest version of dataset ``name``, for a source that is no file."""
    from tether.data.versions import resolve
    from tether.errors import InvalidURIError, NotFoundError

    try:
        return resolve(name)
    except (NotFoundError, InvalidURIError):
        raise DataError(
            f"{name} is neither a file nor a registered dataset; pass a data file "
            "path, a dataset name or datasets:/NAME@VERSION",
            source=name,
        ) from None
