"""``emovox serve``: run the web service and its page (FastAPI on uvicorn)."""

from __future__ import annotations

import argparse
import os

from .common import MODEL_EPILOG, add_model_option

#: Environment variable read for the API key when ``--api-key`` is not given.
API_KEY_ENV = "EMOVOX_API_KEY"

NAME = "serve"
HELP = "serve the HTTP/WebSocket API and the web page"
EPILOG = MODEL_EPILOG


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_option(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default %(default)s; 0.0.0.0 to listen on every interface)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default %(default)s)")
    p.add_argument("--api-key", default=None,
                   help=f"require this key in the X-API-Key header of /v1/* (default: ${API_KEY_ENV}, else none)")
    p.add_argument("--max-duration", type=float, default=600.0,
                   help="longest upload, seconds of audio, counted while decoding (default %(default)s); the byte "
                        "cap follows from it: that many seconds of 16-bit stereo 48 kHz WAV, plus 1 MiB")
    p.add_argument("--max-upload-mb", type=float, default=None,
                   help="override the byte cap derived from --max-duration, MiB (default: derived)")
    p.add_argument("--max-streams", type=int, default=8, help="WebSocket streams at once (default %(default)s)")
    p.add_argument("--max-stream-seconds", type=float, default=3600.0,
                   help="most audio one stream may send, seconds (default %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to receive a body and to answer it (default %(default)s)")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="seconds a stream may send nothing before it is closed (default %(default)s)")
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds a connection has to send its request's headers, or a stream its first message "
                        "(default %(default)s)")
    p.add_argument("--max-connections", type=int, default=100,
                   help="open connections before new requests get 503 (default %(default)s)")
    p.add_argument("--max-pending", type=int, default=64,
                   help="predictions queued at once before 503 busy (default %(default)s)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="prediction threads (default: cores, at most 4: %(default)s)")
    p.add_argument("--segment-over", type=float, default=10.0,
                   help="uploads longer than this (seconds) also get per-segment results (default %(default)s)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn log level (default %(default)s)")


def config_from_args(args: argparse.Namespace):
    """The :class:`~emovox.apps.server.ServerConfig` that ``args`` describe."""
    from ..apps.server.common import ServerConfig
    from ..errors import ParameterError

    for name in ("max_upload_mb", "max_duration", "max_streams", "max_stream_seconds", "timeout", "idle_timeout",
                 "header_timeout", "max_connections", "max_pending", "workers"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ParameterError(f"--{name.replace('_', '-')} must be positive, got {value}")
    return ServerConfig(max_duration=args.max_duration,
                        max_upload_bytes=None if args.max_upload_mb is None else int(args.max_upload_mb * 1024 * 1024),
                        max_streams=args.max_streams, max_stream_seconds=args.max_stream_seconds,
                        request_timeout=args.timeout, idle_timeout=args.idle_timeout,
                        header_timeout=args.header_timeout, max_connections=args.max_connections,
                        max_pending=args.max_pending, workers=args.workers, segment_over=args.segment_over,
                        api_key=args.api_key or os.environ.get(API_KEY_ENV) or None)


def run(args: argparse.Namespace) -> int:
    """Load the model and serve until interrupted."""
    import uvicorn

    from ..apps.server.app import create_app
    from ..apps.server.serving import uvicorn_options
    from .common import load

    config = config_from_args(args)
    model = load(args)
    app = create_app(model, config)
    print(f"emovox: serving {model.describe()} on http://{args.host}:{args.port}/"
          + (" (API key required)" if config.api_key else ""), flush=True)
    uvicorn.run(app, **uvicorn_options(config), host=args.host, port=args.port, log_level=args.log_level)
    return 0
