"""The HTTP server ``rota up`` runs until the HTTP API arrives: ``GET /healthz`` and
``POST /hooks/{id}`` (webhook triggers). Standard library only, one thread per request.

A delivery is answered 2xx only after its run is committed: 202 for a new run, 200 for a
replay (the run it started the first time).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase

from rota.hooks.signatures import SignatureError
from rota.model.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RotaError,
    StoreUnavailableError,
)
from rota.model.hooks import MAX_BODY
from rota.model.status import RunStatus
from rota.services.hooks import receive
from rota.settings import Settings
from rota.store.base import Store

log = logging.getLogger(__name__)
HOOK_PREFIX = "/hooks/"
DRAIN_LIMIT = 8 * MAX_BODY


def _discard(stream: BufferedIOBase, length: int) -> None:
    while length > 0:
        chunk = stream.read(min(length, 65536))
        if not chunk:
            return
        length -= len(chunk)


def serve(store: Store, settings: Settings, host: str, port: int) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``shutdown()`` the answer to stop."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "rota"
        sys_version = ""

        def do_GET(self) -> None:
            if self.path != "/healthz":
                self._answer(404, {"error": "not_found", "message": "no such path"})
                return
            try:
                queued = store.count_runs(status=RunStatus.QUEUED)
            except Exception as exc:
                self._answer(503, {"status": "unavailable", "error": str(exc)})
                return
            self._answer(200, {"status": "ok", "queued": queued})

        def do_POST(self) -> None:
            if not self.path.startswith(HOOK_PREFIX):
                self._answer(404, {"error": "not_found", "message": "no such path"})
                return
            hook_id = self.path[len(HOOK_PREFIX) :].split("?", 1)[0]
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self._answer(411, {"error": "length_required", "message": "send Content-Length"})
                return
            if int(length) > MAX_BODY:
                # Read a moderately oversize body before refusing it: a client still sending
                # when the server closes gets a reset instead of the 413. Beyond the drain
                # limit, closing is cheaper than reading.
                if int(length) <= DRAIN_LIMIT:
                    _discard(self.rfile, int(length))
                self.close_connection = True
                self._answer(413, {"error": "too_large", "message": f"body over {MAX_BODY} bytes"})
                return
            body = self.rfile.read(int(length))
            headers = dict(self.headers.items())
            try:
                run, replay = receive(store, settings, hook_id, headers, body)
            except SignatureError as exc:
                self._answer(401, {"error": "signature", "message": exc.reason})
            except NotFoundError:
                self._answer(404, {"error": "not_found", "message": f"no hook {hook_id!r}"})
            except InvalidInputError as exc:
                self._answer(422, {"error": "invalid", "field": exc.field, "message": exc.reason})
            except ConflictError as exc:
                self._answer(409, {"error": "conflict", "message": str(exc)})
            except StoreUnavailableError as exc:
                self._answer(503, {"error": "unavailable", "message": str(exc)})
            except RotaError as exc:
                log.warning("hook %s: %s", hook_id, exc)
                self._answer(500, {"error": "internal", "message": "see the server log"})
            else:
                self._answer(
                    200 if replay else 202,
                    {"run_id": run.id, "status": run.status.value, "replay": replay},
                )

        def _answer(self, code: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="rota-http", daemon=True).start()
    return server
