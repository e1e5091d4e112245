"""``create_app(store, settings)``: the FastAPI application of ``rota up`` and ``rota web``.

Two small ASGI layers wrap every route: security headers on every answer, and a body limit
that refuses an oversize request (413) before any of it is parsed.
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rota import __version__
from rota.api import errors
from rota.api.routes import ROUTERS
from rota.model.hooks import MAX_BODY
from rota.settings import Settings
from rota.store.base import Store
from rota.web.routes import install as install_dashboard

API_BODY_LIMIT = 1024 * 1024
"""JSON bodies of the API; webhook deliveries have their own limit (``MAX_BODY``)."""
DRAIN_FACTOR = 8
"""A moderately oversize body is read before the 413: a client still sending when the server
closes gets a connection reset instead of the answer. Beyond this factor closing is cheaper."""

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class BodyLimit:
    """Refuse request bodies over the limit with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int = API_BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_BODY if scope["path"].startswith("/hooks/") else self.limit
        length = _content_length(scope)
        if length is not None and length > limit:
            if length <= DRAIN_FACTOR * limit:
                await _drain(receive)
            await _too_large(send, limit)
            return
        received = 0
        refused = False

        async def counting() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge(limit)
            return message

        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, tracking)
        except Exception:
            if not refused or started:
                raise
            await _too_large(send, limit)


class _BodyTooLarge(HTTPException):
    """Raised while a route reads a body without Content-Length past the limit; an HTTP
    exception so that FastAPI's body parsing passes it on unchanged (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body over {limit} bytes")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"type": "too_large", "message": f"body over {limit} bytes", "field": "body"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *SECURITY_HEADERS,
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """``nosniff``, no referrer, no framing on every answer; ``no-store`` unless a route set
    its own caching (API answers carry tenant data and must not sit in shared caches)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in SECURITY_HEADERS}
                ]
                headers.extend(SECURITY_HEADERS)
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(store: Store, settings: Settings) -> FastAPI:
    """The application over one store; routes reach both through ``request.app.state``."""
    app = FastAPI(
        title="Rota",
        version=__version__,
        description="Jobs, runs, schedules and their records. See docs/api.md.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    install_dashboard(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    return app
