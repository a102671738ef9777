"""Secrets at rest (network tokens, second-factor keys), sealed with Fernet under a list of keys that rotate.

The first key seals; every key opens. To rotate: put a new key first in TOKEN_KEYS, run
`rotate()` over the stored tokens, then drop the old key. In embedded mode the key is generated
into `instance/token_keys` (mode 0600) on first run and kept.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class TokenUnreadable(ValueError):
    """A stored token that no configured key opens (a key was dropped too early, or the data is not ours)."""


class TokenBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("TokenBox needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ValueError("TOKEN_KEYS holds a key that is not a Fernet key (32 url-safe base64 bytes)") from exc

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise TokenUnreadable("no configured key opens this token") from exc

    def rotate(self, sealed: str) -> str:
        """The same secret sealed under the first key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken as exc:
            raise TokenUnreadable("no configured key opens this token") from exc


def parse_keys(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def load_token_keys(instance_path: Path) -> list[str]:
    """The keys kept in `instance/token_keys` (one per line), generating one on first run (mode 0600)."""
    path = instance_path / "token_keys"
    if path.exists():
        keys = parse_keys(path.read_text().replace("\n", ","))
        if keys:
            return keys
    instance_path.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return [key]


def token_box() -> TokenBox:
    """The app's sealer for secrets at rest (made once per app)."""
    box = current_app.extensions.get("porte_voix_token_box")
    if box is None:
        box = current_app.extensions["porte_voix_token_box"] = TokenBox(current_app.config["TOKEN_KEYS"])
    return box
