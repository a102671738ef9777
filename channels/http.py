"""The one way out: every call to a network goes through a session built here.

The session's adapter sets a timeout on every request and, when the endpoint is a sandbox, sends
the request to the local sandbox instead of the network's host. Clients (tweepy, requests) keep
building the networks' real URLs, so the code that runs against the sandbox is the code that runs
against the networks.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as urllib3_connection

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "Porte-voix/0.1 (advocacy campaigns; +https://porte-voix.example)"
MAX_RESPONSE_BYTES = 2 * 1024 * 1024  # no network API answer we read is larger
MAX_REDIRECTS = 3


class UnsafeHost(requests.ConnectionError):
    """A host we refuse to connect to: not HTTPS on 443, or one of its addresses is not a public one."""


class ResponseTooLarge(requests.RequestException):
    """A server sent more than MAX_RESPONSE_BYTES, or took longer than its timeout to send its body."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (tests put a stub resolver here: they never query a real DNS)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def is_public_address(value: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses, IPv4 and IPv6,
    including IPv4 written inside IPv6 (mapped, 6to4, Teredo, NAT64)."""
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_loopback or address.is_link_local
    )


def check_url(url: str) -> tuple[str, int]:
    """The host and port of `url` when it is HTTPS on 443 to a host name; raises UnsafeHost otherwise.

    An address literal is refused too: the hosts a stranger names are names.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise UnsafeHost(f"not a valid address: {url!r}") from exc
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "https" or port != 443 or not host or parts.username or parts.password:
        raise UnsafeHost(f"only https:// on port 443 is allowed, not {parts.scheme}://{parts.netloc}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host, port
    raise UnsafeHost(f"a host name is expected, not the address {host}")


def checked_addresses(host: str, port: int) -> list[str]:
    """Resolve `host` once; raises UnsafeHost when it resolves to nothing or to any address that is not public
    (a name that resolves to one public and one private address is refused: DNS rebinding)."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeHost(f"{host} could not be resolved") from exc
    if not addresses:
        raise UnsafeHost(f"{host} could not be resolved")
    refused = [address for address in addresses if not is_public_address(address)]
    if refused:
        raise UnsafeHost(f"{host} resolves to an address that is not public ({refused[0]})")
    return addresses


class _GuardedConnectionMixin:
    """Connect to the address that was checked (never a second resolution); TLS still verifies the name."""

    _dns_host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.rstrip(".")
        last: OSError | None = None
        for address in checked_addresses(host, self.port):
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                last = exc
        raise requests.ConnectionError(f"{host} could not be reached") from last


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


# Which sandbox path stands in for a network's hosts. Mastodon keeps the instance in the path,
# because every instance is a server of its own.
_SANDBOX_PREFIX = {"x": "/x", "bluesky": "/bluesky"}


@dataclass(frozen=True)
class Endpoint:
    """Where a network is reached: its real hosts, or the sandbox at `sandbox_url` standing in for them."""

    sandbox_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def is_sandbox(self) -> bool:
        return bool(self.sandbox_url)

    def url(self, network: str, real_url: str) -> str:
        """The address to use for `real_url`: itself, or its stand-in in the sandbox (for requests and browsers)."""
        if not self.sandbox_url or real_url.startswith(self.sandbox_url):
            return real_url
        parts = urlsplit(real_url)
        prefix = _SANDBOX_PREFIX.get(network, f"/{network}/{parts.netloc.lower()}")
        base = urlsplit(self.sandbox_url.rstrip("/"))
        return urlunsplit((base.scheme, base.netloc, base.path + prefix + parts.path, parts.query, parts.fragment))

    def session(self, network: str) -> requests.Session:
        """A session for `network` whose every request has a timeout (and goes to the sandbox, when it is one).

        One per thread and endpoint: requests sessions are not safe to share between threads.
        """
        key = (self, network)
        cached: dict[Any, requests.Session] = _local.__dict__.setdefault("sessions", {})
        session = cached.get(key)
        if session is None:
            session = cached[key] = mount(requests.Session(), self, network)
        return session


_local = threading.local()


class EndpointAdapter(HTTPAdapter):
    """The guard every request to a network passes, each redirect hop included (requests sends each through it).

    - a timeout on every request, and a cap on the whole answer's size and time;
    - live: HTTPS on 443 to a host name only, resolved once and refused unless every address is public, and
      the connection made to the address that was checked;
    - sandbox: the same rule on the URL the client built, then the request goes to the configured sandbox
      (an address from our settings, never from a stranger).
    """

    def __init__(self, endpoint: Endpoint, network: str) -> None:
        self.endpoint = endpoint  # before the base class builds its pool manager, which reads it
        self.network = network
        super().__init__(pool_maxsize=4)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if not self.endpoint.is_sandbox:
            self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.endpoint.timeout
        if request.url and not (self.endpoint.sandbox_url and request.url.startswith(self.endpoint.sandbox_url)):
            check_url(request.url)
            if self.endpoint.is_sandbox:
                request.url = self.endpoint.url(self.network, request.url)
        kwargs["stream"] = True
        try:
            response = super().send(request, **kwargs)
        except requests.ConnectionError as exc:
            refused = _refusal_in(exc)
            if refused is not None:
                raise refused from exc  # urllib3 wrapped the guard's refusal: it is final, not a lost connection
            raise
        _read_capped(response, self.endpoint.timeout)
        return response


def _refusal_in(exc: BaseException, depth: int = 0) -> UnsafeHost | None:
    """The guard's UnsafeHost inside the errors urllib3 and requests wrap it in, if it is there."""
    if isinstance(exc, UnsafeHost):
        return exc
    if depth > 5:
        return None
    for inner in (*exc.args, exc.__cause__, exc.__context__):
        if isinstance(inner, BaseException):
            found = _refusal_in(inner, depth + 1)
            if found is not None:
                return found
    return None


def _read_capped(response: requests.Response, timeout: float, limit: int = MAX_RESPONSE_BYTES) -> None:
    """Read the body now, refusing more than `limit` bytes or a body that drips for longer than `timeout`."""
    deadline = time.monotonic() + max(timeout, 1.0) * 2
    chunks, size = [], 0
    try:
        for chunk in response.raw.stream(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > limit or time.monotonic() > deadline:
                raise ResponseTooLarge(f"the answer was larger than {limit} bytes or too slow")
            chunks.append(chunk)
    finally:
        response.close()
    response._content = b"".join(chunks)  # noqa: SLF001  (requests' own cache of the body)
    response._content_consumed = True  # type: ignore[attr-defined]  # noqa: SLF001


def mount(session: requests.Session, endpoint: Endpoint, network: str) -> requests.Session:
    """Route a session (ours, or one a library built: tweepy's) through the endpoint's guarded adapter."""
    adapter = EndpointAdapter(endpoint, network)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.max_redirects = MAX_REDIRECTS
    return session
