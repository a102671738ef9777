"""Login and logout for staff."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from accounts.forms import LoginForm
from accounts.models import User
from accounts.services import authenticate, login_allowed, login_failed
from clients import hashed_client
from extensions import db, login

bp = Blueprint("accounts", __name__)

login.login_view = "accounts.login"
login.login_message = None  # the login page says it itself


@login.user_loader
def _load_user(user_id: str) -> User | None:
    """The user a session or remember-me cookie names, while its session version is still the user's."""
    user_part, _dot, rest = user_id.partition(".")
    version, _dot, nonce = rest.partition(".")
    if not (user_part.isdigit() and version.isdigit()) or len(user_part) > 18:
        return None
    user = db.session.get(User, int(user_part))
    if user is None or user.session_version != int(version):
        return None
    user.login_nonce = nonce
    return user


def _safe_next(target: str | None) -> str:
    """Only follow a `next` that stays on this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("campaign_admin.index")


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
            user.login_nonce = secrets.token_urlsafe(12)
            db.session.commit()
            session.clear()  # no session data from before the sign-in survives it (fixation)
            login_user(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")))
        login_failed(email, hashed_client())
        flash(_("Wrong e-mail or password."), "error")
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))
