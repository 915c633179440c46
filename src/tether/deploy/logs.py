"""Reading and following a deployment's log files."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from pathlib import Path

from tether.deploy.paths import deployment_folder, server_log, supervisor_log
from tether.deploy.spec import ROLES, ModelTarget, Routing
from tether.errors import ConfigError, NotFoundError
from tether.store import get_store

FOLLOW_POLL_SECONDS = 0.2


def log_path(name: str, server: str | None = None) -> Path:
    """Return the supervisor's log of ``name``, or the log of one of its model servers.

    Args:
        server: A role (``primary``, ``canary``, ``shadow``) in the routing in
            effect, or a version's pinned URI such as ``models:/m/2``.

    Raises:
        NotFoundError: No such deployment.
        ConfigError: ``server`` names no server of the deployment.
    """
    store = get_store()
    record = store.get_deployment(name)
    folder = deployment_folder(name)
    if server is None:
        return supervisor_log(folder)
    targets: dict[str, ModelTarget] = {}
    for revision in store.list_revisions(record.id):
        for target in Routing.from_dict(revision.routing).targets().values():
            targets[target.uri] = target
    if server in ROLES and record.revision is not None:
        routing = Routing.from_dict(
            store.get_revision(record.id, record.revision).routing
        )
        in_role = routing.targets().get(server)
        if in_role is not None:
            return server_log(folder, in_role)
    if server in targets:
        return server_log(folder, targets[server])
    known = ", ".join(sorted(targets)) or "none"
    raise ConfigError(
        f"deployment {name} has no server {server!r}; use primary, canary, shadow or "
        f"one of its versions: {known}",
        setting="server",
        value=server,
    )


def read_log(path: Path, lines: int | None = None) -> tuple[str, int]:
    """Return the log's text, or its last ``lines`` lines, and the byte size read.

    The size is where :func:`follow` continues, so no line is printed twice.

    Raises:
        NotFoundError: The file does not exist yet.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            f"no log at {path} yet; the process has not written to it",
            kind="log",
            name=str(path),
        ) from None
    text = data.decode(errors="replace")
    if lines is not None:
        kept = text.splitlines(keepends=True)[-lines:] if lines > 0 else []
        text = "".join(kept)
    return text, len(data)


def follow(
    path: Path,
    write: Callable[[str], None],
    *,
    running: Callable[[], bool],
    start: int = 0,
) -> None:
    """Write what is appended to ``path`` from offset ``start`` until ``running()`` is false.

    ``running()`` is checked before each read, so the last read after the
    process ended gets its final lines, such as its stop message.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    offset = start
    while True:
        alive = running()
        try:
            with path.open("rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            data = b""
        offset += len(data)
        text = decoder.decode(data, final=not alive)
        if text:
            write(text)
        if not alive:
            return
        time.sleep(FOLLOW_POLL_SECONDS)
