"""The requirements.txt of a packaged model: exact pins, and Tether's own wheel.

The pins come from two places. The packages recorded with the model version
when it was registered (the flavor's libraries, such as scikit-learn and
NumPy) keep their recorded versions, because the model's files were written
by those versions. Every other distribution that Tether needs, found by
walking the installed dependency metadata from ``tether-mlops``, is pinned at
the version installed where the folder is packaged.

Tether itself is not on PyPI. When it runs from a source tree (an editable
or local-folder install), its wheel is built into ``wheels/``, and
requirements.txt names the wheel by a path relative to the package folder.
Otherwise Tether is pinned by version.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from tether.errors import ConfigError
from tether.store.records import ModelVersionRecord

if TYPE_CHECKING:
    from packaging.requirements import Requirement

logger = logging.getLogger(__name__)

TETHER_DISTRIBUTION = "tether-mlops"
WHEEL_FOLDER = "wheels"
# 1980-01-01, the earliest time a zip file can store. With SOURCE_DATE_EPOCH
# set, the wheel tool writes this time for every entry, so building the same
# source twice gives the same wheel bytes.
WHEEL_EPOCH = "315532800"
# Files and folders that a wheel build of Tether reads from its source tree.
# Building from a copy keeps setuptools' build/ and egg-info folders out of
# the source tree, and two builds at the same time do not share them.
BUILD_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md")
BUILD_FILE_PATTERNS = ("LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*")
BUILD_FOLDERS = ("src",)
BUILD_IGNORED = ("__pycache__", "*.pyc", "*.egg-info")


@dataclass(frozen=True)
class Requirements:
    """The pins of a packaged model.

    Attributes:
        recorded: Pins recorded with the model version, sorted by name.
        installed: Pins of Tether's dependencies as installed here, sorted by
            name, without the recorded ones.
        tether: The line that installs Tether: a wheel path relative to the
            package folder, or ``tether-mlops==VERSION``.
        python: The Python version recorded with the model version.
    """

    recorded: list[str]
    installed: list[str]
    tether: str
    python: str

    def text(self, uri: str) -> str:
        """Return the content of requirements.txt for the version at ``uri``."""
        lines = [
            f"# Requirements to serve {uri}, recorded on Python {self.python}.",
            "# Install them from this folder, because the wheel path is relative:",
            "#   pip install -r requirements.txt",
            "",
            "# Recorded with the model version when it was registered:",
            *self.recorded,
            "",
            "# Tether and its dependencies, as installed where this folder was packaged:",
            self.tether,
            *self.installed,
        ]
        return "\n".join(lines) + "\n"


def write_requirements(
    record: ModelVersionRecord, extra: str | None, folder: Path
) -> Requirements:
    """Write requirements.txt (and Tether's wheel when needed) into ``folder``.

    Args:
        record: The model version being packaged.
        extra: Tether's pip extra that installs the flavor's libraries, if any.
        folder: The package folder.

    Raises:
        ConfigError: A dependency is neither recorded nor installed, a pin
            conflicts with a requirement of another pinned package, or the
            wheel build failed.
    """
    python = str(record.details.get("python") or platform.python_version())
    _warn_on_other_python(record.uri, python)
    recorded = _recorded_pins(record)
    pins = dependency_pins([extra] if extra else [], recorded.versions)
    installed = [
        pin for name, pin in sorted(pins.items()) if name not in recorded.versions
    ]
    requirements = Requirements(
        recorded=[recorded.lines[name] for name in sorted(recorded.lines)],
        installed=installed,
        tether=_tether_line(folder),
        python=python,
    )
    (folder / "requirements.txt").write_text(requirements.text(record.uri), "utf-8")
    return requirements


@dataclass(frozen=True)
class _RecordedPins:
    lines: dict[str, str]
    """Each recorded requirement as written, by canonical name."""
    versions: dict[str, str | None]
    """The exact version of each recorded ``==`` pin, else None, by canonical name."""


def _recorded_pins(record: ModelVersionRecord) -> _RecordedPins:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    lines: dict[str, str] = {}
    versions: dict[str, str | None] = {}
    for text in record.details.get("requirements") or []:
        try:
            requirement = Requirement(str(text))
        except InvalidRequirement as exc:
            raise ConfigError(
                f"{record.uri} records an invalid requirement {text!r}: {exc}; "
                "register the model again to record its environment",
                setting="requirements",
                value=str(text),
            ) from exc
        name = canonicalize_name(requirement.name)
        lines[name] = str(requirement)
        exact = [s.version for s in requirement.specifier if s.operator == "=="]
        versions[name] = exact[0] if len(exact) == 1 else None
    return _RecordedPins(lines, versions)


def dependency_pins(
    extras: Iterable[str], fixed: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """Return ``name==version`` for every distribution Tether needs, by canonical name.

    The walk follows the installed metadata from ``tether-mlops`` with
    ``extras``, evaluating environment markers for this interpreter. A
    distribution in ``fixed`` (canonical name to version, or None for a
    recorded requirement that is not an exact pin) keeps that version, and its
    own dependencies are followed only when it is installed.

    Raises:
        ConfigError: A dependency is neither recorded nor installed, or a
            pinned version does not satisfy a requirement on it.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    fixed = fixed or {}
    pins: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [
        (TETHER_DISTRIBUTION, frozenset(extras))
    ]
    walked: set[tuple[str, frozenset[str]]] = set()
    while pending:
        parent, parent_extras = pending.pop()
        if (parent, parent_extras) in walked:
            continue
        walked.add((parent, parent_extras))
        for text in _installed_requires(parent):
            requirement = Requirement(text)
            if not _applies(requirement, parent_extras):
                continue
            name = canonicalize_name(requirement.name)
            version = fixed.get(name) or _installed_version(name)
            if version is None and name not in fixed:
                raise ConfigError(
                    f"{requirement.name}, required by {parent}, is not installed, so "
                    "its version cannot be pinned; install it and package again",
                    setting="requirements",
                    value=requirement.name,
                )
            if version is not None:
                _check_satisfies(requirement, version, parent)
                pins[name] = f"{name}=={version}"
            if _installed_version(name) is not None:
                pending.append((name, frozenset(requirement.extras)))
    pins.pop(canonicalize_name(TETHER_DISTRIBUTION), None)
    return pins


def _installed_requires(name: str) -> list[str]:
    try:
        return metadata.distribution(name).requires or []
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"{name} is not installed as a distribution, so its dependencies cannot "
            "be pinned; install Tether with pip (`pip install -e .` in a source tree)",
            setting="requirements",
            value=name,
        ) from None


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Return whether a requirement's marker is true here for one of ``extras``."""
    marker = requirement.marker
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in extras or {""})


