"""Tokens at rest: unreadable in the raw value, readable under any configured key, rotatable."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from app import create_app
from tokenbox import TokenBox, TokenUnreadable, load_token_keys, parse_keys


def test_a_sealed_token_does_not_show_the_secret_and_opens_back() -> None:
    box = TokenBox([Fernet.generate_key().decode()])
    sealed = box.seal("x-access-token-123")
    assert "x-access-token-123" not in sealed and box.open(sealed) == "x-access-token-123"
    assert box.seal("same") != box.seal("same")  # a fresh IV each time


def test_keys_rotate_without_losing_a_token() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = TokenBox([old]).seal("secret")
    both = TokenBox([new, old])
    assert both.open(sealed) == "secret"
    rotated = both.rotate(sealed)
    assert TokenBox([new]).open(rotated) == "secret"
    with pytest.raises(TokenUnreadable):
        TokenBox([new]).open(sealed)  # the old key dropped before rotating: said, not garbage
    with pytest.raises(ValueError, match="not a Fernet key"):
        TokenBox(["not-a-key"])


def test_embedded_mode_generates_a_key_once(tmp_path) -> None:
    keys = load_token_keys(tmp_path)
    assert load_token_keys(tmp_path) == keys and len(keys) == 1
    assert stat.S_IMODE((tmp_path / "token_keys").stat().st_mode) == 0o600
    assert parse_keys(" a, ,b ") == ["a", "b"]


def test_the_factory_takes_keys_from_the_environment_or_instance(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("TOKEN_KEYS", f"{key}, {Fernet.generate_key().decode()}")
    assert create_app({"SECRET_KEY": "x"}).config["TOKEN_KEYS"][0] == key
    monkeypatch.delenv("TOKEN_KEYS")
    generated = create_app({"SECRET_KEY": "x"}).config["TOKEN_KEYS"]
    assert generated == tuple(load_token_keys(tmp_path))
