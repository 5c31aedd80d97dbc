"""Every error the server answers has one JSON shape, ``{"detail": "<one line>"}``, as its 422s have.

FastAPI answers its own errors so (404, 405, a bad request's 422). Two answers are otherwise plain
text: Starlette's 413 for a body over the limit, and the 500 of an exception that nothing caught.
``JsonErrors`` rewrites the first kind, ``internal_error`` answers the second.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class JsonErrors:
    """ASGI middleware: an error response that is not JSON gets ``{"detail": ...}`` instead of its body.

    ``details`` gives a status its own line, whoever answered it (Starlette's 413 is plain text or
    FastAPI's JSON, by how the body came); otherwise the line is the response's text, or the status's name.
    """

    def __init__(self, app: ASGIApp, details: dict[int, str] | None = None) -> None:
        self.app, self.details = app, details or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the start of an error response that is not JSON
        body: list[bytes] = []

        async def send_json(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] >= 400:
                headers = dict(message.get("headers", []))
                json_already = headers.get(b"content-type", b"").startswith(b"application/json")
                if message["status"] in self.details or not json_already:
                    held = message
                    return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_detail(send, held, b"".join(body))

        await self.app(scope, receive, send_json)

    async def _send_detail(self, send: Send, start: Message, body: bytes) -> None:
        status = start["status"]
        text = " ".join(body.decode("utf-8", "replace").split())
        payload = json.dumps({"detail": self.details.get(status) or text or HTTPStatus(status).phrase}).encode()
        kept = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-type", b"content-length")]
        headers = [*kept, (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    """The 500 of an exception nothing caught: one line, and what failed stays in the server's log."""
    return JSONResponse({"detail": f"internal server error ({type(error).__name__}); the server's log has more"}, 500)


def answer_errors_as_json(app: FastAPI) -> None:
    """The handler of uncaught exceptions (``JsonErrors`` goes in with the other middlewares)."""
    app.add_exception_handler(Exception, internal_error)
