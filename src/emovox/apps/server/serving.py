"""Running the app on uvicorn with connection-level limits that the ASGI app cannot see.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but has no deadline for a
request's headers: a client that sends half a request line keeps its connection, and with
httptools its header bytes are not capped either. :func:`protocol_class` wraps uvicorn's HTTP
protocol with both: a connection that has not completed a request's headers within
``header_timeout`` seconds (of connecting, or of its previous response) is closed, and so is one
that sends more than :data:`MAX_HEADER_BYTES` without completing them. ``limit_concurrency``
answers 503 to new requests while ``max_connections`` connections are open.

>>> server = uvicorn.Server(uvicorn_config(create_app(model, config), config, host="127.0.0.1", port=8000))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

from .common import ServerConfig

#: Most bytes a connection may send before its request's headers are complete (request line and headers).
MAX_HEADER_BYTES = 64 * 1024
#: Largest WebSocket message, bytes (a 4 MiB block is 21 s of 48 kHz 16-bit PCM; the page sends 0.1 s).
WS_MAX_SIZE = 4 * 1024 * 1024
#: Seconds an idle keep-alive connection is kept.
KEEP_ALIVE_S = 5


class _HeaderDeadline:
    """Mixin for a uvicorn HTTP protocol: close connections that do not complete a request's headers
    within ``header_timeout`` seconds or :data:`MAX_HEADER_BYTES` bytes."""

    header_timeout: float = 10.0
    _deadline: asyncio.TimerHandle | None = None
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        waiting = self._waiting_for_headers()
        super().data_received(data)
        if waiting and self._waiting_for_headers() and self._deadline is not None:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self.transport.close()  # headers this long are an attack, not a request

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._disarm()  # the WebSocket has its own first-message deadline (see .stream)
        super().handle_websocket_upgrade(*args)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        """No request in progress: the next bytes are a request's headers (not the rest of a body that the
        answer did not wait for, as when a 413 goes out while the client is still sending)."""
        cycle = self.cycle
        return cycle is None or (cycle.response_complete and not getattr(cycle, "more_body", False))

    def _arm(self) -> None:
        self._disarm()
        self._header_bytes = 0
        self._deadline = self.loop.call_later(self.header_timeout, self._deadline_passed)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            self.transport.close()


def protocol_class(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools if installed, else h11) with the header deadline and cap."""
    if importlib.util.find_spec("httptools") is not None:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    return type(f"Emovox{base.__name__}", (_HeaderDeadline, base), {"header_timeout": header_timeout})


def uvicorn_options(config: ServerConfig) -> dict[str, Any]:
    """The :class:`uvicorn.Config` keyword arguments that apply ``config``'s connection limits."""
    return {"http": protocol_class(config.header_timeout), "limit_concurrency": config.max_connections,
            "timeout_keep_alive": KEEP_ALIVE_S, "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
            "ws_max_size": WS_MAX_SIZE, "server_header": False}


def uvicorn_config(app, config: ServerConfig, **options: Any):
    """A :class:`uvicorn.Config` serving ``app`` under ``config``'s limits; ``options`` are passed on
    (``host``, ``port``, ``log_level``, ...)."""
    import uvicorn

    return uvicorn.Config(app, **(uvicorn_options(config) | options))
