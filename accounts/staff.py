"""An organisation's staff from the web: invitations by e-mail, roles, removal, and forgotten passwords.

Links are signed (`itsdangerous`), expire, and are good once: an invitation's link names its row and
nonce (accepting it, withdrawing it or sending a new one voids it); a reset link names the user and a
digest of their password hash, so that using it (a new password) voids it and every other reset link.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from accounts import audit
from accounts.audit import Act
from accounts.models import Invitation, Organisation, Role, User
from accounts.services import AccountError, check_password_strength, find_user
from accounts.sessions import end_everywhere
from extensions import db
from scheduler.models import Delivery
from scheduler.outbox import enqueue_email

INVITATION_DAYS = 7
RESET_MINUTES = 30
INVITATION = "staff_invitation"  # outbox kinds (`accounts.mailing` delivers them)
PASSWORD_RESET = "password_reset"  # noqa: S105 (an outbox kind)
RESET_LIMIT_CLIENT = "5 per hour;20 per day"
RESET_LIMIT_ADDRESS = "3 per hour;6 per day"
INVITE_LIMIT = "30 per hour;100 per day"  # invitations an organisation sends


def _signer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


# Invitations


def invite(organisation: Organisation, email: str, role: Role, *, by: User, now: datetime) -> Delivery:
    """Invite `email` into the organisation with `role` (a new invitation to the same address replaces the
    open one); returns its e-mail's outbox row. Raises AccountError for an address that has an account
    already. Flushes; the caller commits and notifies the outbox."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(_("This is not an e-mail address."))
    if find_user(email) is not None:
        raise AccountError(_("This address already has an account."))
    for open_one in pending_invitations(organisation, now):
        if open_one.email == email:
            open_one.revoked_at = now
    invitation = Invitation(
        organisation_id=organisation.id,
        email=email,
        role=role,
        invited_by_id=by.id,
        nonce=secrets.token_hex(8),
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(Act.STAFF_INVITED, organisation_id=organisation.id, actor=by, subject=email, detail=role.value)
    return _queue(INVITATION, invitation.id, organisation.language, now)


def _queue(kind: str, ref_id: int | None, language: str, now: datetime) -> Delivery:
    return enqueue_email(kind, ref_id, key=f"{kind}-{ref_id or 0}-{secrets.token_hex(8)}", language=language, now=now)


def pending_invitations(organisation: Organisation, now: datetime) -> Sequence[Invitation]:
    return db.session.scalars(
        select(Invitation)
        .where(
            Invitation.organisation_id == organisation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .order_by(Invitation.created_at.desc())
    ).all()


def invitation_token(invitation: Invitation) -> str:
    return _signer("staff-invitation").dumps([invitation.id, invitation.nonce])


def invitation_from_token(token: str, now: datetime) -> Invitation | None:
    """The open invitation a link names; None for a forged, expired, used or withdrawn one."""
    try:
        invitation_id, nonce = _signer("staff-invitation").loads(token, max_age=INVITATION_DAYS * 86400)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    if not isinstance(invitation_id, int) or not isinstance(nonce, str):
        return None
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or not secrets.compare_digest(invitation.nonce, nonce) or not invitation.is_open(now):
        return None
    return invitation


def accept(invitation: Invitation, *, name: str, password: str, now: datetime) -> User:
    """The invitee sets their password: their account, in the role they were invited to. Raises
    AccountError for a weak password or an address taken meanwhile. Flushes."""
    check_password_strength(password)
    if find_user(invitation.email) is not None:
        raise AccountError(_("This address already has an account."))
    user = User(
        organisation_id=invitation.organisation_id,
        email=invitation.email,
        name=name.strip()[:200] or invitation.email,
        role=invitation.role,
    )
    user.set_password(password)
    db.session.add(user)
    invitation.accepted_at = now
    db.session.flush()
    audit.record(Act.STAFF_JOINED, organisation_id=invitation.organisation_id, actor=user, subject=user.email)
    return user


def revoke_invitation(invitation: Invitation, *, by: User, now: datetime) -> None:
    invitation.revoked_at = now
    audit.record(Act.INVITATION_REVOKED, organisation_id=invitation.organisation_id, actor=by, subject=invitation.email)


# Roles and removal


def members(organisation: Organisation) -> Sequence[User]:
    return db.session.scalars(
        select(User).where(User.organisation_id == organisation.id).order_by(func.lower(User.name), User.id)
    ).all()


def _admins_left(organisation_id: int, without: User) -> int:
    return int(
        db.session.scalar(
            select(func.count()).where(
                User.organisation_id == organisation_id,
                User.role == Role.ADMIN,
                User.is_enabled.is_(True),
                User.id != without.id,
            )
        )
        or 0
    )


def change_role(user: User, role: Role, *, by: User, now: datetime) -> bool:
    """Give `user` another role; their sessions end (they sign in again under it). The last admin keeps
    theirs. Returns False when nothing changed. Flushes."""
    if user.role is role:
        return False
    if user.role is Role.ADMIN and _admins_left(user.organisation_id, user) == 0:
        raise AccountError(_("The organisation needs at least one admin."))
    before = user.role
    user.role = role
    end_everywhere(user, now)
    audit.record(
        Act.ROLE_CHANGED,
        organisation_id=user.organisation_id,
        actor=by,
        subject=user.email,
        detail=f"{before.value} → {role.value}",
    )
    return True


def remove(user: User, *, by: User, now: datetime) -> None:
    """Take `user` out of the organisation: the account goes, and with it every session. Flushes."""
    if user.id == by.id:
        raise AccountError(_("You cannot remove yourself: ask another admin."))
    if user.role is Role.ADMIN and _admins_left(user.organisation_id, user) == 0:
        raise AccountError(_("The organisation needs at least one admin."))
    audit.record(Act.STAFF_REMOVED, organisation_id=user.organisation_id, actor=by, subject=user.email)
    end_everywhere(user, now)
    db.session.delete(user)
    db.session.flush()


# Forgotten passwords


def request_reset(email: str, now: datetime) -> Delivery:
    """Queue a reset e-mail for `email`. The same work whether or not the address has an account (one look-up,
    one row, one commit by the caller), so that neither the page nor its time tells. The outbox sends a
    link only to an enabled account's address."""
    # A row of two columns, not a User: loading an object for the known address only would time apart.
    found = db.session.execute(
        select(User.id, User.is_enabled).where(func.lower(User.email) == email.strip().lower())
    ).first()
    target = found[0] if found is not None and found[1] else None
    return _queue(PASSWORD_RESET, target, "", now)  # written in the organisation's language when sent


def _password_digest(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}:{user.session_version}".encode()).hexdigest()[:20]


def reset_token(user: User) -> str:
    return _signer("password-reset").dumps([user.id, _password_digest(user)])


def user_from_reset_token(token: str) -> User | None:
    try:
        user_id, digest = _signer("password-reset").loads(token, max_age=RESET_MINUTES * 60)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_enabled or not isinstance(digest, str):
        return None
    return user if secrets.compare_digest(_password_digest(user), digest) else None


def reset_password(user: User, password: str, now: datetime) -> None:
    """A new password from a reset link: the link is spent, every session ends. Flushes."""
    check_password_strength(password)
    user.set_password(password)
    end_everywhere(user, now)
    audit.record(Act.PASSWORD_RESET, organisation_id=user.organisation_id, actor=user, subject=user.email)


def change_password(user: User, current: str, new: str, *, keep: str, now: datetime) -> None:
    """The signed-in user's new password; every other session of theirs ends. Raises AccountError."""
    if not user.check_password(current):
        raise AccountError(_("The current password is wrong."))
    check_password_strength(new)
    user.set_password(new)
    end_everywhere(user, now, keep=keep)
    audit.record(Act.PASSWORD_CHANGED, organisation_id=user.organisation_id, actor=user, subject=user.email)
