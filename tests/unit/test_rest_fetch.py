"""The server-side fetcher refuses every private target at the resolve-and-decide step, and never dials one.

Every test resolves names through a stub (test names -> the addresses under test) and dials through a guard
that fails the test, instead of connecting, if anything outside 127.0.0.0/8 and ::1 would be dialled. The only
real sockets are loopback HTTP servers started here.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hires_studio.rest.config import parse_allow_entry
from hires_studio.rest.safe_fetch import FetchRefused, decide, fetch, refusal

STUB_DNS = {
    "localhost": ["127.0.0.1", "::1"],
    "internal.test": ["10.1.2.3"],
    "corp.test": ["172.16.5.4"],
    "home.test": ["192.168.1.1"],
    "metadata.test": ["169.254.169.254"],
    "zero.test": ["0.0.0.0"],
    "mapped.test": ["::ffff:192.168.0.1"],
    "multicast.test": ["224.0.0.1"],
    "reserved.test": ["240.0.0.1"],
    "cgnat.test": ["100.64.0.1"],
    "ula.test": ["fd00::1"],
    "rebind.test": ["93.184.216.34", "10.0.0.1"],
    "public.test": ["93.184.216.34"],
}


def stub_resolver(host: str, port: int) -> list[str]:
    if host not in STUB_DNS:
        raise FetchRefused(f"the host {host} cannot be resolved (stub)")
    return STUB_DNS[host]


class DialGuard:
    """Records every dial; a dial outside loopback fails the test without any packet being sent."""

    def __init__(self) -> None:
        self.dialled: list[tuple[str, int]] = []

    def __call__(self, address: str, port: int, timeout: float) -> socket.socket:
        self.dialled.append((address, port))
        if not ipaddress.ip_address(address).is_loopback:
            pytest.fail(f"the fetcher tried to connect to {address}:{port}, outside loopback")
        return socket.create_connection((address, port), timeout=timeout)


@pytest.fixture
def guard() -> DialGuard:
    return DialGuard()


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        status, headers, body = self.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopback_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    _Handler.routes = {
        "/image.png": (200, {"Content-Type": "image/png"}, b"\x89PNG fake bytes"),
        "/big": (200, {}, b"x" * 5000),
        "/to-private": (302, {"Location": "http://internal.test/secret"}, b""),
        "/to-private-literal": (302, {"Location": "http://10.9.9.9/secret"}, b""),
        "/to-image": (302, {"Location": "/image.png"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()


REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://localhost/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://internal.test/", "private"),
    ("http://10.0.0.1/", "private"),
    ("http://corp.test/", "private"),
    ("http://172.31.255.255/", "private"),
    ("http://home.test/", "private"),
    ("http://metadata.test/latest/meta-data/", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://zero.test/", "unspecified"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "IPv4-mapped private"),
    ("http://mapped.test/", "IPv4-mapped private"),
    ("http://multicast.test/", "multicast"),
    ("http://reserved.test/", "reserved"),
    ("http://cgnat.test/", "non-public"),
    ("http://ula.test/", "private"),
    ("http://rebind.test/", "private"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_private_targets_are_refused_before_any_dial(url: str, reason: str, guard: DialGuard) -> None:
    with pytest.raises(FetchRefused, match=reason):
        decide(url, stub_resolver)
    with pytest.raises(FetchRefused, match=reason):
        fetch(url, resolve=stub_resolver, dial=guard)
    assert guard.dialled == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://public.test/x.png", "gopher://public.test/",
                                 "//public.test/x.png", "http://user:pw@public.test/x.png", "http:///nohost"])
def test_only_plain_http_and_https_urls(url: str, guard: DialGuard) -> None:
    with pytest.raises(FetchRefused):
        fetch(url, resolve=stub_resolver, dial=guard)
    assert guard.dialled == []


def test_public_address_is_decided_and_pinned() -> None:
    target = decide("https://public.test:8443/a.png?x=1", stub_resolver)
    assert (target.address, target.port, target.host, target.path) == ("93.184.216.34", 8443, "public.test",
                                                                       "/a.png?x=1")
    assert refusal(ipaddress.ip_address("93.184.216.34")) is None


def test_allowlisted_loopback_fetch_works(loopback_server: int, guard: DialGuard) -> None:
    allow = [parse_allow_entry(f"127.0.0.1:{loopback_server}")]
    result = fetch(f"http://127.0.0.1:{loopback_server}/image.png", resolve=stub_resolver, dial=guard,
                   allowlist=allow)
    assert (result.status, result.body, result.content_type) == (200, b"\x89PNG fake bytes", "image/png")
    assert guard.dialled == [("127.0.0.1", loopback_server)]


def test_allowlist_port_is_respected(loopback_server: int, guard: DialGuard) -> None:
    allow = [parse_allow_entry(f"127.0.0.1:{loopback_server + 1}")]
    with pytest.raises(FetchRefused, match="loopback"):
        fetch(f"http://127.0.0.1:{loopback_server}/image.png", resolve=stub_resolver, dial=guard, allowlist=allow)
    assert guard.dialled == []


@pytest.mark.parametrize("path", ["/to-private", "/to-private-literal"])
def test_redirect_to_a_private_address_is_refused_at_the_hop(loopback_server: int, guard: DialGuard,
                                                             path: str) -> None:
    allow = [parse_allow_entry(f"127.0.0.1:{loopback_server}")]
    with pytest.raises(FetchRefused, match="private"):
        fetch(f"http://127.0.0.1:{loopback_server}{path}", resolve=stub_resolver, dial=guard, allowlist=allow)
    assert guard.dialled == [("127.0.0.1", loopback_server)]


def test_redirects_are_followed_and_capped(loopback_server: int, guard: DialGuard) -> None:
    allow = [parse_allow_entry(f"127.0.0.1:{loopback_server}")]
    result = fetch(f"http://127.0.0.1:{loopback_server}/to-image", resolve=stub_resolver, dial=guard,
                   allowlist=allow)
    assert result.body == b"\x89PNG fake bytes"
    with pytest.raises(FetchRefused, match="more than 3 redirects"):
        fetch(f"http://127.0.0.1:{loopback_server}/loop", resolve=stub_resolver, dial=guard, allowlist=allow)
    assert len(guard.dialled) == 2 + 4


def test_byte_cap(loopback_server: int, guard: DialGuard) -> None:
    allow = [parse_allow_entry(f"127.0.0.1:{loopback_server}")]
    with pytest.raises(FetchRefused, match="larger than the 4096-byte limit"):
        fetch(f"http://127.0.0.1:{loopback_server}/big", resolve=stub_resolver, dial=guard, allowlist=allow,
              max_bytes=4096)


def test_read_timeout() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    allow = [parse_allow_entry(f"127.0.0.1:{port}")]
    try:
        with pytest.raises(FetchRefused, match="could not be fetched"):
            fetch(f"http://127.0.0.1:{port}/", resolve=stub_resolver, dial=DialGuard(), allowlist=allow,
                  read_timeout=0.3)
    finally:
        silent.close()
