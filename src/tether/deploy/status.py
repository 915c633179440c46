"""The state of deployments as ``tether deploy list`` and ``status`` show it.

The stored state is what the supervisor last wrote. ``status`` adds what is
true now: whether each recorded process runs, and what the gateway's
``/health`` and each server's readiness probe return.
"""

from __future__ import annotations

from typing import Any

import httpx

from tether.deploy.probes import probe_health, probe_ready
from tether.deploy.processes import SERVER_HOST, is_process_of
from tether.deploy.spec import Routing
from tether.store import get_store
from tether.store.deployment_ops import ACTIVE_STATUSES, DeploymentRecord

_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def effective_status(record: DeploymentRecord) -> str:
    """Return the stored status, or ``exited`` when an active deployment's supervisor is gone."""
    if record.status not in ACTIVE_STATUSES:
        return record.status
    pid = record.supervisor_pid
    if pid is None or not is_process_of(pid, record.id):
        return "exited"
    return record.status


def gateway_url(record: DeploymentRecord) -> str:
    """Return the URL clients use for the deployment's gateway."""
    host = record.host
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{record.port}"


def routing_of(record: DeploymentRecord) -> Routing | None:
    """Return the routing in effect, or None before the first revision applied."""
    if record.revision is None:
        return None
    revision = get_store().get_revision(record.id, record.revision)
    return Routing.from_dict(revision.routing)


def list_rows() -> list[dict[str, Any]]:
    """Return one summary per deployment, by name."""
    rows = []
    for record in get_store().list_deployments():
        routing = routing_of(record)
        rows.append(
            {
                "name": record.name,
                "status": effective_status(record),
                "gateway": gateway_url(record),
                "revision": record.revision,
                "primary": routing.primary.uri if routing else None,
                "canary": routing.canary.uri if routing and routing.canary else None,
                "traffic": routing.traffic if routing else None,
                "shadow": routing.shadow.uri if routing and routing.shadow else None,
                "supervisor_pid": record.supervisor_pid,
            }
        )
    return rows


def deployment_status(name: str) -> dict[str, Any]:
    """Return the full state of deployment ``name``, probing its processes now."""
    store = get_store()
    record = store.get_deployment(name)
    status = effective_status(record)
    routing = routing_of(record)
    live = status in ACTIVE_STATUSES
    with httpx.Client() as client:
        gateway = _probe_gateway(client, record) if live else None
        processes = [
            _process_state(client, process, live) for process in record.processes
        ]
    revisions = store.list_revisions(record.id)
    latest_tests: dict[str, dict[str, Any]] = {}
    for test in store.deployment_tests(record.id):
        latest_tests.setdefault(
            test.model_uri,
            {
                "model_uri": test.model_uri,
                "revision": test.revision,
                "passed": test.passed,
                "time": test.created_at.isoformat(),
                "results": test.results,
            },
        )
    return {
        "name": record.name,
        "status": status,
        "error": record.error,
        "gateway": gateway_url(record),
        "gateway_health": gateway,
        "supervisor_pid": record.supervisor_pid,
        "revision": record.revision,
        "routing": routing.to_dict() if routing else None,
        "traffic_split": _split(routing),
        "processes": processes,
        "revisions": [
            {
                "revision": revision.revision,
                "action": revision.action,
                "status": revision.status,
                "actor": revision.actor,
                "error": revision.error,
                "time": revision.created_at.isoformat(),
            }
            for revision in revisions
        ],
        "tests": list(latest_tests.values()),
    }


def _split(routing: Routing | None) -> dict[str, int] | None:
    if routing is None:
        return None
    split = {routing.primary.uri: 100 - routing.traffic}
    if routing.canary is not None:
        split[routing.canary.uri] = routing.traffic
    return split


def _probe_gateway(client: httpx.Client, record: DeploymentRecord) -> dict[str, Any]:
    host = _ANY_ADDRESS.get(record.host, record.host)
    shown = f"[{host}]" if ":" in host else host
    probe = probe_health(client, f"http://{shown}:{record.port}")
    return {"ok": probe.ready, "detail": probe.detail, "body": probe.body}


def _process_state(
    client: httpx.Client, process: dict[str, Any], live: bool
) -> dict[str, Any]:
    state = dict(process)
    pid, port = process.get("pid"), process.get("port")
    alive = bool(live and pid is not None and is_process_of(int(pid), str(port)))
    state["alive"] = alive
    state["health"] = None
    if alive:
        probe = probe_ready(client, f"http://{SERVER_HOST}:{port}")
        state["health"] = (
            "ready" if probe.ready else f"not ready ({probe.route}: {probe.detail})"
        )
    return state
