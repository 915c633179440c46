"""Runs: one execution with its params, metrics, tags, artifacts and logs."""

from __future__ import annotations

import logging
import math
import mimetypes
import numbers
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tether import active
from tether.artifacts import ObjectStore, get_objects
from tether.errors import ConfigError, DataError
from tether.ids import new_id
from tether.store import SqlStore, get_store
from tether.store.records import ArtifactRecord, Edge, MetricPoint
from tether.store.values import param_text, tag_text
from tether.tracking.keys import check_key
from tether.tracking.liveness import fail_dead_runs, process_record
from tether.tracking.output import OutputCapture
from tether.tracking.signals import install_sigterm_handler
from tether.tracking.system_metrics import SystemMetricsSampler
from tether.tracking.writer import writer_for

if TYPE_CHECKING:
    import pandas as pd

    from tether.data.versions import DatasetVersion
    from tether.models.registry import ModelVersion

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "default"
FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"


class Run:
    """An active run. Use :func:`start_run` to make one.

    Example:
        >>> with tether.start_run(experiment="flights") as run:
        ...     run.log_param("max_depth", 6)
        ...     run.log_metric("loss", 0.31, step=1)
    """

    def __init__(
        self,
        run_id: str,
        *,
        name: str,
        experiment: str,
        kind: str = "run",
        parent_id: str | None,
        store: SqlStore,
        objects: ObjectStore,
        source: Mapping[str, Any],
        capture_output: bool,
    ) -> None:
        self.id = run_id
        self.name = name
        self.experiment = experiment
        self.kind = kind
        self.parent_id = parent_id
        self.source = dict(source)
        self.store = store
        self.objects = objects
        self.status = "RUNNING"
        self._writer = writer_for(store)
        self._capture = OutputCapture() if capture_output else None
        self._step_counters: dict[str, int] = {}
        self.sampler: SystemMetricsSampler | None = None

    # -- params, metrics and tags -----------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters at once."""
        texts = {}
        for key, value in params.items():
            check_key(key, "param")
            texts[key] = param_text(key, value)
        self._writer.add_params(self.id, texts)

    def log_metric(
        self,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Buffer one metric value; it reaches the store within a flush interval.

        NaN and infinite values are kept as they are. ``step`` defaults to one
        more than the previous step logged for ``key`` in this run.
        """
        check_key(key, "metric")
        number = _as_float(key, value)
        step = _as_step(key, step)
        moment = time.time() if timestamp is None else timestamp
        self._writer.add(self.id, self._point(key, number, step, moment))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        """Buffer several metrics at the same step, or none when one is invalid."""
        values = {
            check_key(key, "metric"): _as_float(key, v) for key, v in metrics.items()
        }
        step = _as_step(next(iter(values), ""), step)
        moment = time.time()
        points = [self._point(key, n, step, moment) for key, n in values.items()]
        self._writer.add_points(self.id, points)

    def _point(
        self, key: str, number: float, step: int | None, moment: float
    ) -> MetricPoint:
        """Return a point, numbering its step after the last one of ``key``."""
        last = self._step_counters.get(key, -1)
        if step is None:
            step = last + 1
        self._step_counters[key] = max(step, last)
        return MetricPoint(key, number, int(step), moment)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags at once."""
        texts = {}
        for key, value in tags.items():
            check_key(key, "tag")
            texts[key] = tag_text(key, value)
        self._writer.add_tags(self.id, texts)

    def flush(self) -> None:
        """Write this run's buffered params, tags and metrics now."""
        self._writer.flush(self.id)

    # -- artifacts ----------------------------------------------------------

    def log_artifact(
        self,
        local_path: str | Path,
        artifact_path: str | None = None,
        *,
        role: str = "artifact",
    ) -> ArtifactRecord:
        """Store a file or a folder and record it under ``artifact_path``."""
        path = Path(local_path)
        if not path.exists():
            raise DataError(
                f"cannot log artifact {path}: no such file or folder", source=str(path)
            )
        if path.is_dir():
            blob = self.objects.put_dir(path)
        else:
            media_type = (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            blob = self.objects.put_file(path, media_type)
        record = ArtifactRecord(
            run_id=self.id,
            path=artifact_path or path.name,
            digest=blob.digest,
            size=blob.size,
            media_type=blob.media_type,
            is_dir=path.is_dir(),
            role=role,
        )
        self.store.log_artifact(record)
        return record

    def log_bytes(
        self,
        data: bytes,
        artifact_path: str,
        *,
        media_type: str = "application/octet-stream",
        role: str = "artifact",
    ) -> ArtifactRecord:
        """Store bytes as an artifact file."""
        blob = self.objects.put_bytes(data, media_type)
        record = ArtifactRecord(
            self.id, artifact_path, blob.digest, blob.size, media_type, False, role
        )
        self.store.log_artifact(record)
        return record

    def log_text(self, text: str, artifact_path: str) -> ArtifactRecord:
        """Store text as an artifact file."""
        return self.log_bytes(text.encode(), artifact_path, media_type="text/plain")

    def log_dict(self, data: Mapping[str, Any], artifact_path: str) -> ArtifactRecord:
        """Store a mapping as a JSON artifact."""
        import json

        payload = json.dumps(data, indent=2, sort_keys=True, default=str).encode()
        return self.log_bytes(payload, artifact_path, media_type="application/json")

    def record_artifact(self, record: ArtifactRecord) -> None:
        """Record an already stored blob under this run."""
        self.store.log_artifact(record)

    # -- data sets and models ------------------------------------------------

    def log_dataset(
        self,
        data: pd.DataFrame | str | Path,
        name: str,
        *,
        role: str = "input",
        **kwargs: Any,
    ) -> DatasetVersion:
        """Register ``data`` as a dataset version and link it to this run."""
        from tether.data.versions import register

        return register(name, data, run=self, role=role, **kwargs)

    def log_model(self, model: Any, name: str, **kwargs: Any) -> ModelVersion:
        """Register ``model`` as a new version of model ``name`` made by this run."""
        from tether.models.registry import register_model

        return register_model(model, name, run=self, **kwargs)

    def link(self, edge: Edge) -> None:
        """Record a lineage edge that involves this run."""
        self.store.add_edge(edge)

    # -- ending ---------------------------------------------------------------

    def end(
        self,
        status: str = FINISHED,
        *,
        error: str | None = None,
        cached_from: str | None = None,
    ) -> None:
        """Flush, store captured output, and mark the run finished."""
        if self.status != "RUNNING":
            return
        self.status = status
        try:
            if self.sampler is not None:
                self.sampler.stop()
            self._store_output()
        finally:
            try:
                self._writer.finish(
                    self.id,
                    lambda pending: self.store.end_run(
                        self.id,
                        status,
                        error=error,
                        cached_from=cached_from,
                        pending=pending,
                    ),
                )
            finally:
                active.pop(self)
        _send_openlineage(self, status, error)

    def _store_output(self) -> None:
        if self._capture is None:
            return
        stdout, stderr = self._capture.stop()
        if stdout:
            self.log_bytes(
                stdout.encode(), "logs/stdout.txt", media_type="text/plain", role="log"
            )
        if stderr:
            self.log_bytes(
                stderr.encode(), "logs/stderr.txt", media_type="text/plain", role="log"
            )

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end(FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(KILLED, error=str(exc) or "interrupted")
        else:
            self.end(
                FAILED, error="".join(traceback.format_exception_only(exc)).strip()
            )

    def __repr__(self) -> str:
        return (
            f"Run(id={self.id!r}, name={self.name!r}, experiment={self.experiment!r})"
        )

    def _repr_html_(self) -> str:
        """Write buffered values, then return the run as HTML tables for notebooks."""
        from tether.notebook_html import run_html

        self.flush()
        return run_html(vars(self.store.get_run(self.id)))


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    nested: bool = True,
    kind: str = "run",
    capture_output: bool = True,
    source: Mapping[str, Any] | None = None,
    cache_key: str | None = None,
    system_metrics: float | None = None,
    parent_id: str | None = None,
    run_id: str | None = None,
) -> Run:
    """Start a run and make it the active run.

    Args:
        experiment: group of runs; defaults to the parent's, else "default".
        name: a readable name; defaults to the entry point's file name.
        nested: make the run a child of the active run, when there is one.
        kind: "run", "pipeline" or "step".
        capture_output: keep a copy of stdout and stderr as run logs.
        source: code and environment record; captured automatically when None.
        cache_key: the pipeline cache key of a step run.
        system_metrics: sample CPU and memory of this process every this
            many seconds as ``system/*`` metrics; None samples nothing.
        parent_id: the parent run's id, for a child started in another thread
            or process than its parent; pass ``experiment`` and ``source`` too.
        run_id: the new run's id, when the caller chose it in advance.
    """
    from tether.tracking.source import capture_source

    store, objects = get_store(), get_objects()
    install_sigterm_handler()
    _check_dead_runs_once(store)
    parent = active.current() if nested and parent_id is None else None
    parent_id = parent.id if parent else parent_id
    experiment = experiment or (parent.experiment if parent else DEFAULT_EXPERIMENT)
    if source is None:
        source = parent.source if parent else capture_source(objects)
    if "process" not in source:
        source = {**source, "process": process_record()}
    run_name = name or Path(str(source.get("entry_point", "run"))).stem or "run"
    run_id = store.create_run(
        experiment=experiment,
        name=run_name,
        kind=kind,
        parent_id=parent_id,
        source=source,
        cache_key=cache_key,
        run_id=(run_id := run_id or new_id()),
        artifacts=_source_artifacts(run_id, source, objects),
    )
    run = Run(
        run_id,
        name=run_name,
        experiment=experiment,
        kind=kind,
        parent_id=parent_id,
        store=store,
        objects=objects,
        source=source,
        capture_output=capture_output,
    )
    if system_metrics is not None:
        run.sampler = SystemMetricsSampler(run, system_metrics)
    active.push(run)
    _send_openlineage(run, "START")
    return run


def _send_openlineage(run: Run, status: str, error: str | None = None) -> None:
    """Send the run's OpenLineage event, when OpenLineage is configured."""
    from tether.lineage.openlineage import send_run_event

    facts = {
        "id": run.id,
        "name": run.name,
        "experiment": run.experiment,
        "kind": run.kind,
        "parent_id": run.parent_id,
        "source": run.source,
    }
    send_run_event(run.store, run.objects, facts, status, error)


_checked_stores: set[str] = set()


def _check_dead_runs_once(store: SqlStore) -> None:
    """Fail runs left RUNNING by dead processes, once per store and process."""
    if store.url in _checked_stores:
        return
    _checked_stores.add(store.url)
    fail_dead_runs(store)


def _source_artifacts(
    run_id: str, source: Mapping[str, Any], objects: ObjectStore
) -> list[ArtifactRecord]:
    """Return records of the diff and package list stored by source capture."""
    records = []
    for path, digest in source.get("artifacts", {}).items():
        media_type = "text/x-diff" if path.endswith(".patch") else "text/plain"
        size = objects.path(digest).stat().st_size
        records.append(
            ArtifactRecord(run_id, path, digest, size, media_type, False, "source")
        )
    return records


def _as_float(key: str, value: Any) -> float:
    try:
        number = float(value)
    except OverflowError:
        raise ConfigError(
            f"metric {key!r} is {str(value)[:40]}, too large for a 64-bit float; "
            "log its logarithm or a scaled value",
            setting=key,
            value=str(value)[:100],
        ) from None
    except (TypeError, ValueError):
        raise ConfigError(
            f"metric {key!r} must be a number, got {value!r}", setting=key, value=value
        ) from None
    return number if not math.isnan(number) else math.nan


def _as_step(key: str, step: Any) -> int | None:
    """Return ``step`` as an int, or None to number it after the previous step."""
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise ConfigError(
            f"step of metric {key!r} must be a whole number, got {step!r}; pass an int",
            setting=key,
            value=step,
        )
    if not -(2**63) <= int(step) < 2**63:
        raise ConfigError(
            f"step {step} of metric {key!r} is outside the 64-bit integer range",
            setting=key,
            value=step,
        )
    return int(step)
