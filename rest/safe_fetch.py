"""Server-side fetches (image URLs, callbacks) that cannot be turned against the server's own network.

The decision is made on addresses, not names: the host is resolved once, every address it resolves to must
be public (or on the config's allowlist), and the connection goes to that resolved address, so a name that
resolves differently the second time (DNS rebinding) gains nothing. Each redirect hop is decided again, at
most three; connect and read time out; the body is capped. `resolve` and `dial` are parameters so tests can
map names to any address and refuse to dial anything outside loopback.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .config import AllowEntry

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the addresses it resolves to, as strings."""
Dialer = Callable[[str, int, float], socket.socket]
"""(address, port, connect timeout) -> a connected socket."""

SCHEMES = {"http": 80, "https": 443}
MAX_REDIRECTS = 3
REDIRECTS = {301, 302, 303, 307, 308}


class FetchRefused(Exception):
    """A URL this server will not fetch, or a fetch that failed: the message says which and why."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchRefused(f"the host {host} cannot be resolved ({error.strerror})") from None
    return [info[4][0] for info in infos]


def system_dialer(address: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((address, port), timeout=timeout)


def literal_address(host: str) -> Address | None:
    """The address a host names by itself: an IPv4/IPv6 literal, or any form inet_aton accepts (decimal
    "2130706433", octal, hex, "127.1"), which resolvers treat as an address rather than a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def refusal(address: Address) -> str | None:
    """Why the address is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        reason = refusal(address.ipv4_mapped)
        return f"IPv4-mapped {reason}" if reason else None
    for flag, reason in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                         ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                         ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(address, flag):
            return f"{reason} address {address}"
    if not address.is_global:
        return f"non-public address {address}"
    return None


@dataclass(frozen=True)
class Target:
    """A fetch decided on: where to connect (`address`) and what to ask for (`host`, `path`)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str


def decide(url: str, resolve: Resolver, allowlist: Sequence[AllowEntry] = ()) -> Target:
    """The address to connect to for `url`, or FetchRefused: http/https only, and every address the host
    resolves to must be public or allowlisted (one bad address refuses the whole name)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise FetchRefused(f"{url!r} is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"{scheme}://" if scheme else "a URL without a scheme"
        raise FetchRefused(f"only http and https URLs are fetched, not {shown}")
    if parts.username or parts.password:
        raise FetchRefused("URLs with credentials are not fetched")
    host = (parts.hostname or "").lower()
    if not host:
        raise FetchRefused(f"{url!r} names no host")
    port = port or SCHEMES[scheme]
    literal = literal_address(host)
    resolved = [str(literal)] if literal is not None else list(resolve(host, port))
    if not resolved:
        raise FetchRefused(f"the host {host} resolves to no address")
    for text in resolved:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = refusal(address)
        if reason and not any(entry.allows(address, port) for entry in allowlist):
            raise FetchRefused(f"{host} is refused: it resolves to a {reason} (private addresses are opened only "
                               "by the server's fetch_allowlist)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url, scheme, host, port, path, resolved[0].split("%", 1)[0])


@dataclass(frozen=True)
class FetchResult:
    status: int
    content_type: str
    body: bytes
    url: str


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the decided address (never resolving the host again), through the given dialer."""

    def __init__(self, target: Target, dial: Dialer, connect_timeout: float, read_timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=read_timeout)
        self._target, self._dial, self._connect_timeout = target, dial, connect_timeout

    def connect(self) -> None:
        self.sock = self._dial(self._target.address, self._target.port, self._connect_timeout)
        self.sock.settimeout(self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self._target.host)


def fetch(url: str, *, resolve: Resolver = system_resolver, dial: Dialer = system_dialer,
          allowlist: Sequence[AllowEntry] = (), method: str = "GET", body: bytes | None = None,
          content_type: str | None = None, max_bytes: int = 50 * 1024 * 1024, connect_timeout: float = 5.0,
          read_timeout: float = 20.0, max_redirects: int = MAX_REDIRECTS) -> FetchResult:
    """One fetch, every hop decided by `decide`. Blocking: call it from a worker thread."""
    for _hop in range(max_redirects + 1):
        target = decide(url, resolve, allowlist)
        cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        conn = cls(target, dial, connect_timeout, read_timeout)
        headers = {"Host": target.host if target.port == SCHEMES[target.scheme] else f"{target.host}:{target.port}",
                   "User-Agent": "hires-studio-api", "Accept": "*/*"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, target.path, body=body, headers=headers)
            response = conn.getresponse()
            if response.status in REDIRECTS and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location"))
                if response.status == 303:
                    method, body, content_type = "GET", None, None
                continue
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchRefused(f"{target.url} is larger than the {max_bytes}-byte limit")
            data = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise FetchRefused(f"{target.url} is larger than the {max_bytes}-byte limit")
            return FetchResult(response.status, response.getheader("Content-Type", ""), data, url)
        except (OSError, http.client.HTTPException) as error:
            raise FetchRefused(f"{target.url} could not be fetched ({type(error).__name__}: {error})") from None
        finally:
            conn.close()
    raise FetchRefused(f"more than {max_redirects} redirects")
