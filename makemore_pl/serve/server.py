"""`makemore-pl serve --ckpt_path <ckpt>`: one checkpoint behind an HTTP API on LitServe, and a page at /ui/.

LitServe runs each API (``apis``) in an inference worker of its own and answers HTTP in a FastAPI
app (``server.app``), where this module adds the page, the body size limit and one-line errors.
"""

from __future__ import annotations

import signal
import sys
from importlib import resources
from pathlib import Path
from typing import Literal

import litserve as ls
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from jsonargparse import CLI
from lightning.pytorch.cli import ArgsType
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

from makemore_pl.checkpoints import load_model
from makemore_pl.cli.parser import CommandParser
from makemore_pl.errors import UsageError
from makemore_pl.serve.apis import SampleAPI, ScoreAPI
from makemore_pl.serve.errors import JsonErrors, answer_errors_as_json
from makemore_pl.serve.generate import GenerateAPI, generate_middleware
from makemore_pl.serve.info import model_info
from makemore_pl.serve.schema import MAX_BODY_BYTES, one_line
from makemore_pl.serve.surprisal import SurprisalAPI

# LitServe binds only these (server.run); 127.0.0.1 keeps the server to this machine.
HOSTS = ("127.0.0.1", "0.0.0.0", "::")
# FastAPI's pages that load their scripts from a CDN.
CDN_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc")


def build_server(
    ckpt_path: str,
    accelerator: str = "auto",
    max_batch_size: int = 64,
    batch_timeout: float = 0.005,
    timeout: float = 30,
) -> ls.LitServer:
    """The LitServer for ``ckpt_path``: /sample and /score (text: /generate, /surprisal), /info, /health, /ui/."""
    # Loaded here once too: /info reports it, and a bad checkpoint fails now, not in a worker.
    model = load_model(ckpt_path)
    # A model of running text continues a prompt (/generate, streamed) and scores a text character by
    # character (/surprisal); a model of words samples and scores them.
    if model.text:
        apis = [GenerateAPI(ckpt_path), SurprisalAPI(ckpt_path)]
    else:
        apis = [SampleAPI(ckpt_path, max_batch_size, batch_timeout), ScoreAPI(ckpt_path)]
    server = ls.LitServer(
        apis,
        accelerator=accelerator,
        timeout=timeout,
        model_metadata=model_info(ckpt_path, model),
        # Starlette's limit checks Content-Length up front and counts the bytes as they stream in.
        # JsonErrors, added last, wraps the limit: its plain-text 413 becomes the JSON of every error.
        middlewares=[
            *([generate_middleware(model.itos)] if model.text else []),
            (RequestBodyLimitMiddleware, {"max_body_size": MAX_BODY_BYTES}),
            (JsonErrors, {"details": {413: f"the body is over {MAX_BODY_BYTES:,} bytes"}}),
        ],
    )
    app = server.app
    app.add_exception_handler(RequestValidationError, _invalid_request)
    answer_errors_as_json(app)
    # FastAPI's /docs and /redoc load their scripts from a CDN: off, so that nothing comes from elsewhere
    # (/openapi.json, the API's description, stays).
    app.router.routes = [route for route in app.router.routes if getattr(route, "path", None) not in CDN_PAGES]
    # The page is package data: no build step, nothing fetched from elsewhere (/ui redirects to /ui/).
    app.mount("/ui", StaticFiles(directory=str(resources.files("makemore_pl.serve") / "ui"), html=True), name="ui")
    return server


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": one_line(list(error.errors()))}, status_code=422)


def serve(
    ckpt_path: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    accelerator: Literal["auto", "cpu", "cuda", "mps"] = "auto",
    max_batch_size: int = 64,
    batch_timeout: float = 0.005,
    timeout: float = 30,
) -> None:
    """Serve a checkpoint over HTTP: POST /sample and /score (a text model: /generate and /surprisal), GET /info
    and /health, and a web page at /ui/.

    Args:
        ckpt_path: The checkpoint to serve (any makemore-pl model); it is all the server needs. Words
            are marked new or train when the words file it was trained on is where its run says.
        host: The address to listen on: 127.0.0.1 (this machine only), or 0.0.0.0 / :: (every interface).
        port: The port to listen on, 1024 to 65535.
        accelerator: Where the model runs: auto picks a GPU when there is one.
        max_batch_size: The most /sample requests sampled together, in one batch of rows.
        batch_timeout: Seconds a batch waits for more requests to join it before sampling.
        timeout: Seconds a request may wait for its answer before a 504.
    """
    if host not in HOSTS:
        raise UsageError(f"--host {host}: LitServe listens on one of {', '.join(HOSTS)}")
    if not 1024 <= port <= 65535:
        raise UsageError(f"--port {port}: must be from 1024 to 65535")
    if max_batch_size < 1:
        raise UsageError(f"--max_batch_size must be at least 1, got {max_batch_size}")
    if not 0 <= batch_timeout < timeout:
        raise UsageError(f"--batch_timeout must be at least 0 and under --timeout {timeout}, got {batch_timeout}")
    if not Path(ckpt_path).is_file():
        raise UsageError(f"--ckpt_path {ckpt_path}: no such checkpoint file")
    server = build_server(ckpt_path, accelerator, max_batch_size, batch_timeout, timeout)
    shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]" if host == "::" else host
    endpoints = " ".join(api.api_path for api in server.litapi_connector)
    print(f"makemore-pl: serving {ckpt_path} at http://{shown}:{port}/ui/ (API: {endpoints} /info /health)",
          file=sys.stderr, flush=True)  # fmt: skip
    # `kill` stops the server as Ctrl-C does: LitServe then stops its workers too, instead of orphaning them.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # One HTTP process is plenty for sampling names; no client.py written into the working folder.
    server.run(host=host, port=port, num_api_servers=1, generate_client_file=False, log_level="warning")


def serve_main(args: ArgsType = None) -> None:
    """`makemore-pl serve ...`: ``serve``'s arguments from the command line (``--help`` lists them)."""
    CLI(serve, args=args, prog="makemore-pl serve", as_positional=False, parser_class=CommandParser)
