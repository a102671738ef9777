"""The consent page that X's and Mastodon's sandboxes show, and PKCE checks."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request
from werkzeug.wrappers import Response


def challenge_of(verifier: str, method: str = "S256") -> str:
    if method == "plain":
        return verifier
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def back_to_app(redirect_uri: str, **params: str) -> Response:
    separator = "&" if "?" in redirect_uri else "?"
    return redirect(redirect_uri + separator + urlencode(params), code=302)


def consent_page(network: str, *, scopes: str, error: str = "", **context: Any) -> tuple[str, int]:
    """The page where the sandbox's user types a name and grants (or refuses) the scopes."""
    return (
        render_template(
            "sandbox/authorize.html", network=network, scopes=scopes.split(), error=error, query=request.args, **context
        ),
        400 if error else 200,
    )