def _check_satisfies(requirement: Requirement, version: str, parent: str) -> None:
    if requirement.specifier.contains(version, prereleases=True):
        return
    raise ConfigError(
        f"{parent} requires {requirement}, but the pinned version is {version}; "
        "package the model from an environment whose versions match the ones "
        "recorded with it, or register the model again in this environment",
        setting="requirements",
        value=str(requirement),
    )


def _warn_on_other_python(uri: str, python: str) -> None:
    running = ".".join(platform.python_version_tuple()[:2])
    if ".".join(python.split(".")[:2]) != running:
        logger.warning(
            "%s was registered on Python %s but is packaged on Python %s; the pins "
            "of Tether's dependencies come from this Python",
            uri,
            python,
            running,
        )


def _tether_line(folder: Path) -> str:
    """Return the requirements line for Tether, building its wheel from a source tree."""
    version = metadata.version(TETHER_DISTRIBUTION)
    source = tether_source_tree()
    if source is None:
        return f"{TETHER_DISTRIBUTION}=={version}"
    wheel = build_wheel(source, folder / WHEEL_FOLDER)
    return f"./{WHEEL_FOLDER}/{wheel.name}"


def tether_source_tree() -> Path | None:
    """Return the source folder Tether was installed from, if it was a local folder.

    pip records the source of an install in ``direct_url.json``: a local
    folder has ``dir_info`` (with ``editable`` for ``pip install -e``).
    """
    try:
        text = metadata.distribution(TETHER_DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    source = json.loads(text)
    url = str(source.get("url", ""))
    if "dir_info" not in source or not url.startswith("file://"):
        return None
    path = Path(unquote(urlparse(url).path))
    return path if (path / "pyproject.toml").is_file() else None


def build_wheel(source: Path, target: Path) -> Path:
    """Build Tether's wheel from ``source`` into ``target``; return the wheel's path.

    Raises:
        ConfigError: pip failed to build the wheel.
    """
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tether-wheel-") as scratch:
        copy = Path(scratch) / "source"
        _copy_build_inputs(source, copy)
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(target),
            str(copy),
        ]
        environment = {**os.environ, "SOURCE_DATE_EPOCH": WHEEL_EPOCH}
        result = subprocess.run(
            command, capture_output=True, text=True, env=environment, check=False
        )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        last = output[-1] if output else f"exit code {result.returncode}"
        raise ConfigError(
            f"building the Tether wheel from {source} failed: {last}; run "
            f"`{sys.executable} -m pip wheel --no-deps {source}` to see pip's output",
            setting="wheel",
            value=str(source),
        )
    wheels = sorted(target.glob("*.whl"))
    if len(wheels) != 1:
        raise ConfigError(
            f"pip wrote {len(wheels)} wheels into {target}, expected exactly one",
            setting="wheel",
            value=str(target),
        )
    return wheels[0]


def _copy_build_inputs(source: Path, copy: Path) -> None:
    copy.mkdir(parents=True)
    names = [name for name in BUILD_FILES if (source / name).is_file()]
    for pattern in BUILD_FILE_PATTERNS:
        names.extend(path.name for path in source.glob(pattern) if path.is_file())
    for name in sorted(set(names)):
        shutil.copy2(source / name, copy / name)
    ignored = shutil.ignore_patterns(*BUILD_IGNORED)
    for name in BUILD_FOLDERS:
        if (source / name).is_dir():
            shutil.copytree(source / name, copy / name, ignore=ignored)
