"""The emovox web service: an HTTP API, a WebSocket stream and the page, on FastAPI.

>>> app = create_app(emovox.load_model("model.emovox"), ServerConfig(api_key="s3cret"))  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)                                          # doctest: +SKIP

Routes: ``POST /v1/predict`` (see :mod:`.predict`), ``WS /v1/stream``
(see :mod:`.stream`), ``GET /v1/model``, ``GET /healthz``, ``GET /openapi.json``,
the page at ``/``, the API's reference at ``/docs`` (rendered in the browser from
``/openapi.json`` by the package's own script: nothing from a CDN), and their files under
``/static/``. Run it with :func:`.serving.uvicorn_config` for the connection limits. Every error is JSON:
``{"error": {"status": 415, "code": "unsupported_media_type", "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from ... import __version__
from ...recognizer import Recognizer
from . import predict, stream
from .common import API_KEY_HEADER, ApiError, ServerConfig, State, error_body
from .predict import ErrorBody, format_names

log = logging.getLogger("emovox.server")

WEB_DIR = Path(__file__).with_name("web")
#: Content-Security-Policy of every response: nothing is loaded from anywhere but this server.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; media-src 'self'; worker-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


class Health(BaseModel):
    """The answer of ``GET /healthz``."""

    status: str = Field(description="'ok'")
    version: str = Field(description="the emovox version serving")
    streams: int = Field(description="WebSocket streams open now")
    pending: int = Field(description="predictions queued or running now")


class ModelInfo(BaseModel):
    """The answer of ``GET /v1/model``: the loaded bundle and the server's limits."""

    labels: list[str] = Field(description="the emotions the model tells apart, in its order")
    rate: int = Field(description="the sample rate, Hz, the model was trained at (inputs are resampled to it)")
    feature_set: Any = Field(description="what the model computes from audio")
    model: Any = Field(description="the estimator and its parameters")
    training: Any = Field(description="what it was trained on")
    metrics: Any = Field(description="its evaluation figures")
    created: str | None = Field(description="when the bundle was made")
    emovox_version: str | None = Field(description="the emovox version that made the bundle")
    file: str = Field(description="the bundle's file name")
    formats: list[str] = Field(description="the upload formats this server decodes")
    limits: dict = Field(description="the server's limits (see ServerConfig); max_upload_bytes as applied")


_KEY_ERROR = {401: {"model": ErrorBody, "description": "missing or wrong API key"}}


def create_app(model: Recognizer, config: ServerConfig | None = None) -> FastAPI:
    """The ASGI application serving ``model`` under ``config``'s limits."""
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
                  description="Speech emotion recognition: upload a recording to `POST /v1/predict` for its "
                              "timeline of emotions, or stream live PCM over the WebSocket `/v1/stream`.")
    app.state.emovox = state
    _add_error_handlers(app)

    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["service"], summary="Liveness: 200 while the service can answer",
             response_model=Health)
    async def healthz() -> dict:
        return {"status": "ok", "version": __version__, "streams": state.streams, "pending": state.pending}

    @app.get("/v1/model", tags=["model"], summary="The loaded model: labels, feature set, figures, limits",
             response_model=ModelInfo, responses=_KEY_ERROR)
    async def model_info(request: Request) -> dict:
        state.check_key(request.headers.get(API_KEY_HEADER))
        info = model.info
        return {"labels": model.labels, "rate": model.rate, "feature_set": info.get("feature_set"),
                "model": info.get("model"), "training": info.get("training"), "metrics": info.get("metrics"),
                "created": _text(info.get("created")), "emovox_version": _text(info.get("emovox_version")),
                "file": Path(model.path).name, "formats": format_names().split(", "), "limits": state.config.public()}

    predict.add_routes(app, state)
    stream.add_routes(app, state)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(WEB_DIR / "docs.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


def _text(value: object) -> str | None:
    return None if value is None else str(value)


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
