"""The outgoing-HTTP guard: Rota's own requests (http jobs, data jobs' HTTP sources and
targets, webhook notifications) never reach an internal address unless an administrator
allowed it.

Why: a job definition, a parameter or a redirect names the URL, and whoever can write one of
those could otherwise make the worker fetch ``http://169.254.169.254/`` (cloud credentials),
``http://127.0.0.1:5432/`` or an intranet service (server-side request forgery).

How: the check happens where the connection is made, not on the URL's text. The host is
resolved with :func:`socket.getaddrinfo` (so ``2130706433``, ``0177.0.0.1`` and names that
resolve to ``127.0.0.1`` are all seen as the loopback address they are), every address it
resolves to is checked, and the socket is then opened to one of those checked addresses
rather than to the name again, so a DNS answer that changes between check and connect
(DNS rebinding) is never used. TLS still verifies the certificate for the name in the URL.
Every hop of a redirect is a new request through the same transport, so a redirect to an
internal address is refused like a direct request. Proxies from the environment are not
used: a proxy would make the connection on our behalf, past the check.

The policy is process-wide (:func:`configure`): workers set it from ``[outgoing] allow`` when
they start, and everything that sends through :func:`guarded_client` obeys it. Until then
the strict policy applies: no internal address at all.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore2
import httpx2

from rota.model.errors import InvalidInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "outgoing.allow"
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
"""Cloud instance metadata endpoints (AWS, GCP, Azure, ...): they hand out credentials."""


class OutgoingRefused(httpx2.TransportError):
    """A request to an address the policy forbids. A transport error (so callers that handle
    ``httpx2.HTTPError`` report it) but not a network error: nobody retries it."""


def address_reason(address: IPAddress) -> str | None:
    """Why ``address`` is internal (``"a loopback address"``), or ``None`` for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
            return address_reason(mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One ``[outgoing] allow`` entry: a network (``10.0.0.0/8``, ``::1``) or a host name
    (``hooks.internal``, ``*.corp.example``), optionally limited to one port (``:8443``)."""

    text: str
    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    def permits(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.network is not None:
            return address in self.network
        assert self.host is not None
        name = host.lower().rstrip(".")
        if self.host.startswith("*."):
            return name.endswith(self.host[1:])
        return name == self.host

    @classmethod
    def parse(cls, text: str, field: str) -> AllowEntry:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(field, "must be an address, a network or a host name")
        entry = text.strip()
        body, port = _split_port(entry, field)
        try:
            return cls(entry, network=ipaddress.ip_network(body, strict=False), port=port)
        except ValueError:
            pass
        if "/" in body:
            raise InvalidInputError(field, f"{entry!r} is not a network like 10.0.0.0/8")
        name = body.lower().rstrip(".")
        labels = name.removeprefix("*.").split(".")
        if not all(label and _is_label(label) for label in labels):
            raise InvalidInputError(
                field, f"{entry!r} is not an address, a network (10.0.0.0/8) or a host name"
            )
        return cls(entry, host=name, port=port)


def _is_label(label: str) -> bool:
    return len(label) <= 63 and all(c.isalnum() or c == "-" for c in label) and label.isascii()


def _split_port(entry: str, field: str) -> tuple[str, int | None]:
    """``[::1]:8080`` and ``host:8080`` carry a port; ``::1`` and ``fd00::/8`` do not."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if not rest:
            return host, None
        return host, _port(rest.removeprefix(":"), entry, field)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, _port(port, entry, field)
    return entry, None


def _port(text: str, entry: str, field: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidInputError(field, f"{entry!r} has no valid port (1-65535)")
    return int(text)


@dataclass(frozen=True, slots=True)
class OutgoingPolicy:
    """Which internal addresses may be reached; public addresses always may."""

    allow: tuple[AllowEntry, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str], field: str = SETTING) -> OutgoingPolicy:
        return cls(tuple(AllowEntry.parse(e, f"{field}[{i}]") for i, e in enumerate(entries)))

    def refusal(self, host: str, address: IPAddress, port: int) -> str | None:
        """Why connecting to ``address`` (resolved from ``host``) is refused, or ``None``."""
        reason = address_reason(address)
        if reason is None or any(e.permits(host, address, port) for e in self.allow):
            return None
        return reason

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, once all of them proved allowed.

        All, not just the first: a name resolving to a public and an internal address would
        otherwise reach the internal one whenever the connection falls back to it."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses: list[IPAddress] = []
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]  # fe80::1%eth0: the zone is not the address
            address = ipaddress.ip_address(text)
            if address not in addresses:
                addresses.append(address)
        for address in addresses:
            reason = self.refusal(host, address, port)
            if reason is not None:
                shown = host if host == str(address) else f"{host} ({address})"
                raise OutgoingRefused(
                    f"refused to connect to {shown} port {port}: {reason}; "
                    f"allow it with [outgoing] allow in rota.toml if this is intended"
                )
        if not addresses:
            raise httpcore2.ConnectError(f"cannot resolve {host}: no address")
        return addresses


# -- the process-wide policy ------------------------------------------------------------------

_lock = threading.Lock()
_current = OutgoingPolicy()


def configure(policy: OutgoingPolicy) -> OutgoingPolicy:
    """Make ``policy`` the process's policy; answers the previous one (to restore it)."""
    global _current
    with _lock:
        previous, _current = _current, policy
    return previous


def current_policy() -> OutgoingPolicy:
    return _current


@contextmanager
def configured(policy: OutgoingPolicy) -> Iterator[OutgoingPolicy]:
    """``policy`` for the duration of a ``with`` block (tests, one-off commands)."""
    previous = configure(policy)
    try:
        yield policy
    finally:
        configure(previous)


# -- the transport ----------------------------------------------------------------------------


class GuardedBackend(httpcore2.NetworkBackend):
    """Opens TCP connections only to checked addresses (see the module documentation)."""

    def __init__(self, policy: OutgoingPolicy | None = None) -> None:
        self._policy = policy
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        policy = self._policy or current_policy()
        error: Exception | None = None
        for address in policy.resolve(host, port):
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        raise OutgoingRefused("refused to connect to a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx2.HTTPTransport):
    """``httpx2.HTTPTransport`` whose connections go through :class:`GuardedBackend`; only
    ``http`` and ``https`` URLs, and never a proxy."""

    def __init__(self, policy: OutgoingPolicy | None = None, *, verify: bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(verify=verify, trust_env=False),
            network_backend=GuardedBackend(policy),
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme not in ("http", "https"):
            raise OutgoingRefused(f"refused a {request.url.scheme!r} URL: only http and https")
        return super().handle_request(request)


def guarded_client(
    *,
    timeout: float,
    follow_redirects: bool = False,
    policy: OutgoingPolicy | None = None,
    **kwargs: Any,
) -> httpx2.Client:
    """An ``httpx2.Client`` whose every request, and every redirect hop, is guarded.
    ``policy`` defaults to the process's policy at the time each connection is made."""
    return httpx2.Client(
        transport=GuardedTransport(policy),
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
        **kwargs,
    )


def allow_entries(entries: Sequence[str]) -> list[str]:
    """Validate ``[outgoing] allow`` entries (for the settings), answering them unchanged."""
    OutgoingPolicy.parse(entries)
    return list(entries)


__all__ = [
    "AllowEntry",
    "GuardedTransport",
    "OutgoingPolicy",
    "OutgoingRefused",
    "address_reason",
    "configure",
    "configured",
    "current_policy",
    "guarded_client",
]
