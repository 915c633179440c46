"""Deployments: a gateway and supervised local model servers, with canary and shadow.

A deployment serves one primary model version behind a gateway on
``127.0.0.1`` by default, optionally with a canary that gets a percentage of
the requests and a shadow that gets a copy of each. A detached supervisor
process runs the gateway and one ``tether serve`` process per version,
restarts servers that exit, and applies promotions and rollbacks without a
failed request. Application tests (smoke, contract, load) gate every
release. See docs/deployments.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ApplicationTestSettings",
    "DeploymentSettings",
    "Routing",
    "create_deployment",
    "promote",
    "remove_deployment",
    "reroute",
    "rollback",
    "run_deployment_tests",
    "stop_deployment",
]

# Loaded on first use, so that the CLI can import the light modules (spec)
# without the HTTP client and the store that the others pull in.
_LAZY = {
    "ApplicationTestSettings": "tether.deploy.spec",
    "DeploymentSettings": "tether.deploy.spec",
    "Routing": "tether.deploy.spec",
    "create_deployment": "tether.deploy.lifecycle",
    "remove_deployment": "tether.deploy.lifecycle",
    "stop_deployment": "tether.deploy.lifecycle",
    "promote": "tether.deploy.changes",
    "reroute": "tether.deploy.changes",
    "rollback": "tether.deploy.changes",
    "run_deployment_tests": "tether.deploy.changes",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether.deploy' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
