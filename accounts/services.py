"""Staff accounts: creation and authentication."""

from __future__ import annotations

from functools import cache

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from accounts.models import Organisation, Role, User
from database import utcnow
from extensions import db
from security import allow, exhausted
from urls import slugify

MIN_PASSWORD_LENGTH = 10
LOGIN_LIMIT_ACCOUNT = "5 per minute;20 per hour"  # failed sign-ins on one address
LOGIN_LIMIT_CLIENT = "10 per minute;60 per hour"  # failed sign-ins from one hashed client


class AccountError(ValueError):
    """An account operation that cannot be done, with a reason to show."""


def get_or_create_organisation(name: str) -> Organisation:
    name = name.strip()
    if not name:
        raise AccountError(_("An organisation needs a name."))
    organisation = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if organisation is None:
        organisation = Organisation(name=name, slug=free_organisation_slug(name))
        db.session.add(organisation)
        db.session.flush()
    return organisation


def free_organisation_slug(name: str) -> str:
    base = slugify(name, "organisation")
    candidate, number = base, 2
    while db.session.scalar(select(Organisation.id).where(Organisation.slug == candidate)) is not None:
        candidate, number = f"{base[:74]}-{number}", number + 1
    return candidate


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(*, organisation: Organisation, email: str, name: str, password: str, role: Role) -> User:
    """Add a staff member. Raises AccountError on a taken e-mail or a short password."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(_("This is not an e-mail address: %(email)s", email=email))
    if find_user(email) is not None:
        raise AccountError(_("An account with the address %(email)s already exists.", email=email))
    check_password_strength(password)
    user = User(organisation=organisation, email=email, name=name.strip() or email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most used passwords (zxcvbn's list, from leaked password sets)."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password_strength(password: str) -> None:
    """Raises AccountError for a password too short, or one of the most commonly used ones."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("The password must have at least %(count)s characters.", count=MIN_PASSWORD_LENGTH))
    folded = password.lower()
    if folded in _common_passwords() or folded.replace(" ", "") in _common_passwords():
        raise AccountError(_("This password is one of the most commonly used: choose another."))


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not a password of anyone's")


def authenticate(email: str, password: str) -> User | None:
    """The enabled user with these credentials, or None (the same answer whichever part is wrong).

    An unknown address costs one password hash too, so the answer's time does not say whether it exists.
    """
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.is_enabled:
        return None
    user.last_login_at = utcnow()
    return user


def login_allowed(email: str, client: str) -> bool:
    """False while the address or the client has failed to sign in too often (each limit's window)."""
    return not (
        exhausted("login-account", LOGIN_LIMIT_ACCOUNT, email) or exhausted("login-client", LOGIN_LIMIT_CLIENT, client)
    )


def login_failed(email: str, client: str) -> None:
    allow("login-account", LOGIN_LIMIT_ACCOUNT, email)
    allow("login-client", LOGIN_LIMIT_CLIENT, client)
