"""``POST /generate``: a model of running text continues a prompt, its characters streamed as drawn.

LitServe's streaming answers 200 before the first character, so a request is checked before it
reaches the worker: ``TextRequests`` (an ASGI middleware of the HTTP process) holds the model's
vocabulary and answers a request that does not fit it with a 422 of one line.
"""

# No `from __future__ import annotations` here: LitServe reads decode_request's annotation.
import json
from collections.abc import Iterator
from typing import Any

import litserve as ls
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from makemore_pl.checkpoints import load_model
from makemore_pl.continuation import continue_text
from makemore_pl.errors import UsageError
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.serve.apis import field_message
from makemore_pl.serve.schema import SampleRequest

PATH = "/generate"


class GenerateAPI(ls.LitAPI):
    def __init__(self, ckpt_path: str) -> None:
        super().__init__(api_path=PATH, stream=True)
        self.ckpt_path = ckpt_path

    def setup(self, device: str) -> None:
        self.model = load_model(self.ckpt_path, map_location=device)

    def decode_request(self, request: SampleRequest) -> SamplingOptions:
        options = SamplingOptions(**request.options())
        options.check(self.model)  # TextRequests has refused what fails here: a request that slipped past fails
        return options

    def predict(self, options: SamplingOptions) -> Iterator[str]:
        prompt, source = options.read_prompt()
        yield prompt
        yield from continue_text(
            self.model, prompt, options.length, options.temperature, options.top_k, options.seed, source=source
        )

    # No return annotation: LitServe would give it to FastAPI as the response's model, which a stream has none of.
    def encode_response(self, characters: Iterator[str]):
        yield from characters


class TextRequests:
    """ASGI middleware: a ``POST /generate`` whose options do not fit the model is a 422 of one line.

    The body's types and bounds are left to FastAPI (its own 422); this checks what needs the
    vocabulary: no word options, and every prompt character in it.
    """

    def __init__(self, app: ASGIApp, itos: list[str]) -> None:
        self.app, self.itos = app, itos

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        refusal = self.refusal(body)
        if refusal is not None:
            await JSONResponse({"detail": refusal}, status_code=422)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def refusal(self, body: bytes) -> str | None:
        """The one line refusing the request's options, or None (a body FastAPI itself refuses is let through)."""
        try:
            request = SampleRequest.model_validate(json.loads(body))
        except (ValueError, ValidationError):
            return None
        try:
            SamplingOptions(**request.options()).check_text(self.itos)
        except UsageError as e:
            return field_message(e)
        return None


def generate_middleware(itos: list[str]) -> tuple[type, dict[str, Any]]:
    """LitServer's (middleware, its arguments) for a model of vocabulary ``itos``."""
    return TextRequests, {"itos": list(itos)}
