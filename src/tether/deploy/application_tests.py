"""Application tests of a running scoring server: smoke, contract and load.

- smoke: ``/health`` returns 200 and names the expected version, ``/ready``
  returns 200 (a server without the route passes on its ``/health``), and
  the version's input example predicts with one prediction per row.
- contract: the signature's edge cases get the documented status (see
  :mod:`tether.deploy.contract`).
- load: :class:`~tether.deploy.spec.ApplicationTestSettings` requests at its
  concurrency all return 200, with the 99th percentile latency within the
  budget.

Tests that cannot run on a version (a version with no signature has no
contract, one with neither example nor column signature has no request to
send) are reported as skipped, and skipped tests do not fail a release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from tether.deploy.contract import (
    EXTRA_COLUMN,
    ContractCase,
    contract_cases,
    example_records,
    synthesized_record,
)
from tether.deploy.load import run_load
from tether.deploy.spec import ApplicationTestSettings

if TYPE_CHECKING:
    import pandas as pd

    from tether.models.signature import Signature


@dataclass(frozen=True)
class ApplicationTestResult:
    """The result of one application test.

    Attributes:
        kind: ``smoke``, ``contract`` or ``load``.
        detail: What was checked and what the server returned.
        values: Measurements, such as the load test's latencies.
    """

    name: str
    kind: str
    passed: bool
    detail: str
    skipped: bool = False
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-compatible values."""
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "skipped": self.skipped,
            "detail": self.detail,
            "values": self.values,
        }


@dataclass(frozen=True)
class ApplicationTestReport:
    """The application test results of one model version behind one server."""

    model_uri: str
    results: list[ApplicationTestResult]

    @property
    def passed(self) -> bool:
        """Whether every test passed or was skipped."""
        return all(result.passed for result in self.results)

    @property
    def failed_names(self) -> list[str]:
        """The names of the tests that failed."""
        return [result.name for result in self.results if not result.passed]

    def to_list(self) -> list[dict[str, Any]]:
        """Return the results as JSON-compatible values."""
        return [result.to_dict() for result in self.results]


def run_application_tests(
    base_url: str,
    *,
    model_uri: str,
    version: int | None,
    signature: Signature | None,
    example: pd.DataFrame | None,
    settings: ApplicationTestSettings,
) -> ApplicationTestReport:
    """Run the smoke, contract and load tests against the server at ``base_url``.

    Args:
        base_url: The server, such as ``http://127.0.0.1:40123``.
        model_uri: The version the server is expected to serve.
        version: Its version number, which ``/health`` and ``/predict``
            must report; None skips that check.
        signature: The version's signature, for the contract tests.
        example: The version's input example; without it a row is built
            from the signature.
    """
    records = _valid_records(signature, example)
    with httpx.Client(timeout=settings.request_timeout_seconds) as client:
        results = [
            _smoke_health(client, base_url, version),
            _smoke_ready(client, base_url),
            _smoke_predict(client, base_url, records, version),
        ]
        results += _contract(client, base_url, signature, records)
    results.append(_load(base_url, records, settings))
    return ApplicationTestReport(model_uri, results)


def _valid_records(
    signature: Signature | None, example: pd.DataFrame | None
) -> list[dict[str, Any]]:
    if example is not None and len(example.index) > 0:
        return example_records(example)
    if signature is None:
        return []
    record = synthesized_record(signature)
    return [record] if record is not None else []


def _smoke_health(
    client: httpx.Client, base_url: str, version: int | None
) -> ApplicationTestResult:
    name = "smoke.health"
    try:
        response = client.get(f"{base_url}/health")
    except httpx.HTTPError as exc:
        return ApplicationTestResult(
            name, "smoke", False, f"GET /health failed: {_error(exc)}"
        )
    if response.status_code != 200:
        return ApplicationTestResult(
            name, "smoke", False, f"GET /health returned {response.status_code}"
        )
    reported = _json(response).get("model_version")
    if version is not None and str(reported) != str(version):
        return ApplicationTestResult(
            name,
            "smoke",
            False,
            f"GET /health reports version {reported!r}, expected {version}",
        )
    return ApplicationTestResult(
        name, "smoke", True, f"GET /health returned 200, version {reported}"
    )


def _smoke_ready(client: httpx.Client, base_url: str) -> ApplicationTestResult:
    name = "smoke.ready"
    try:
        response = client.get(f"{base_url}/ready")
    except httpx.HTTPError as exc:
        return ApplicationTestResult(
            name, "smoke", False, f"GET /ready failed: {_error(exc)}"
        )
    if response.status_code == 404:
        return ApplicationTestResult(
            name, "smoke", True, "the server has no /ready route; /health decides"
        )
    passed = response.status_code == 200
    return ApplicationTestResult(
        name, "smoke", passed, f"GET /ready returned {response.status_code}"
    )


