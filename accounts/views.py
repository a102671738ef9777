"""Signing in and out: the password, the second step when the account has one, a forgotten password.

A password alone signs in only accounts without a second factor; with one, the session holds a pending
sign-in for five minutes, and the code page finishes it. An organisation that requires two-step sign-in
sends its members without one to set it up before any other page.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from accounts import staff, twofactor
from accounts.forms import CodeForm, ForgotForm, LoginForm, NewPasswordForm
from accounts.models import Role, User
from accounts.services import AccountError, authenticate, login_allowed, login_failed
from accounts.sessions import end_session, live_session, open_session
from clients import hashed_client
from database import utcnow
from extensions import db, login
from scheduler.dispatch import notify
from security import allow, exhausted

bp = Blueprint("accounts", __name__)

login.login_view = "accounts.login"
login.login_message = None  # the login page says it itself
STAFF_PATHS = ("/admin", "/account")
PENDING_SECONDS = 300  # a password accepted waits this long for its second step
# Pages a member who must set up two-step sign-in may still open.
ENROL_EXEMPT = {
    "accounts.logout",
    "accounts.login",
    "security.index",
    "security.two_factor_setup",
    "security.recovery_codes",
    "static",
}


@login.user_loader
def _load_user(user_id: str) -> User | None:
    """The user a session or remember-me cookie names, while its version is the user's and its session lives."""
    user_part, _dot, rest = user_id.partition(".")
    version, _dot, key = rest.partition(".")
    if not (user_part.isdigit() and version.isdigit()) or len(user_part) > 18:
        return None
    user = db.session.get(User, int(user_part))
    if user is None or user.session_version != int(version):
        return None
    row = live_session(user, key, utcnow())
    if row is None:
        return None
    if db.session.dirty:  # its last-seen time moved (once a minute): written now, before the page's work
        db.session.commit()
    user.login_nonce = key
    return user


def must_enrol(user: Any) -> bool:
    return bool(user.organisation.requires_two_factor and not user.has_two_factor)


def init_app(app: Flask) -> None:
    @app.before_request
    def _two_factor_required() -> Response | None:
        if (
            request.path.startswith(STAFF_PATHS)  # the supporters' pages never load a user for this
            and current_user.is_authenticated
            and (request.endpoint or "") not in ENROL_EXEMPT
            and must_enrol(current_user)
        ):
            flash(_("Your organisation asks every member to use two-step sign-in: set it up to go on."), "info")
            return redirect(url_for("security.two_factor_setup"))
        return None


def _safe_next(target: str | None) -> str:
    """Only follow a `next` that stays on this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("campaign_admin.index")


def finish_login(user: User, *, remember: bool, next_path: str) -> Response:
    """Open the session (a row, a cookie) for a user past every step of sign-in."""
    open_session(
        user,
        client=hashed_client(),
        user_agent=request.headers.get("User-Agent", ""),
        verified=True,
        now=utcnow(),
    )
    db.session.commit()
    session.clear()  # no session data from before the sign-in survives it (fixation)
    login_user(user, remember=remember)
    if must_enrol(user):
        return redirect(url_for("security.two_factor_setup"))
    if user.role is Role.ADMIN and not user.has_two_factor:
        flash(_("You are an admin: protect the organisation with two-step sign-in."), "info")
        return redirect(url_for("security.two_factor_setup", next=next_path))
    return redirect(next_path)


@bp.route("/login", methods=["GET", "POST"], endpoint="login")
def login_page() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("campaign_admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        if not login_allowed(email, hashed_client()):
            flash(_("Too many attempts. Wait a few minutes, then try again."), "error")
            return render_template("accounts/login.html", form=form), 429  # type: ignore[return-value]
        user = authenticate(email, form.password.data or "")
        if user is not None:
            next_path = _safe_next(request.args.get("next"))
            if user.has_two_factor:
                db.session.commit()
                session.clear()
                session["pending_login"] = {
                    "user": user.id,
                    "version": user.session_version,
                    "remember": bool(form.remember.data),
                    "next": next_path,
                    "until": int(time.time()) + PENDING_SECONDS,
                }
                return redirect(url_for("accounts.code"))
            return finish_login(user, remember=bool(form.remember.data), next_path=next_path)
        login_failed(email, hashed_client())
        flash(_("Wrong e-mail or password."), "error")
    return render_template("accounts/login.html", form=form)


def _pending_user() -> tuple[User, dict[str, Any]] | None:
    pending = session.get("pending_login")
    if not isinstance(pending, dict) or int(pending.get("until") or 0) < time.time():
        return None
    user = db.session.get(User, pending.get("user")) if isinstance(pending.get("user"), int) else None
    if user is None or not user.is_enabled or user.session_version != pending.get("version"):
        return None
    return user, pending


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> Response | str | tuple[str, int]:
    """The second step: a code from the authenticator app, or a recovery code; tries are throttled."""
    found = _pending_user()
    if found is None:
        session.pop("pending_login", None)
        flash(_("Sign in again: the second step waits five minutes at most."), "info")
        return redirect(url_for("accounts.login"))
    user, pending = found
    form = CodeForm()
    if form.validate_on_submit():
        client = hashed_client()
        limits = [
            ("totp-account", twofactor.CODE_LIMIT_ACCOUNT, str(user.id)),
            ("totp-client", twofactor.CODE_LIMIT_CLIENT, client),
        ]
        if any(exhausted(*limit) for limit in limits):
            form.code.errors = [_("Too many wrong codes. Wait a few minutes, then try again.")]
            return render_template("accounts/code.html", form=form), 429
        if twofactor.verify(user, form.code.data or ""):
            session.pop("pending_login", None)
            return finish_login(user, remember=bool(pending.get("remember")), next_path=str(pending.get("next")))
        for limit in limits:
            allow(*limit)
        db.session.rollback()
        form.code.errors = [_("This code is not the one expected (or it was used already).")]
    return render_template("accounts/code.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    end_session(current_user, current_user.login_nonce, utcnow())
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/login/forgot", methods=["GET", "POST"])
def forgot() -> Response | str | tuple[str, int]:
    """Ask for a reset link. The answer is the same, in the same time, whether or not the address exists."""
    form = ForgotForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        if not (
            allow("reset-client", staff.RESET_LIMIT_CLIENT, hashed_client())
            and allow("reset-address", staff.RESET_LIMIT_ADDRESS, email)
        ):
            flash(_("Too many requests. Wait an hour, then try again."), "error")
            return render_template("accounts/forgot.html", form=form), 429
        delivery = staff.request_reset(email, utcnow())
        db.session.commit()
        notify(current_app._get_current_object(), delivery.id)  # type: ignore[attr-defined]
        flash(
            _(
                "If an account uses this address, a link to choose a new password is on its way. "
                "It works for 30 minutes."
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form)


@bp.route("/login/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | str | tuple[str, int]:
    user = staff.user_from_reset_token(token)
    if user is None:
        return render_template("accounts/link_invalid.html", what="reset"), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            staff.reset_password(user, form.password.data or "", utcnow())
        except AccountError as exc:
            form.password.errors = [str(exc)]
        else:
            db.session.commit()
            flash(_("Your password is changed, and every session was signed out. Sign in with the new one."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form, user=user)
