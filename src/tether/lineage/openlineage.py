"""Send an OpenLineage run event when a run starts and when it ends.

Each run is one OpenLineage run of a job. A START event goes out when the
run starts, and COMPLETE, FAIL or ABORT (for FINISHED, FAILED and KILLED)
when it ends. Events carry the run's input and output dataset versions,
artifacts and model versions as datasets, and facets for the code, the
parent run of a pipeline step, quality results and the error. The events
are built with the ``openlineage-python`` client's classes and sent through
its transports. docs/openlineage.md describes the settings:

* ``TETHER_OPENLINEAGE``: ``file:PATH`` appends one JSON event per line to
  PATH, ``console`` logs each event through the client's console transport,
  an ``http://`` or ``https://`` URL posts to it (to ``/api/v1/lineage`` when
  the URL has no path), and ``off`` sends nothing. Unset, events go out only
  when the client's own configuration exists (``OPENLINEAGE_URL``,
  ``OPENLINEAGE_CONFIG``, ``OPENLINEAGE__TRANSPORT__*`` variables, or an
  ``openlineage.yml`` in the working folder or ``~/.openlineage``).
* ``TETHER_OPENLINEAGE_NAMESPACE``, else ``OPENLINEAGE_NAMESPACE``, else
  ``tether``: the namespace of Tether's jobs and datasets.

Sending never fails a run: the first error of a process is logged as a
warning, later ones at debug level. The client is imported only when
events are sent, so ``import tether`` does not load it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tether.artifacts import ObjectStore
from tether.errors import ConfigError
from tether.store import SqlStore
from tether.version import __version__

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent

logger = logging.getLogger(__name__)

OPENLINEAGE_ENV = "TETHER_OPENLINEAGE"
NAMESPACE_ENV = "TETHER_OPENLINEAGE_NAMESPACE"
DEFAULT_NAMESPACE = "tether"
DEFAULT_HTTP_ENDPOINT = "api/v1/lineage"
HTTP_TIMEOUT_SECONDS = 5.0
HTTP_RETRIES = 2
"""Retries of a failed POST; the client's default of 5 with backoff would
hold a run's start or end for about 10 seconds when the server is down."""
MAX_PARENTS = 40
PRODUCER = f"urn:tether-mlops:{__version__}"
# NOTE: a URN, because the project has no public URL to name as producer yet.

EVENT_TYPES = {
    "START": "START",
    "FINISHED": "COMPLETE",
    "FAILED": "FAIL",
    "KILLED": "ABORT",
}
"""The OpenLineage event type of each run status."""
JOB_TYPES = {"pipeline": "DAG", "step": "TASK"}
"""``jobType`` of the jobType facet, in the terms other integrations use;
other run kinds are ``JOB``."""
_OFF = ("off", "false", "0", "no", "none")


@dataclass(frozen=True)
class Target:
    """The destination of events, and the namespace of jobs and datasets.

    Attributes:
        transport: The client transport configuration that
            ``TETHER_OPENLINEAGE`` sets, or None to use the client's own.
        namespace: The OpenLineage namespace of Tether's jobs and datasets.
        explicit: True when ``TETHER_OPENLINEAGE`` asked for events, so a
            missing client package is worth a warning.
    """

    transport: dict[str, Any] | None
    namespace: str
    explicit: bool


def configured_target(environ: Mapping[str, str] | None = None) -> Target | None:
    """Return where events go, or None when OpenLineage is off.

    Raises:
        ConfigError: ``TETHER_OPENLINEAGE`` has a value of no known form.
    """
    env = os.environ if environ is None else environ
    value = env.get(OPENLINEAGE_ENV, "").strip()
    disabled = env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true"
    if (value and value.lower() in _OFF) or disabled:
        return None
    namespace = (
        env.get(NAMESPACE_ENV) or env.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE
    )
    if not value:
        return Target(None, namespace, False) if _client_configured(env) else None
    return Target(transport_config(value, env), namespace, True)