def _smoke_predict(
    client: httpx.Client,
    base_url: str,
    records: list[dict[str, Any]],
    version: int | None,
) -> ApplicationTestResult:
    name = "smoke.predict"
    if not records:
        return _skipped(
            name, "smoke", "the version has no input example and no column signature"
        )
    try:
        response = client.post(f"{base_url}/predict", json={"records": records})
    except httpx.HTTPError as exc:
        return ApplicationTestResult(
            name, "smoke", False, f"POST /predict failed: {_error(exc)}"
        )
    body = _json(response)
    if response.status_code != 200:
        return ApplicationTestResult(
            name,
            "smoke",
            False,
            f"POST /predict with {len(records)} example rows returned "
            f"{response.status_code}: {body.get('error', response.text[:200])}",
        )
    predictions = body.get("predictions")
    count = len(predictions) if isinstance(predictions, list) else None
    if count != len(records):
        return ApplicationTestResult(
            name,
            "smoke",
            False,
            f"POST /predict returned {count} predictions for {len(records)} rows",
        )
    reported = body.get("model_version")
    if version is not None and str(reported) != str(version):
        return ApplicationTestResult(
            name,
            "smoke",
            False,
            f"POST /predict was served by version {reported!r}, expected {version}",
        )
    return ApplicationTestResult(
        name, "smoke", True, f"{len(records)} example rows got {count} predictions"
    )


def _contract(
    client: httpx.Client,
    base_url: str,
    signature: Signature | None,
    records: list[dict[str, Any]],
) -> list[ApplicationTestResult]:
    if signature is None:
        return [_skipped("contract", "contract", "the version has no signature")]
    if signature.inputs_are_tensors:
        return [
            _skipped(
                "contract",
                "contract",
                "the signature declares tensors, which the server does not read from JSON",
            )
        ]
    if not records:
        return [_skipped("contract", "contract", "no valid row to change")]
    return [
        _contract_case(client, base_url, case)
        for case in contract_cases(signature, records[0])
    ]


def _contract_case(
    client: httpx.Client, base_url: str, case: ContractCase
) -> ApplicationTestResult:
    try:
        response = client.post(f"{base_url}/predict", json={"records": case.records})
    except httpx.HTTPError as exc:
        return ApplicationTestResult(
            case.name, "contract", False, f"{case.description}: {_error(exc)}"
        )
    body = _json(response)
    values = {"status": response.status_code, "expected_status": case.expected_status}
    if response.status_code != case.expected_status:
        detail = (
            f"expected {case.expected_status} ({case.description}), got "
            f"{response.status_code}: {body.get('error', response.text[:200])}"
        )
        return ApplicationTestResult(
            case.name, "contract", False, detail, values=values
        )
    if case.expected_status == 422 and body.get("column") != case.column:
        detail = (
            f"{case.description} with {response.status_code}, but the error names "
            f"column {body.get('column')!r} instead of {case.column!r}"
        )
        return ApplicationTestResult(
            case.name, "contract", False, detail, values=values
        )
    if case.expected_status == 200 and EXTRA_COLUMN not in body.get(
        "ignored_columns", []
    ):
        detail = (
            f"{case.description}, but the response does not list it in ignored_columns"
        )
        return ApplicationTestResult(
            case.name, "contract", False, detail, values=values
        )
    return ApplicationTestResult(
        case.name,
        "contract",
        True,
        f"{case.description}: {response.status_code}",
        values=values,
    )


def _load(
    base_url: str, records: list[dict[str, Any]], settings: ApplicationTestSettings
) -> ApplicationTestResult:
    name = "load.p99"
    if not records:
        return _skipped(name, "load", "no valid row to send")
    result = run_load(
        f"{base_url}/predict",
        {"records": records[:1]},
        requests=settings.load_requests,
        concurrency=settings.load_concurrency,
        timeout_seconds=settings.request_timeout_seconds,
    )
    values = {**result.to_dict(), "budget_ms": settings.p99_ms}
    summary = (
        f"{result.requests} requests at concurrency {result.concurrency}: "
        f"p99 {result.p99_ms:.1f} ms (budget {settings.p99_ms:g} ms), "
        f"{result.errors} failed"
    )
    if result.errors:
        detail = f"{summary}; first failure: {result.first_error}"
        return ApplicationTestResult(name, "load", False, detail, values=values)
    passed = result.p99_ms <= settings.p99_ms
    return ApplicationTestResult(name, "load", passed, summary, values=values)


def _skipped(name: str, kind: str, reason: str) -> ApplicationTestResult:
    return ApplicationTestResult(name, kind, True, f"skipped: {reason}", skipped=True)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        decoded = response.json()
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _error(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_tests_on_version(
    base_url: str, model_uri: str, settings: ApplicationTestSettings
) -> ApplicationTestReport:
    """Run the application tests on a registered version, with its signature and example."""
    from tether.models.loading import input_example
    from tether.models.registry import get_version
    from tether.models.signature import Signature

    record = get_version(model_uri)
    signature = Signature.from_dict(record.signature) if record.signature else None
    return run_application_tests(
        base_url,
        model_uri=record.uri,
        version=record.version,
        signature=signature,
        example=input_example(record),
        settings=settings,
    )
