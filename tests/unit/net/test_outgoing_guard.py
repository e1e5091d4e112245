"""The outgoing-HTTP guard against a real local server: internal addresses are refused in
every spelling, after DNS resolution and on every redirect hop, unless ``[outgoing] allow``
names them; the executors and data connectors that send HTTP obey it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from tests.http_server import Reply, Server, serve

from rota.data.records import SourceError
from rota.data.sources.http_source import HttpSource
from rota.data.targets.http_target import HttpTarget
from rota.jobs.executors.base import Attempt, RunControl
from rota.jobs.executors.http import HttpExecutor
from rota.model.errors import InvalidInputError, JobFailed
from rota.model.jobs import JobDefinition, JobKind
from rota.net.guard import (
    AllowEntry,
    OutgoingPolicy,
    OutgoingRefused,
    address_reason,
    configured,
    guarded_client,
)

STRICT = OutgoingPolicy()


@pytest.fixture(autouse=True)
def strict() -> Iterator[None]:
    """Whatever an earlier test configured, these start from the strict default."""
    with configured(STRICT):
        yield


@pytest.fixture
def server() -> Iterator[Server]:
    with serve(fallback=Reply(200, {"reached": True})) as running:
        yield running


def allowing(*entries: str) -> OutgoingPolicy:
    return OutgoingPolicy.parse(entries)


def get(url: str, policy: OutgoingPolicy | None = None, **options: Any) -> httpx2.Response:
    with guarded_client(timeout=5, policy=policy, **options) as client:
        return client.get(url)


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "address"),
        ("100.64.0.1", "reserved"),
    ],
)
def test_internal_addresses_have_a_reason(address: str, reason: str) -> None:
    found = address_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_reason(ipaddress.ip_address(address)) is None


def test_the_allow_list_takes_networks_addresses_ports_and_host_names() -> None:
    policy = allowing("10.0.0.0/8", "::1", "127.0.0.1:8080", "hooks.internal", "*.corp.example")
    loopback = ipaddress.ip_address("127.0.0.1")
    assert policy.refusal("x", ipaddress.ip_address("10.9.9.9"), 443) is None
    assert policy.refusal("x", ipaddress.ip_address("::1"), 1) is None
    assert policy.refusal("x", loopback, 8080) is None
    assert policy.refusal("x", loopback, 8081) is not None
    assert policy.refusal("hooks.internal", loopback, 1) is None
    assert policy.refusal("HOOKS.internal.", loopback, 1) is None
    assert policy.refusal("a.corp.example", loopback, 1) is None
    assert policy.refusal("corp.example.evil", loopback, 1) is not None
    assert policy.refusal("other.internal", loopback, 1) is not None


@pytest.mark.parametrize(
    "entry", ["", "10.0.0.0/33", "bad name!", "host:0", "host:x", "[::1]:99999"]
)
def test_a_bad_allow_entry_is_refused_naming_it(entry: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        OutgoingPolicy.parse(["127.0.0.1", entry])
    assert caught.value.field == "outgoing.allow[1]"


def test_an_entry_with_a_port_keeps_it() -> None:
    entry = AllowEntry.parse("[::1]:8443", "x")
    assert entry.port == 8443 and entry.network == ipaddress.ip_network("::1/128")


# -- requests against a real server -------------------------------------------------------------


def test_the_local_server_is_reached_when_allowed(server: Server) -> None:
    assert get(server.url("/"), allowing("127.0.0.1/32")).json() == {"reached": True}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f000001:{port}/",
        "http://0x7f.1:{port}/",
        "http://127.1:{port}/",
    ],
)
def test_loopback_is_refused_in_every_spelling(server: Server, url: str) -> None:
    with pytest.raises(OutgoingRefused, match="loopback"):
        get(url.format(port=server.port))
    assert server.seen == []


def test_an_octal_address_is_refused(server: Server) -> None:
    """httpx already refuses ``0177.0.0.1`` as a URL; the resolver would make it 127.0.0.1,
    and the guard refuses that too."""
    with pytest.raises((httpx2.HTTPError, httpx2.InvalidURL)):
        get(f"http://0177.0.0.1:{server.port}/")
    with pytest.raises(OutgoingRefused, match=r"0177\.0\.0\.1 \(127\.0\.0\.1\).*loopback"):
        STRICT.resolve("0177.0.0.1", server.port)
    assert server.seen == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1]:{port}/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://0.0.0.0:{port}/", "unspecified"),
        ("http://10.0.0.1/", "private"),
    ],
)
def test_internal_addresses_are_refused_before_connecting(
    server: Server, url: str, reason: str
) -> None:
    with pytest.raises(OutgoingRefused, match=reason):
        get(url.format(port=server.port))


def test_a_name_resolving_to_loopback_is_refused_and_an_allowed_name_is_reached(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("public.example", "hooks.internal"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(OutgoingRefused, match=r"public\.example \(127\.0\.0\.1\)"):
        get(f"http://public.example:{server.port}/")
    assert server.seen == []

    response = get(f"http://hooks.internal:{server.port}/", allowing("hooks.internal"))

    assert response.json() == {"reached": True}
    assert server.seen[0].headers["host"] == f"hooks.internal:{server.port}"


def test_every_address_a_name_resolves_to_must_pass(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public address first and a private one second is still refused: a connection
    falling back to the second would reach it."""

    def two(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two)
    with pytest.raises(OutgoingRefused, match="private"):
        STRICT.resolve("mixed.example", 80)


