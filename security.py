"""What keeps the public side safe: response headers that keep pages inert and unframed, the hashed client
that throttles are keyed on, and the throttles themselves (Flask-Limiter, memory or Redis)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from database import MAX_ID
from extensions import limiter
from safejson import CappedJSONProvider

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self' https:"
)


def allow(name: str, limits: str, *keys: str) -> bool:
    """Count one more event `name` for `keys` against `limits` ("20 per minute;120 per hour"); False once over.

    Each limit is hit, so a client over the hourly limit stays refused even when its minute is fresh.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    strategy = limiter.limiter
    allowed = True
    for item in parse_many(limits):
        allowed = strategy.hit(item, name, *keys) and allowed
    return allowed


def exhausted(name: str, limits: str, *keys: str) -> bool:
    """Whether `keys` have used up any of `limits` for `name`, without counting this as one more."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    strategy = limiter.limiter
    return not all(strategy.test(item, name, *keys) for item in parse_many(limits))


class Int63Converter(IntegerConverter):
    """`<int:…>` in every route, refusing ids past 63 bits (a 404, not an overflow in the database)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.json = CappedJSONProvider(app)
    app.url_map.converters["int"] = Int63Converter  # before the blueprints' rules are bound
    if app.config.get("PROXY_COUNT"):
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    # One Limiter serves the process's app; a test process builds many, each with its own limits and storage.
    limiter.limit_manager.set_default_limits([])
    limiter.init_app(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
