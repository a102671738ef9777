"""The one way out: every call to a network goes through a session built here.

The session's adapter sets a timeout on every request and, when the endpoint is a sandbox, sends
the request to the local sandbox instead of the network's host. Clients (tweepy, requests) keep
building the networks' real URLs, so the code that runs against the sandbox is the code that runs
against the networks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "Porte-voix/0.1 (advocacy campaigns; +https://porte-voix.example)"

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
            session = requests.Session()
            adapter = EndpointAdapter(self, network)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            cached[key] = session
        return session


_local = threading.local()


class EndpointAdapter(HTTPAdapter):
    """Gives every request a timeout, and rewrites its address to the sandbox when the endpoint is one."""

    def __init__(self, endpoint: Endpoint, network: str) -> None:
        super().__init__(pool_maxsize=4)
        self.endpoint = endpoint
        self.network = network

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.endpoint.timeout
        if self.endpoint.is_sandbox and request.url:
            request.url = self.endpoint.url(self.network, request.url)
        return super().send(request, **kwargs)


def mount(session: requests.Session, endpoint: Endpoint, network: str) -> requests.Session:
    """Route a session that a library built (tweepy's) through the endpoint's adapter."""
    adapter = EndpointAdapter(endpoint, network)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
