"""What keeps the public side safe: response headers that keep pages inert and unframed, the hashed client
that throttles are keyed on, and the throttles themselves (Flask-Limiter, memory or Redis)."""

from __future__ import annotations

from flask import Flask, current_app, request
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from extensions import limiter

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


def init_app(app: Flask) -> None:
    if app.config.get("PROXY_COUNT"):
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
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
