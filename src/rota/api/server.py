"""Serving the API with uvicorn: in a thread of ``rota up`` (next to the worker and the
scheduler), or in the foreground for ``rota web``.

The listening socket is bound here, before uvicorn starts, so that a taken port is an
``OSError`` the command can report (uvicorn itself would log and exit) and port 0 answers
the port the system chose.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from rota.api.app import create_app
from rota.settings import Settings
from rota.store.base import Store

START_TIMEOUT = 10.0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6); raises ``OSError``."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _server(store: Store, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(store, settings),
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


class RunningServer:
    """The API serving in a daemon thread; :meth:`shutdown` stops it and waits."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket) -> None:
        self._server = server
        self._socket = sock
        self.host, self.port = sock.getsockname()[:2]
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="rota-http", daemon=True
        )

    def _start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise OSError("the HTTP server did not start")
            time.sleep(0.01)
        _warm_up(self._socket.family, self._socket.getsockname())

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, let open requests end (an event stream ends at once), and wait."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._socket.close()


def _warm_up(family: socket.AddressFamily, address: tuple[object, ...]) -> None:
    """One request to an unknown path before answering: FastAPI prepares its routes at the
    first request (about half a second), which must not delay the first webhook delivery
    (its signature's timestamp is checked against the clock)."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(START_TIMEOUT)
            client.connect(address)
            client.sendall(b"GET /.warm-up HTTP/1.1\r\nHost: rota\r\nConnection: close\r\n\r\n")
            while client.recv(65536):
                pass
    except OSError:
        pass  # only a warm-up: the real requests will say what is wrong


def start(store: Store, settings: Settings, host: str, port: int) -> RunningServer:
    """Serve in a daemon thread; answers once the server accepts connections."""
    sock = bind(host, port)
    running = RunningServer(_server(store, settings), sock)
    running._start()
    return running


def serve_forever(store: Store, settings: Settings, sock: socket.socket) -> None:
    """Serve on a socket from :func:`bind` in the foreground until SIGINT or SIGTERM (uvicorn
    handles both: open requests end, then it returns)."""
    try:
        _server(store, settings).run(sockets=[sock])
    finally:
        sock.close()
