"""A real Tether server on a loopback port, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tether.server.settings import ServerSettings

START_SECONDS = 30.0


@dataclass
class RunningServer:
    """A server started by :func:`start_server`; ``url`` is where it listens."""

    settings: ServerSettings
    app: Any
    url: str
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=START_SECONDS)


def start_server(settings: ServerSettings, host: str = "127.0.0.1") -> RunningServer:
    """Start the app of ``settings`` with uvicorn on a free port of ``host``."""
    import uvicorn

    from tether.server.app import create_app

    app = create_app(settings)
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tether-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(settings, app, f"http://{host}:{port}", server, thread)
