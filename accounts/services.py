"""Staff accounts: creation and authentication."""

from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import Organisation, Role, User
from database import utcnow
from extensions import db

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """An account operation that cannot be done, with a reason to show."""


def get_or_create_organisation(name: str) -> Organisation:
    name = name.strip()
    if not name:
        raise AccountError("an organisation needs a name")
    organisation = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if organisation is None:
        organisation = Organisation(name=name)
        db.session.add(organisation)
        db.session.flush()
    return organisation


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(*, organisation: Organisation, email: str, name: str, password: str, role: Role) -> User:
    """Add a staff member. Raises AccountError on a taken e-mail or a short password."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an e-mail address: {email!r}")
    if find_user(email) is not None:
        raise AccountError(f"a user with the e-mail {email} already exists")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(organisation=organisation, email=email, name=name.strip() or email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The enabled user with these credentials, or None (the same answer whichever part is wrong)."""
    user = find_user(email)
    if user is None or not user.is_enabled or not user.check_password(password):
        return None
    user.last_login_at = utcnow()
    return user
