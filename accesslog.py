"""gunicorn's access log without secrets: no query string (OAuth `code=`, `state=`), and the tokens of
signed links (send, confirm, unsubscribe, reminder) masked. `make run` passes `--logger-class`."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

# The last segment of a route that carries a signed token: /c/<slug>/send/<network>/<token>, /s/confirm/<token>…
_TOKEN_PATH = re.compile(r"^(/c/[^/]+/send/[^/]+/|/c/[^/]+/post/[^/]+/|/c/[^/]+/r/|/s/confirm/|/s/unsubscribe/)[^/?]+")


def scrub(path: str) -> str:
    return _TOKEN_PATH.sub(r"\1…", path.split("?", 1)[0])


class ScrubbedLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        path = scrub(environ.get("PATH_INFO", ""))
        atoms["U"], atoms["q"] = path, ""
        atoms["r"] = f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"
        return atoms
