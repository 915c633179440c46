"""What an alert does when it fires: call a webhook, start a pipeline, roll back, move an alias.

Each action is a mapping with a ``type`` and its settings:

- ``{"type": "webhook", "url": "http://127.0.0.1:9000/hook"}``: POST the
  alert as JSON. Optional ``timeout`` (seconds, default 5), ``retries``
  (default 3) and ``headers``. A connection error or a 5xx response is
  retried with a doubling pause from 0.5 s; a 4xx response is not.
- ``{"type": "pipeline", "target": "flights.retrain:retrain"}``: record an
  alert event named after the rule, which schedules with ``on_alert`` react
  to, and start the pipeline. It runs in a new ``tether pipeline run``
  process whose output goes to ``$TETHER_HOME/alerts/RULE/``, or in this
  process with ``"wait": true``. Optional ``params``: the pipeline's
  arguments.
- ``{"type": "rollback", "deployment": "flights"}``: ``tether deploy
  rollback``; optional ``wait`` in seconds (default 300).
- ``{"type": "alias", "model": "flight-delay", "alias": "champion",
  "version": 3}``: point the alias at the version; optional ``force`` and
  ``reason`` as for ``tether models alias``.

An action never raises: its outcome (``ok``, a ``detail`` and what it
started) is returned, and the caller stores it with the alert and the
audit trail.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tether.errors import TetherError

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5.0
WEBHOOK_RETRIES = 3
FIRST_PAUSE_SECONDS = 0.5


def run_action(action: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """Run one action for the alert described by ``payload``; return its outcome."""
    kind = str(action.get("type"))
    runner = _RUNNERS.get(kind)
    started = time.monotonic()
    if runner is None:
        outcome: dict[str, Any] = {"ok": False, "detail": f"unknown action {kind!r}"}
    else:
        try:
            outcome = runner(action, payload)
        except Exception as exc:  # an action's failure must not stop the run
            if not isinstance(exc, TetherError | OSError | ValueError):
                logger.exception(
                    "alert %s: %s action failed", payload.get("rule"), kind
                )
            outcome = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    outcome = {"type": kind, **outcome}
    outcome["seconds"] = round(time.monotonic() - started, 3)
    level = logging.INFO if outcome["ok"] else logging.WARNING
    logger.log(
        level, "alert %s: %s action: %s", payload.get("rule"), kind, outcome["detail"]
    )
    return outcome


def _webhook(action: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    import httpx

    url = str(action["url"])
    if not url.startswith(("http://", "https://")):
        return {
            "ok": False,
            "detail": f"webhook URL {url!r} is not http:// or https://",
        }
    timeout = float(action.get("timeout", WEBHOOK_TIMEOUT_SECONDS))
    retries = int(action.get("retries", WEBHOOK_RETRIES))
    headers = {"Content-Type": "application/json", **dict(action.get("headers", {}))}
    body = json.dumps(payload, default=str).encode()
    pause = FIRST_PAUSE_SECONDS
    detail = ""
    with httpx.Client(timeout=timeout, trust_env=False) as client:
        for attempt in range(1, retries + 2):
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                detail = f"{url}: {type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 400:
                    return {
                        "ok": True,
                        "detail": f"{url} answered {status}",
                        "status": status,
                        "attempts": attempt,
                    }
                detail = f"{url} answered {status}"
                if status < 500:
                    return {
                        "ok": False,
                        "detail": detail,
                        "status": status,
                        "attempts": attempt,
                    }
            if attempt <= retries:
                time.sleep(pause)
                pause *= 2
    return {"ok": False, "detail": detail, "attempts": retries + 1}


def _pipeline(action: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    from tether.ids import new_id
    from tether.pipelines.references import load_pipeline
    from tether.store import get_store

    target = str(action["target"])
    params = dict(action.get("params", {}))
    # Import it here, so a wrong target is this action's failure rather
    # than a process that dies unseen.
    pipeline = load_pipeline(target)
    event = get_store().add_alert_event(str(payload["rule"]), dict(payload))
    if action.get("wait"):
        run_id = new_id()
        pipeline.run(run_id=run_id, **params)
        return {
            "ok": True,
            "detail": f"ran {target} as run {run_id}",
            "run_id": run_id,
            "event": event.id,
        }
    log_path = _pipeline_log(str(payload["rule"]), event.id)
    command = [sys.executable, "-m", "tether.cli", "pipeline", "run", target]
    for key, value in params.items():
        command += ["--param", f"{key}={json.dumps(value)}"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return {
        "ok": True,
        "detail": f"started {target} (pid {process.pid}, log {log_path})",
        "pid": process.pid,
        "log": str(log_path),
        "event": event.id,
    }


def _pipeline_log(rule: str, event_id: str) -> Path:
    from tether.config import resolve

    folder = resolve().home / "alerts" / rule
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"pipeline-{event_id}.log"


def _rollback(action: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    from tether.deploy.changes import rollback

    name = str(action["deployment"])
    result = rollback(name, wait_seconds=float(action.get("wait", 300.0)))
    primary = result.revision.routing.get("primary", {}).get("uri")
    ok = result.applied
    state = "applied" if ok else f"failed: {result.revision.error}"
    return {
        "ok": ok,
        "detail": f"rollback of {name} {state}; primary {primary}",
        "revision": result.revision.revision,
    }


def _alias(action: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    from tether.models.registry import set_alias

    model, alias, version = (
        str(action["model"]),
        str(action["alias"]),
        int(action["version"]),
    )
    reason = str(action.get("reason") or f"alert {payload.get('rule')} fired")
    record = set_alias(
        model, alias, version, force=bool(action.get("force")), reason=reason
    )
    return {
        "ok": True,
        "detail": f"{alias} of {model} now points at version {record.version}",
    }


_RUNNERS = {
    "webhook": _webhook,
    "pipeline": _pipeline,
    "rollback": _rollback,
    "alias": _alias,
}
