"""``tether init``: write a starting ``tether.yaml`` and a CI workflow that runs ``tether ci``.

The files come from the templates in ``tether/project/templates/``. They
use ``[[ ]]`` for values, because GitHub workflows use ``${{ }}`` themselves.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from tether.errors import ConfigError
from tether.project.spec import PROJECT_FILE

TEMPLATES = Path(__file__).parent / "templates"
CI_FILES = {
    "github": (Path(".github/workflows/tether.yml"), "github-workflow.yml.j2"),
    "gitlab": (Path(".gitlab-ci.yml"), "gitlab-ci.yml.j2"),
}
"""The file each CI system reads, and its template, by the name ``--ci`` takes."""


@dataclass(frozen=True)
class CiSettings:
    """Settings of the generated CI workflow: what it installs and where it releases.

    Attributes:
        python: The Python version of the CI job, such as ``3.11``.
        install: The shell command that installs the project and Tether.
        branches: The branches whose pushes release.
    """

    python: str
    install: str
    branches: tuple[str, ...] = ("main",)


def default_ci_settings(folder: Path) -> CiSettings:
    """Return CI settings for ``folder``: this Python, and an install that fits its files."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if (folder / "pyproject.toml").exists() or (folder / "setup.py").exists():
        install = "pip install -e ."
    elif (folder / "requirements.txt").exists():
        install = "pip install -r requirements.txt"
    else:
        install = "pip install tether-mlops"
    return CiSettings(python=python, install=install)


def write_project_file(folder: Path, *, force: bool = False) -> Path:
    """Write a commented starting ``tether.yaml`` into ``folder``; return its path.

    Raises:
        ConfigError: the file exists and ``force`` is false.
    """
    target = folder / PROJECT_FILE
    _refuse_existing(target, force, "tether init --force")
    target.write_text(render("tether.yaml.j2"), encoding="utf-8")
    return target


def write_ci_file(
    folder: Path, system: str, settings: CiSettings, *, force: bool = False
) -> Path:
    """Write the workflow of CI system ``system`` (github or gitlab); return its path.

    Raises:
        ConfigError: ``system`` is unknown, or the file exists and ``force``
            is false.
    """
    if system not in CI_FILES:
        raise ConfigError(
            f"unknown CI system {system!r}; use one of: {', '.join(CI_FILES)}",
            setting="ci",
            value=system,
        )
    relative, template = CI_FILES[system]
    target = folder / relative
    _refuse_existing(target, force, f"tether init --ci {system} --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    text = render(
        template,
        python=settings.python,
        install=settings.install,
        branches=json.dumps(list(settings.branches)),
        branches_text=" and ".join(settings.branches),
    )
    target.write_text(text, encoding="utf-8")
    return target


def render(template: str, **values: str) -> str:
    """Return a template of ``tether/project/templates`` filled with ``values``."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        variable_start_string="[[",
        variable_end_string="]]",
        keep_trailing_newline=True,
        autoescape=False,
    )
    return environment.get_template(template).render(**values)


def _refuse_existing(target: Path, force: bool, command: str) -> None:
    if target.exists() and not force:
        raise ConfigError(
            f"{target} exists; keep it, or overwrite it with `{command}`",
            setting="force",
            value=str(target),
        )
