"""A real HTTP server on 127.0.0.1 for tests: answers by path, and records every request.

    @pytest.fixture
    def server() -> Iterator[Server]:
        with serve() as running:
            yield running

    def test_a_page(server: Server) -> None:
        server.replies("/members", Reply(body=[{"id": 1}]))
        ...  # something that asks server.url("/members")
        assert server.seen[0].query == {"status": "active"}

A route is a function from the request (``Seen``) to a ``Reply``; ``replies`` makes one from a
list of fixed replies. A path without a route gets the server's ``fallback`` (404 unless told
otherwise). It answers every method; a body that is not bytes goes out as JSON.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rota.net.guard import OutgoingPolicy, configured


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    target: str
    """The path and query string exactly as sent."""
    path: str
    query: dict[str, str]
    """Query parameters by name (the last value of a repeated one)."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    """Bytes as they are; anything else as JSON."""
    headers: dict[str, str] = field(default_factory=dict)
    """Sent after ``Content-Type: application/json`` and ``Content-Length`` (may replace them)."""

    def encoded(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


Route = Callable[[Seen], Reply]

NOT_FOUND = Reply(404, {"error": "no route"})


class Server:
    """Routes by path; ``seen`` holds every request in order."""

    def __init__(self, fallback: Reply = NOT_FOUND) -> None:
        self.port = 0
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.fallback = fallback

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def replies(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with these replies in turn, the last one from then on."""
        queue = list(replies)
        self.routes[path] = lambda _: queue.pop(0) if len(queue) > 1 else queue[0]

    def requests(self, path: str) -> list[Seen]:
        """The requests for ``path``, in order."""
        return [s for s in self.seen if s.path == path]

    def answer(self, seen: Seen) -> Reply:
        self.seen.append(seen)
        route = self.routes.get(seen.path)
        return route(seen) if route else self.fallback


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            reply = server.answer(
                Seen(
                    method=self.command,
                    target=self.path,
                    path=parts.path,
                    query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
            )
            data = reply.encoded()
            headers = {
                "Content-Type": "application/json",
                "Content-Length": str(len(data)),
                **reply.headers,
            }
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_OPTIONS = do_POST = do_PUT = do_PATCH = do_DELETE = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(fallback: Reply = NOT_FOUND) -> Iterator[Server]:
    """A server on a free port, answering from a thread until the block ends."""
    server = Server(fallback)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound for a moment, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


LOOPBACK = ["127.0.0.1/32"]
"""What tests put in ``[outgoing] allow``: the guard refuses loopback addresses, and this
server listens on one (tests/unit/net proves it is refused without the entry)."""


@contextmanager
def loopback_allowed() -> Iterator[None]:
    """Requests from this process may reach 127.0.0.1 until the block ends."""
    with configured(OutgoingPolicy.parse(LOOPBACK)):
        yield
