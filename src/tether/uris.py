"""Parse the URIs users type: ``models:/name@alias``, ``models:/name/3``,
``datasets:/name@3`` and ``runs:/<id>/path``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.errors import InvalidURIError

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._\-]*"
"""Names of models, datasets, aliases and tags: what the URI forms can address."""
_NAME = NAME_PATTERN
_MODEL = re.compile(
    rf"^models:/(?P<name>{_NAME})(?:/(?P<version>\d+)|@(?P<alias>{_NAME}))$"
)
_DATASET = re.compile(rf"^datasets:/(?P<name>{_NAME})(?:@(?P<ref>{_NAME}))?$")
_RUN = re.compile(r"^runs:/(?P<run_id>[0-9a-z]+)(?:/(?P<path>.*))?$")


@dataclass(frozen=True)
class ModelRef:
    """A reference to one model version, by number or by alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"models:/{self.name}/{self.version}"
        return f"models:/{self.name}@{self.alias}"


@dataclass(frozen=True)
class DatasetRef:
    """A reference to a dataset version: a number, a tag, or the latest."""

    name: str
    ref: str | None = None

    def __str__(self) -> str:
        return f"datasets:/{self.name}" + (f"@{self.ref}" if self.ref else "")


@dataclass(frozen=True)
class RunRef:
    """A reference to a run, or to an artifact path inside it."""

    run_id: str
    path: str = ""


def parse_model_uri(uri: str) -> ModelRef:
    """Parse ``models:/name/3`` or ``models:/name@alias``."""
    match = _MODEL.match(uri.strip())
    if not match:
        raise InvalidURIError(
            f"invalid model URI {uri!r}; use models:/NAME/VERSION or models:/NAME@ALIAS, "
            "for example models:/flight-delay@champion",
            uri=uri,
        )
    version = match["version"]
    return ModelRef(match["name"], int(version) if version else None, match["alias"])


def parse_dataset_uri(uri: str) -> DatasetRef:
    """Parse ``datasets:/name``, ``datasets:/name@3`` or ``datasets:/name@tag``."""
    match = _DATASET.match(uri.strip())
    if not match:
        raise InvalidURIError(
            f"invalid dataset URI {uri!r}; use datasets:/NAME or datasets:/NAME@VERSION",
            uri=uri,
        )
    return DatasetRef(match["name"], match["ref"])


def parse_run_uri(uri: str) -> RunRef:
    """Parse ``runs:/<id>`` or ``runs:/<id>/path/in/run``."""
    match = _RUN.match(uri.strip())
    if not match:
        raise InvalidURIError(
            f"invalid run URI {uri!r}; use runs:/RUN_ID[/PATH]", uri=uri
        )
    return RunRef(match["run_id"], match["path"] or "")
