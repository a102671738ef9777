"""Two-step sign-in: a TOTP key (RFC 6238, `pyotp`) sealed at rest, its QR code drawn here as SVG (`segno`),
and ten single-use recovery codes shown once and kept only as hashes.

A code is good once (the step it was accepted for is kept), and tries are throttled per account and per
client, so that six digits cannot be guessed in a loop.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, select

from accounts.models import RecoveryCode, User
from database import utcnow
from extensions import db
from security import allow
from tokenbox import token_box

ISSUER = "Porte-voix"
RECOVERY_CODES = 10
CODE_LIMIT_ACCOUNT = "5 per minute;20 per hour"  # wrong codes on one account
CODE_LIMIT_CLIENT = "10 per minute;60 per hour"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as inline SVG (no image service, nothing fetched)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#1d1d1b", light="#ffffff", title="QR"))


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _clean(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step `code` was made for (now, or one step either side for a slow clock), else None."""
    code = _clean(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = _totp(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.at(candidate * totp.interval), code):
            return candidate
    return None


def secret_of(user: User) -> str:
    return token_box().open(user.sealed_totp_secret) if user.sealed_totp_secret else ""


def throttled(user: User, client: str) -> bool:
    """Count a try; True once the account or the client has tried too often."""
    return not (
        allow("totp-account", CODE_LIMIT_ACCOUNT, str(user.id)) and allow("totp-client", CODE_LIMIT_CLIENT, client)
    )


def verify(user: User, code: str, now: datetime | None = None) -> bool:
    """Whether `code` is the user's current code (not one already used) or one of their unused recovery codes.

    A recovery code is spent by its use. Flushes.
    """
    now = now or utcnow()
    secret = secret_of(user)
    if secret:
        step = matching_step(secret, code, now)
        if step is not None and step > user.totp_last_step:
            user.totp_last_step = step
            db.session.flush()
            return True
    return use_recovery_code(user, code, now)


def enable(user: User, secret: str, code: str, now: datetime | None = None) -> list[str] | None:
    """Turn on the second factor once the person typed a code from their app; the recovery codes, or None
    when the code is wrong. Flushes."""
    now = now or utcnow()
    step = matching_step(secret, code, now)
    if step is None:
        return None
    user.sealed_totp_secret = token_box().seal(secret)
    user.totp_last_step, user.two_factor_at = step, now
    return new_recovery_codes(user)


def disable(user: User) -> None:
    user.sealed_totp_secret, user.two_factor_at, user.totp_last_step = "", None, 0
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def _hash(code: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"recovery:" + _clean(code).encode(), hashlib.sha256).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (the old ones stop working), to show once. Flushes."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in codes)
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str, now: datetime) -> bool:
    cleaned = _clean(code)
    if len(cleaned) != 12:
        return False
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(cleaned), RecoveryCode.used_at.is_(None)
        )
    )
    if row is None:
        return False
    row.used_at = now
    db.session.flush()
    return True


def recovery_codes_left(user: User) -> int:
    rows = db.session.scalars(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    return len(rows)
