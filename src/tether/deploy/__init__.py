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

from tether.deploy.changes import promote, rollback, run_deployment_tests
from tether.deploy.lifecycle import (
    create_deployment,
    remove_deployment,
    stop_deployment,
)
from tether.deploy.spec import ApplicationTestSettings, DeploymentSettings, Routing

__all__ = [
    "ApplicationTestSettings",
    "DeploymentSettings",
    "Routing",
    "create_deployment",
    "promote",
    "remove_deployment",
    "rollback",
    "run_deployment_tests",
    "stop_deployment",
]
