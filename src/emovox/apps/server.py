"""The emovox web service: an HTTP API, a WebSocket stream and the page, on FastAPI.

>>> app = create_app(emovox.load_model("model.emovox"), ServerConfig(api_key="s3cret"))  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)                                          # doctest: +SKIP

Routes: ``POST /v1/predict`` (see :mod:`.server_predict`), ``WS /v1/stream``
(see :mod:`.server_stream`), ``GET /v1/model``, ``GET /healthz``, ``GET /openapi.json``,
and the page at ``/`` with its files under ``/static/``. Every error is JSON:
``{"error": {"status": 415, "code": "unsupported_media_type", "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from http import HTTPStatus
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from .. import __version__
from ..recognizer import Recognizer

log = logging.getLogger("emovox.server")

WEB_DIR = Path(__file__).with_name("web")
API_KEY_HEADER = "X-API-Key"
#: Content-Security-Policy of every response: nothing is loaded from anywhere but this server.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; media-src 'self'; worker-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@dataclass(frozen=True)
class ServerConfig:
    """Limits and options of the service; every field is a ``emovox serve`` option.

    Attributes:
        max_upload_bytes: largest accepted request body (413 above it).
        max_duration: longest accepted upload, seconds (413 above it).
        max_streams: WebSocket streams open at once (further ones are closed with 1013).
        max_stream_seconds: most audio one stream may send, seconds.
        request_timeout: seconds to receive a body, and again to answer it (408 / 503).
        idle_timeout: seconds a stream may stay silent between messages before it is closed.
        max_pending: predictions queued or running at once before 503 "busy".
        workers: threads that run predictions (CPU-bound work never runs on the event loop).
        blas_threads: BLAS/OpenMP threads per prediction, set for the whole process while serving.
        segment_over: uploads longer than this many seconds also get per-segment results.
        classify_rate: resample streamed and segmented audio to this rate (Hz) before classifying
            (``None``: classify at the audio's own rate); use the rate the model was trained at.
        api_key: if set, ``/v1/*`` needs it in the ``X-API-Key`` header (or, for the
            WebSocket, in its first message).
    """

    max_upload_bytes: int = 20 * 1024 * 1024
    max_duration: float = 600.0
    max_streams: int = 8
    max_stream_seconds: float = 3600.0
    request_timeout: float = 30.0
    idle_timeout: float = 30.0
    max_pending: int = 64
    workers: int = 2
    blas_threads: int = 1
    segment_over: float = 10.0
    classify_rate: int | None = None
    api_key: str | None = None

    def public(self) -> dict:
        """The limits, as ``GET /v1/model`` shows them (without the key)."""
        return {k: v for k, v in asdict(self).items() if k != "api_key"} | {"api_key_required": bool(self.api_key)}


class ApiError(Exception):
    """An error answered as JSON with an HTTP status (4xx / 503); ``message`` is one line."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_body(status: int, message: str) -> dict:
    """The JSON body of every error answer."""
    code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    return {"error": {"status": status, "code": code, "message": message}}


class State:
    """What the routes share: the model, the limits, the prediction threads and counters."""

    def __init__(self, model: Recognizer, config: ServerConfig) -> None:
        self.model = model
        self.config = config
        self.executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="emovox-predict")
        self.pending = 0
        self.streams = 0

    async def run(self, fn, *args, timeout: float | None = None):
        """Run ``fn(*args)`` on a prediction thread; 503 if too many wait or it takes too long."""
        if self.pending >= self.config.max_pending:
            raise ApiError(503, f"busy: {self.pending} predictions pending; retry later", {"Retry-After": "1"})
        self.pending += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
            return await asyncio.wait_for(future, timeout or self.config.request_timeout)
        except asyncio.TimeoutError:
            raise ApiError(503, f"prediction took longer than {timeout or self.config.request_timeout:g} s",
                           {"Retry-After": "1"}) from None
        finally:
            self.pending -= 1

    def check_key(self, given: str | None) -> None:
        """Raise 401 unless no key is configured or ``given`` matches it."""
        key = self.config.api_key
        if key and not (given and hmac.compare_digest(given.encode(), key.encode())):
            raise ApiError(401, f"missing or wrong API key (send it in the {API_KEY_HEADER} header)",
                           {"WWW-Authenticate": API_KEY_HEADER})

    def warm_up(self) -> None:
        """Predict a short tone at the usual rates, so that the first real request is not slow."""
        for rate in (48000, 44100, 16000):
            wave = np.sin(2 * np.pi * 220 * np.arange(rate) / rate) * 0.3
            self.model.predict(wave.astype(np.float32), rate=rate)


def create_app(model: Recognizer, config: ServerConfig | None = None) -> FastAPI:
    """The ASGI application serving ``model`` under ``config``'s limits."""
    from . import server_predict, server_stream

    state = State(model, config or ServerConfig())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # requests run in parallel on the worker threads; BLAS threads inside each only contend
        # (a 3-second clip costs 4x the CPU with OpenBLAS's threads on a busy 2-core machine)
        blas = threadpool_limits(limits=state.config.blas_threads)
        await asyncio.get_running_loop().run_in_executor(state.executor, state.warm_up)
        yield
        state.executor.shutdown(wait=False, cancel_futures=True)
        blas.restore_original_limits()

    app = FastAPI(title="emovox", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Speech emotion recognition: upload a recording or stream PCM over a WebSocket.")
    app.state.emovox = state
    _add_error_handlers(app)

    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["service"], summary="Liveness: 200 while the service can answer")
    async def healthz() -> dict:
        return {"status": "ok", "version": __version__, "streams": state.streams, "pending": state.pending}

    @app.get("/v1/model", tags=["model"], summary="The loaded model: labels, feature set, figures, limits")
    async def model_info(request: Request) -> dict:
        state.check_key(request.headers.get(API_KEY_HEADER))
        info = model.info
        return {"labels": model.labels, "feature_set": info.get("feature_set"), "model": info.get("model"),
                "training": info.get("training"), "metrics": info.get("metrics"),
                "created": info.get("created"), "emovox_version": info.get("emovox_version"),
                "file": Path(model.path).name, "limits": state.config.public()}

    server_predict.add_routes(app, state)
    server_stream.add_routes(app, state)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


class SecurityHeaders:
    """ASGI middleware adding the CSP and two hardening headers to every HTTP response."""

    HEADERS = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
               ("Referrer-Policy", "no-referrer"))

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add_error_handlers(app: FastAPI) -> None:
    def answer(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse(error_body(status, message), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return answer(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return answer(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return answer(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return answer(500, "internal error (logged on the server)")
