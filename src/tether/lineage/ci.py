"""Read which continuous integration job a run happens in.

GitHub Actions and GitLab CI describe the job in the environment variables
they set for every job. Only the variables named in
:data:`GITHUB_ACTIONS_VARIABLES` and :data:`GITLAB_CI_VARIABLES` are read,
so tokens such as ``GITHUB_TOKEN`` or ``CI_JOB_TOKEN`` never reach a run's
record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

GITHUB_ACTIONS_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_RUN_ID",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_EVENT_NAME",
    "GITHUB_REF",
)
GITLAB_CI_VARIABLES = (
    "GITLAB_CI",
    "CI_JOB_ID",
    "CI_JOB_URL",
    "CI_PIPELINE_SOURCE",
    "CI_COMMIT_REF_NAME",
)
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def ci_facts(environ: Mapping[str, str] | None = None) -> dict[str, str | None] | None:
    """Return the CI provider, job id, run URL, trigger and ref, or None outside CI.

    Args:
        environ: The environment variables to read; default ``os.environ``.

    Returns:
        ``{"provider", "job_id", "run_url", "trigger", "ref"}``, with None
        for a variable the provider did not set. ``provider`` is
        ``github-actions`` or ``gitlab-ci``.
    """
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        return _github_actions(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab_ci(env)
    return None


def _github_actions(env: Mapping[str, str]) -> dict[str, str | None]:
    run_id = env.get("GITHUB_RUN_ID") or None
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY")
    run_url = None
    if server and repository and run_id:
        # The address GitHub shows for a workflow run.
        run_url = f"{server}/{repository}/actions/runs/{run_id}"
    return {
        "provider": "github-actions",
        "job_id": run_id,
        "run_url": _without_credentials(run_url),
        "trigger": env.get("GITHUB_EVENT_NAME") or None,
        "ref": env.get("GITHUB_REF") or None,
    }


def _gitlab_ci(env: Mapping[str, str]) -> dict[str, str | None]:
    return {
        "provider": "gitlab-ci",
        "job_id": env.get("CI_JOB_ID") or None,
        "run_url": _without_credentials(env.get("CI_JOB_URL") or None),
        "trigger": env.get("CI_PIPELINE_SOURCE") or None,
        "ref": env.get("CI_COMMIT_REF_NAME") or None,
    }


def _without_credentials(url: str | None) -> str | None:
    """Drop a ``user:password@`` part, which a self-hosted server URL may carry."""
    return _CREDENTIALS.sub("", url) if url else None
