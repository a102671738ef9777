"""Staff sessions: one row per sign-in and browser, so that a person can see where they are signed in and
end a session, and so that a removal, a role or a password change ends them at once.

The session cookie and the remember-me cookie carry `user id . session version . key`; a request is signed
in only while the user's version is the one in the cookie and the row under that key is not ended.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update

from accounts.models import StaffSession, User
from database import changed, utcnow
from extensions import db

TOUCH_EVERY = timedelta(minutes=1)  # `last_seen_at` is written at most this often (not once a request)
KEPT_ENDED = timedelta(days=30)  # ended sessions stay listed this long, then the retention job drops them


def open_session(user: User, *, client: str, user_agent: str, verified: bool, now: datetime) -> StaffSession:
    """A new session for a sign-in that passed its password (and `verified`: its second factor). Flushes."""
    row = StaffSession(
        key=secrets.token_urlsafe(18)[:24],
        user_id=user.id,
        client=client,
        user_agent=user_agent[:200],
        created_at=now,
        last_seen_at=now,
        is_verified=verified,
    )
    db.session.add(row)
    db.session.flush()
    user.login_nonce = row.key
    return row


def live_session(user: User, key: str, now: datetime) -> StaffSession | None:
    """The user's session under `key`, if it has not been ended; its last-seen time moved on now and then."""
    if not key:
        return None
    row = db.session.get(StaffSession, key)
    if row is None or row.user_id != user.id or row.ended_at is not None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now  # committed with the request's work, or by the teardown below
    return row


def sessions_of(user: User) -> Sequence[StaffSession]:
    return db.session.scalars(
        select(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .order_by(StaffSession.last_seen_at.desc())
    ).all()


def end_session(user: User, key: str, now: datetime) -> bool:
    """End one of the user's own sessions. False when there is no such live session. Flushes."""
    ended = db.session.execute(
        update(StaffSession)
        .where(StaffSession.key == key, StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(changed(ended))


def end_all(user: User, now: datetime, *, keep: str = "") -> int:
    """End every session of the user but `keep` (the one making the change). Flushes."""
    query = update(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
    if keep:
        query = query.where(StaffSession.key != keep)
    return changed(db.session.execute(query.values(ended_at=now).execution_options(synchronize_session=False)))


def end_everywhere(user: User, now: datetime | None = None, *, keep: str = "") -> None:
    """Sign the user out of every browser but the session `keep`: the rows end, and the version moves so that
    no cookie issued before still opens a session (the kept one is re-issued by the caller)."""
    end_all(user, now or utcnow(), keep=keep)
    user.end_sessions()