def test_a_redirect_to_a_port_not_allowed_is_refused(server: Server) -> None:
    """The first server is allowed by address and port; it redirects to a second one on the
    same loopback address but another port, which the allow-list does not name."""
    with serve(fallback=Reply(200, {"second": True})) as second:
        server.replies("/go", Reply(302, b"", headers={"Location": second.url("/in")}))
        policy = allowing(f"127.0.0.1:{server.port}")
        assert get(server.url("/"), policy).json() == {"reached": True}

        with pytest.raises(OutgoingRefused, match=f"port {second.port}: a loopback"):
            get(server.url("/go"), policy, follow_redirects=True)

        assert second.seen == []


@pytest.mark.parametrize(
    "location", ["http://[::1]:{port}/x", "http://169.254.169.254/", "http://2130706433:{port}/"]
)
def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(
    server: Server, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "hooks.internal" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    server.replies("/go", Reply(302, b"", headers={"Location": location.format(port=server.port)}))
    with pytest.raises(OutgoingRefused):
        get(
            f"http://hooks.internal:{server.port}/go",
            allowing("hooks.internal"),
            follow_redirects=True,
        )
    assert [s.path for s in server.seen] == ["/go"]


def test_only_http_and_https_are_sent() -> None:
    with pytest.raises((OutgoingRefused, httpx2.UnsupportedProtocol)):
        get("ftp://example.org/")


# -- the senders use it -------------------------------------------------------------------------


def _attempt(url: str) -> Attempt:
    definition = JobDefinition(
        id="t.http",
        kind=JobKind.HTTP,
        spec={"method": "GET", "url": url, "headers": {}, "expect_status": [200]},
    )
    return Attempt(definition=definition, run_id=1, attempt=1, params={}, project=Path("."))


class _Reporter:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def test_an_http_job_to_loopback_fails_for_good(server: Server) -> None:
    with pytest.raises(JobFailed, match="loopback") as caught:
        HttpExecutor().execute(
            _attempt(server.url("/")), _Reporter(), RunControl(timeout=None, cancel_grace=1)
        )  # type: ignore[arg-type]
    assert caught.value.retryable is False
    assert server.seen == []


def test_an_http_job_reaches_an_allowed_server(server: Server) -> None:
    with configured(allowing("127.0.0.1/32")):
        result = HttpExecutor().execute(
            _attempt(server.url("/")), _Reporter(), RunControl(timeout=None, cancel_grace=1)
        )  # type: ignore[arg-type]
    assert result["status"] == 200


def test_a_data_source_and_target_refuse_loopback(server: Server) -> None:
    with pytest.raises(SourceError, match="loopback"):
        HttpSource(server.url("/members"))
    target = HttpTarget({"type": "http", "url": server.url("/bulk")}, ["id"])
    try:
        reason = target.send([{"id": 1}])
    finally:
        target.close()
    assert reason is not None and "loopback" in reason
    assert server.seen == []
