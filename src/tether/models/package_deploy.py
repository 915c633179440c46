"""The deployment files of a packaged model: Dockerfile, Kubernetes manifests, README.

Every file is a function of the model version, the image name and the
constants below, so packaging the same version twice writes the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined

from tether.errors import ConfigError
from tether.store.records import ModelVersionRecord

TEMPLATES = Path(__file__).parent / "package_templates"
PORT = 8080
USER_ID = 10001
PREDICTIONS_DIR = "/var/lib/tether/predictions"
CONTAINER_NAME = "model"
RESOURCES = {
    "requests": {"cpu": "250m", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
MIN_REPLICAS = 1
MAX_REPLICAS = 4
CPU_TARGET_PERCENT = 70
# A Service name must be a DNS-1035 label: lowercase letters, digits and '-',
# starting with a letter, at most 63 characters. Such a name is also a valid
# DNS-1123 label and subdomain, so the Deployment and the HPA can share it.
MAX_NAME_LENGTH = 63
# A Docker image reference: [host[:port]/]path[:tag][@sha256:digest].
_IMAGE = re.compile(
    r"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[0-9a-f]{64})?"
)

DOCKERIGNORE = """\
# Only what the Dockerfile copies goes into the build context.
*
!requirements.txt
!wheels
!model.json
!model
"""


class _PlainDumper(yaml.SafeDumper):
    """A YAML dumper that writes a mapping used twice in full, not as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass(frozen=True)
class Deployment:
    """Names used by the deployment files of one packaged version.

    Attributes:
        name: The Kubernetes name of the Deployment, Service and HPA.
        image: The container image the manifests run.
    """

    name: str
    image: str


def deployment_for(record: ModelVersionRecord, image: str | None) -> Deployment:
    """Return the Kubernetes name and the checked image for a model version.

    The name is the model name in lowercase with every run of other
    characters turned into '-', then ``-v`` and the version, such as
    ``flight-delay-v3``. The default image is ``flight-delay:3``.

    Raises:
        ConfigError: ``image`` is not a valid image reference.
    """
    base = _name_base(record.name, f"-v{record.version}")
    chosen = image if image is not None else f"{base}:{record.version}"
    if _IMAGE.fullmatch(chosen) is None:
        raise ConfigError(
            f"invalid image name {chosen!r}; use [REGISTRY/]NAME[:TAG] with a "
            "lowercase name, for example registry.example.com/flight-delay:3",
            setting="image",
            value=chosen,
        )
    return Deployment(name=f"{base}-v{record.version}", image=chosen)


def _name_base(model_name: str, suffix: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")
    if not base or not base[0].isalpha():
        base = f"model-{base}".rstrip("-")
    return base[: MAX_NAME_LENGTH - len(suffix)].rstrip("-")


def write_deployment_files(
    record: ModelVersionRecord,
    deployment: Deployment,
    folder: Path,
    *,
    python: str,
    wheels: bool,
    payload: dict[str, Any],
) -> None:
    """Write the Dockerfile, .dockerignore, k8s/ manifests and README.md into ``folder``.

    Args:
        python: The Python version recorded with the model version.
        wheels: Whether the folder has Tether's wheel under ``wheels/``.
        payload: A ``/predict`` request body for the README's example.
    """
    context = _template_context(record, deployment, python, wheels, payload)
    (folder / "Dockerfile").write_text(_render("Dockerfile.j2", context), "utf-8")
    (folder / ".dockerignore").write_text(DOCKERIGNORE, "utf-8")
    (folder / "README.md").write_text(_render("README.md.j2", context), "utf-8")
    manifests = folder / "k8s"
    manifests.mkdir()
    labels = _labels(record, deployment)
    documents = {
        "deployment.yaml": _deployment_manifest(deployment, labels),
        "service.yaml": _service_manifest(deployment, labels),
        "hpa.yaml": _autoscaler_manifest(deployment, labels),
    }
    for file_name, document in documents.items():
        text = f"# Serves {record.uri}; written by `tether models package`.\n"
        text += yaml.dump(document, Dumper=_PlainDumper, sort_keys=False)
        (manifests / file_name).write_text(text, "utf-8")


def _template_context(
    record: ModelVersionRecord,
    deployment: Deployment,
    python: str,
    wheels: bool,
    payload: dict[str, Any],
) -> dict[str, Any]:
    body = json.dumps(payload, sort_keys=True, allow_nan=False, default=str)
    return {
        "uri": record.uri,
        "model_name": record.name,
        "version": record.version,
        "flavor": record.flavor,
        "name": deployment.name,
        "image": deployment.image,
        "python": python,
        "python_minor": ".".join(python.split(".")[:2]),
        "wheels": wheels,
        "port": PORT,
        "uid": USER_ID,
        "predictions_dir": PREDICTIONS_DIR,
        "container": CONTAINER_NAME,
        # The README shows the body inside single quotes in a shell command.
        "payload": body.replace("'", "'\\''"),
        "resources": RESOURCES,
        "min_replicas": MIN_REPLICAS,
        "max_replicas": MAX_REPLICAS,
        "cpu_target": CPU_TARGET_PERCENT,
    }


def _render(template_name: str, context: dict[str, Any]) -> str:
    environment = Environment(
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    source = (TEMPLATES / template_name).read_text("utf-8")
    return environment.from_string(source).render(**context)


def _labels(record: ModelVersionRecord, deployment: Deployment) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": deployment.name,
        "app.kubernetes.io/version": str(record.version),
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/managed-by": "tether",
    }


def _deployment_manifest(
    deployment: Deployment, labels: dict[str, str]
) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": deployment.name}
    probe = {"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 5}
    container = {
        "name": CONTAINER_NAME,
        "image": deployment.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [{"name": "TETHER_PREDICTIONS_DIR", "value": PREDICTIONS_DIR}],
        "resources": RESOURCES,
        "readinessProbe": {**probe, "initialDelaySeconds": 5, "periodSeconds": 10},
        "livenessProbe": {
            **probe,
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "runAsGroup": USER_ID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "predictions", "mountPath": PREDICTIONS_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": deployment.name, "labels": labels},
        "spec": {
            "replicas": MIN_REPLICAS,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "fsGroup": USER_ID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "predictions", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def _service_manifest(deployment: Deployment, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": deployment.name, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": deployment.name},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def _autoscaler_manifest(
    deployment: Deployment, labels: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": deployment.name, "labels": labels},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": deployment.name,
            },
            "minReplicas": MIN_REPLICAS,
            "maxReplicas": MAX_REPLICAS,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": CPU_TARGET_PERCENT,
                        },
                    },
                }
            ],
        },
    }