def transport_config(value: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the client transport configuration for a ``TETHER_OPENLINEAGE`` value."""
    if value == "console":
        return {"type": "console"}
    if value.startswith("file:") and len(value) > len("file:"):
        path = value[len("file:") :]
        # file:///PATH is a URL, which the client's file transport reads itself.
        if path.startswith("//"):
            return {"type": "file", "log_file_path": value, "append": True}
        path = str(Path(path).expanduser().absolute())
        return {"type": "file", "log_file_path": path, "append": True}
    if value.startswith(("http://", "https://")) and urlsplit(value).netloc:
        return _http_config(value, environ)
    raise ConfigError(
        f"invalid {OPENLINEAGE_ENV} {value!r}; use file:PATH, console, "
        "an http:// or https:// URL, or off",
        setting=OPENLINEAGE_ENV,
        value=value,
    )


def _http_config(url: str, environ: Mapping[str, str]) -> dict[str, Any]:
    parts = urlsplit(url)
    endpoint = parts.path.lstrip("/") or DEFAULT_HTTP_ENDPOINT
    if parts.query:
        endpoint += f"?{parts.query}"
    config: dict[str, Any] = {
        "type": "http",
        "url": f"{parts.scheme}://{parts.netloc}",
        "endpoint": endpoint,
        "timeout": HTTP_TIMEOUT_SECONDS,
        "retry": {"total": HTTP_RETRIES},
    }
    api_key = environ.get("OPENLINEAGE_API_KEY")
    if api_key:
        config["auth"] = {"type": "api_key", "apiKey": api_key}
    return config


def _client_configured(env: Mapping[str, str]) -> bool:
    """Tell whether the client would find a configuration of its own."""
    if env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"):
        return True
    if any(key.startswith("OPENLINEAGE__TRANSPORT") for key in env):
        return True
    try:
        in_cwd: Path | None = Path.cwd() / "openlineage.yml"
    except OSError:  # the working folder was removed
        in_cwd = None
    try:
        home: Path | None = Path("~/.openlineage/openlineage.yml").expanduser()
    except RuntimeError:  # no home folder is known
        home = None
    return any(path is not None and path.is_file() for path in (in_cwd, home))


# -- collecting the facts from the store -------------------------------------


@dataclass
class EventData:
    """The content of one run event, as plain data.

    Attributes:
        event_type: START, COMPLETE, FAIL or ABORT.
        run: The run's ``id``, ``name``, ``experiment``, ``kind``,
            ``parent_id`` and ``source`` (its code and environment record).
        parents: The parent run, its parent, and so on up to the root, as
            dicts with the same keys as ``run``.
        inputs: The datasets the run read (see :func:`dataset_facts`).
        outputs: The datasets, artifacts and model versions the run made.
        quality: The quality reports the run stored, as written by
            ``QualityReport.to_dict``.
        error: The error of a failed or killed run.
        event_time: When the event happened, an ISO 8601 time with offset.
    """

    event_type: str
    run: Mapping[str, Any]
    parents: list[Mapping[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    event_time: str = ""


def collect(
    store: SqlStore,
    objects: ObjectStore,
    run: Mapping[str, Any],
    status: str,
    error: str | None = None,
) -> EventData:
    """Read the run's parents, datasets and quality reports from the store."""
    inputs = _unique(
        dataset_facts(store, e.src_kind, e.src_id)
        for e in store.edges_into("run", run["id"])
    )
    outputs = _unique(
        dataset_facts(store, e.dst_kind, e.dst_id)
        for e in store.edges_from("run", run["id"])
    )
    quality = _quality_reports(store, objects, run["id"])
    _attach_quality(quality, inputs)
    return EventData(
        event_type=EVENT_TYPES[status],
        run=run,
        parents=_parents(store, run.get("parent_id")),
        inputs=inputs,
        outputs=outputs,
        quality=quality,
        error=error if status in ("FAILED", "KILLED") else None,
        event_time=datetime.now(UTC).isoformat(),
    )


def dataset_facts(store: SqlStore, kind: str, entity_id: str) -> dict[str, Any] | None:
    """Describe one lineage entity as a dataset: name, version, schema and size.

    An artifact with the content of a dataset version is that dataset
    version, so a pipeline step's in-memory input links to the registered
    data. Other artifacts are named by digest. Kinds other than dataset
    version, artifact and model version give None.
    """
    if kind == "dataset_version":
        return _dataset_version_facts(store.dataset_version_by_id(entity_id))
    if kind == "artifact":
        versions = store.dataset_versions_with_digest(entity_id)
        if versions:
            return _dataset_version_facts(versions[0])
        return {"name": f"artifacts/{entity_id}", "version": None, "uri": None}
    if kind == "model_version":
        record = store.model_version_by_id(entity_id)
        if record is not None:
            name, version = f"models/{record.name}", str(record.version)
            return {"name": name, "version": version, "uri": record.uri}
    return None


def _dataset_version_facts(record: Any) -> dict[str, Any]:
    return {
        "name": f"datasets/{record.name}",
        "version": str(record.version),
        "uri": record.uri,
        "schema": record.schema,
        "rows": record.rows,
        "size": record.size,
    }


def _unique(found: Any) -> list[dict[str, Any]]:
    """Drop Nones and repeats of the same dataset name and version."""
    unique: dict[tuple[str, str | None], dict[str, Any]] = {}
    for facts in found:
        if facts is not None:
            unique.setdefault((facts["name"], facts["version"]), facts)
    return list(unique.values())


def _parents(store: SqlStore, parent_id: str | None) -> list[Mapping[str, Any]]:
    parents: list[Mapping[str, Any]] = []
    while parent_id is not None and len(parents) < MAX_PARENTS:
        record = store.get_run(parent_id)
        parents.append(
            {
                "id": record.id,
                "name": record.name,
                "experiment": record.experiment,
                "kind": record.kind,
                "parent_id": record.parent_id,
            }
        )
        parent_id = record.parent_id
    return parents


def _quality_reports(
    store: SqlStore, objects: ObjectStore, run_id: str
) -> list[dict[str, Any]]:
    """Return the reports that ``tether.data.quality.validate`` stored in the run."""
    reports = []
    for artifact in store.list_artifacts(run_id):
        if artifact.path.startswith("quality/") and artifact.path.endswith(".json"):
            reports.append(json.loads(objects.read_bytes(artifact.digest)))
    return reports


def _attach_quality(
    reports: list[dict[str, Any]], inputs: list[dict[str, Any]]
) -> None:
    """Give each input the reports about it.

    A report belongs to the input whose URI is the report's ``source``, or
    to the only input when the source names none of them.
    """
    by_uri = {facts["uri"]: facts for facts in inputs if facts.get("uri")}
    for report in reports:
        target = by_uri.get(report.get("source") or "")
        if target is None and len(inputs) == 1:
            target = inputs[0]
        if target is not None:
            target.setdefault("quality", []).append(report)


# -- building the event --------------------------------------------------------


def job_name(run: Mapping[str, Any], parents: Sequence[Mapping[str, Any]]) -> str:
    """Return ``EXPERIMENT/RUN``, or ``PIPELINE_JOB/STEP`` for a pipeline step.

    A step of pipeline ``build`` in experiment ``flights`` is
    ``flights/build/prepare``.
    """
    if run.get("kind") == "step" and parents:
        return f"{job_name(parents[0], parents[1:])}/{run['name']}"
    return f"{run['experiment']}/{run['name']}"


def run_uuid(run_id: str) -> str:
    """Return the OpenLineage run id (a UUID) of a Tether run id.

    A Tether id (:func:`tether.ids.new_id`) is 26 Crockford base32
    characters for a 48-bit millisecond time and 80 random bits, so its
    value fits in 128 bits and maps one to one onto a UUID. Another id maps
    to a name-based UUID (version 5) of it.
    """
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    value = 0
    for char in run_id.lower():
        position = alphabet.find(char)
        if position < 0 or len(run_id) != 26:
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tether:run:{run_id}"))
        value = value * 32 + position
    if value >= 1 << 128:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tether:run:{run_id}"))
    return str(uuid.UUID(int=value))


def build_event(data: EventData, namespace: str) -> RunEvent:
    """Build the client's run event from plain data."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    job_facets = _job_facets(data.run)
    return RunEvent(
        eventType=RunState(data.event_type),
        eventTime=data.event_time,
        run=Run(runId=run_uuid(data.run["id"]), facets=_run_facets(data, namespace)),
        job=Job(
            namespace=namespace,
            name=job_name(data.run, data.parents),
            facets=job_facets,
        ),
        inputs=[_input(facts, namespace) for facts in data.inputs],
        outputs=[_output(facts, namespace) for facts in data.outputs],
        producer=PRODUCER,
    )


def _job_facets(run: Mapping[str, Any]) -> dict[str, Any]:
    from openlineage.client.generated import job_type_job, source_code_location_job

    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH",
            integration="TETHER",
            jobType=JOB_TYPES.get(str(run.get("kind")), "JOB"),
            producer=PRODUCER,
        )
    }
    git = run.get("source", {}).get("git", {})
    if git.get("remote"):
        facets["sourceCodeLocation"] = (
            source_code_location_job.SourceCodeLocationJobFacet(
                type="git",
                url=git["remote"],
                repoUrl=git["remote"],
                version=git.get("commit"),
                branch=git.get("branch"),
                producer=PRODUCER,
            )
        )
    return facets


def _run_facets(data: EventData, namespace: str) -> dict[str, Any]:
    from openlineage.client import __version__ as client_version
    from openlineage.client.generated import (
        error_message_run,
        processing_engine_run,
        tags_run,
    )

    facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=__version__,
            name="Tether",
            openlineageAdapterVersion=client_version,
            producer=PRODUCER,
        ),
        "tags": tags_run.TagsRunFacet(
            tags=[
                tags_run.TagsRunFacetFields(key, value, source)
                for key, value, source in _tags(data.run)
            ],
            producer=PRODUCER,
        ),
    }
    if data.parents:
        facets["parent"] = _parent_facet(data, namespace)
    if data.error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=data.error, programmingLanguage="python", producer=PRODUCER
        )
    if data.quality:
        facets["test"] = _test_facet(data.quality)
    return facets


def _tags(run: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    tags = [("tether.run_id", str(run["id"]), "TETHER")]
    ci = run.get("source", {}).get("environment", {}).get("ci") or {}
    for key in ("provider", "job_id", "run_url", "trigger", "ref"):
        if ci.get(key):
            tags.append((f"ci.{key}", str(ci[key]), "CI"))
    return tags


def _parent_facet(data: EventData, namespace: str) -> Any:
    from openlineage.client.generated import parent_run

    parent, root = data.parents[0], data.parents[-1]
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_uuid(parent["id"])),
        job=parent_run.Job(
            namespace=namespace, name=job_name(parent, data.parents[1:])
        ),
        root=parent_run.Root(
            run=parent_run.RootRun(runId=run_uuid(root["id"])),
            job=parent_run.RootJob(namespace=namespace, name=job_name(root, [])),
        ),
        producer=PRODUCER,
    )


def _test_facet(reports: list[dict[str, Any]]) -> Any:
    from openlineage.client.generated import test_run

    tests = [
        test_run.TestExecution(
            name=f"{report.get('suite')}: {result['check']}",
            status="pass" if result["passed"] else "fail",
            severity=_severity(result.get("severity")),
            type=_check_type(result["check"]),
            description=result.get("message") or None,
        )
        for report in reports
        for result in report.get("results", [])
    ]
    return test_run.TestRunFacet(tests=tests, producer=PRODUCER)


def _check_type(name: str) -> str:
    """Return the kind of a check from its name: ``not_null`` of ``not_null(x)``."""
    return name.split("(", 1)[0]


def _severity(value: Any) -> str | None:
    """Return the OpenLineage severity: ``error`` or ``warn``."""
    return {"error": "error", "warning": "warn"}.get(str(value))


def _dataset_facets(facts: Mapping[str, Any]) -> dict[str, Any]:
    from openlineage.client.generated import dataset_version_dataset, schema_dataset

    facets: dict[str, Any] = {}
    if facts.get("version") is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=facts["version"], producer=PRODUCER
        )
    if facts.get("schema"):
        fields = [
            schema_dataset.SchemaDatasetFacetFields(
                name=str(column["name"]),
                type=column.get("dtype") or column.get("type"),
                ordinal_position=position,
            )
            for position, column in enumerate(facts["schema"], start=1)
        ]
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=fields, producer=PRODUCER
        )
    return facets


def _input(facts: Mapping[str, Any], namespace: str) -> InputDataset:
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.generated import (
        data_quality_assertions_dataset as assertions,
    )
    from openlineage.client.generated import input_statistics_input_dataset

    input_facets: dict[str, Any] = {}
    if facts.get("rows") is not None:
        input_facets["inputStatistics"] = (
            input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                rowCount=facts["rows"], size=facts.get("size"), producer=PRODUCER
            )
        )
    checks = [
        assertions.Assertion(
            assertion=_check_type(result["check"]),
            success=bool(result["passed"]),
            column=result.get("column"),
            severity=_severity(result.get("severity")),
            name=f"{report.get('suite')}: {result['check']}",
            description=result.get("message") or None,
        )
        for report in facts.get("quality", [])
        for result in report.get("results", [])
    ]
    if checks:
        input_facets["dataQualityAssertions"] = (
            assertions.DataQualityAssertionsDatasetFacet(
                assertions=checks, producer=PRODUCER
            )
        )
    return InputDataset(
        namespace=namespace,
        name=facts["name"],
        facets=_dataset_facets(facts),
        inputFacets=input_facets,
    )


def _output(facts: Mapping[str, Any], namespace: str) -> OutputDataset:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.generated import output_statistics_output_dataset

    output_facets: dict[str, Any] = {}
    if facts.get("rows") is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=facts["rows"], size=facts.get("size"), producer=PRODUCER
            )
        )
    return OutputDataset(
        namespace=namespace,
        name=facts["name"],
        facets=_dataset_facets(facts),
        outputFacets=output_facets,
    )


# -- sending -------------------------------------------------------------------


class _Sender:
    """One client per transport configuration, and the warn-once state."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[str, OpenLineageClient] = {}
        self.warned = False
        self.failures = 0

    def client(self, target: Target) -> OpenLineageClient:
        from openlineage.client import OpenLineageClient

        key = json.dumps(target.transport, sort_keys=True)
        with self.lock:
            if key not in self.clients:
                config = (
                    None
                    if target.transport is None
                    else {"transport": target.transport}
                )
                self.clients[key] = OpenLineageClient(config=config)
            return self.clients[key]

    def failed(self, message: str, *args: Any) -> None:
        """Log the first failure of the process as a warning, later ones at debug level."""
        with self.lock:
            self.failures += 1
            first = not self.warned
            self.warned = True
        if first:
            logger.warning(
                message + "; the run goes on without OpenLineage events", *args
            )
        else:
            logger.debug(message + " (failure %d)", *args, self.failures)


_sender = _Sender()


def send_run_event(
    store: SqlStore,
    objects: ObjectStore,
    run: Mapping[str, Any],
    status: str,
    error: str | None = None,
) -> None:
    """Send the run's START (``status="START"``) or end event, if OpenLineage is on.

    Args:
        store: The store the run is recorded in.
        objects: The artifact store holding the run's quality reports.
        run: The run's ``id``, ``name``, ``experiment``, ``kind``,
            ``parent_id`` and ``source``.
        status: ``START``, or the status the run ended with.
        error: The error a FAILED or KILLED run ended with.
    """
    try:
        target = configured_target()
    except ConfigError as exc:
        _sender.failed("OpenLineage is off: %s", exc)
        return
    if target is None:
        return
    # Any error from the store, the client's configuration or its transport
    # must not fail the run, so the catch is broad.
    try:
        client = _sender.client(target)
        data = collect(store, objects, run, status, error)
        client.emit(build_event(data, target.namespace))
    except ImportError:
        if target.explicit:
            _sender.failed(
                "%s is set but the openlineage-python package is missing; install "
                "it with pip install 'tether-mlops[openlineage]'",
                OPENLINEAGE_ENV,
            )
    except Exception as exc:
        _sender.failed(
            "sending the OpenLineage %s event of run %s failed: %s: %s",
            EVENT_TYPES.get(status, status),
            run.get("id"),
            type(exc).__name__,
            exc,
        )
