"""Run the service on a background thread: for tests, benchmarks and embedding.

>>> with ServerThread(create_app(model)) as server:       # doctest: +SKIP
...     httpx.get(server.url + "/healthz")
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


class ServerThread:
    """A uvicorn server on ``host`` and a free port (or ``port``), stopped on exit of the ``with``."""

    def __init__(self, app, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        from emovox.apps.server.serving import uvicorn_config

        # the same connection limits as `emovox serve` (header deadline, connection cap)
        config = uvicorn_config(app, app.state.emovox.config, log_level=log_level, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerThread:
        """Start serving; return once the server accepts connections (RuntimeError if it cannot)."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask the server to finish and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
