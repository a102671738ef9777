"""A staff member's own security: two-step sign-in, recovery codes, password, the sessions they are signed in on."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from accounts import audit, staff, twofactor
from accounts.audit import Act
from accounts.forms import ChangePasswordForm, ConfirmPasswordForm, EnrolForm
from accounts.services import AccountError
from accounts.sessions import end_session, sessions_of
from accounts.views import _safe_next
from database import utcnow
from extensions import db

bp = Blueprint("security", __name__, url_prefix="/account")


def _log(act: Act) -> None:
    """The audit line of a change the signed-in person made to their own account."""
    audit.record(act, organisation_id=current_user.organisation_id, actor=current_user, subject=current_user.email)


@bp.route("/")
@login_required
def index() -> str:
    return render_template(
        "accounts/security.html",
        sessions=sessions_of(current_user),
        current_key=current_user.login_nonce,
        codes_left=twofactor.recovery_codes_left(current_user) if current_user.has_two_factor else 0,
        password_form=ChangePasswordForm(),
        confirm_form=ConfirmPasswordForm(),
    )


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_setup() -> Response | str:
    """Scan the QR code (drawn here), type the code the app shows: the recovery codes appear, once."""
    if current_user.has_two_factor:
        return redirect(url_for(".index"))
    secret = session.get("totp_setup")
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session["totp_setup"] = twofactor.new_secret()
    form = EnrolForm()
    if form.validate_on_submit():
        codes = twofactor.enable(current_user, secret, form.code.data or "")
        if codes is None:
            form.code.errors = [_("This code does not match: check the time on your phone and type the newest code.")]
        else:
            _log(Act.TWO_FACTOR_ENABLED)
            db.session.commit()
            session.pop("totp_setup", None)
            return render_template(
                "accounts/recovery_codes.html", codes=codes, next=_safe_next(request.args.get("next"))
            )
    uri = twofactor.provisioning_uri(current_user, secret)
    return render_template(
        "accounts/two_factor.html",
        form=form,
        qr=twofactor.qr_svg(uri),
        secret=secret,
        next=_safe_next(request.args.get("next")),
        required=current_user.organisation.requires_two_factor,
    )


@bp.route("/two-factor/recovery-codes", methods=["POST"])
@login_required
def recovery_codes() -> Response | str:
    form = ConfirmPasswordForm()
    if not (
        current_user.has_two_factor and form.validate_on_submit() and current_user.check_password(form.password.data)
    ):
        flash(_("Type your password to make new recovery codes."), "error")
        return redirect(url_for(".index"))
    codes = twofactor.new_recovery_codes(current_user)
    _log(Act.RECOVERY_CODES)
    db.session.commit()
    return render_template("accounts/recovery_codes.html", codes=codes, next=url_for(".index"))


@bp.route("/two-factor/disable", methods=["POST"])
@login_required
def two_factor_disable() -> Response:
    form = ConfirmPasswordForm()
    if current_user.organisation.requires_two_factor:
        flash(_("Your organisation requires two-step sign-in: it cannot be turned off."), "error")
    elif form.validate_on_submit() and current_user.check_password(form.password.data):
        twofactor.disable(current_user)
        _log(Act.TWO_FACTOR_DISABLED)
        db.session.commit()
        flash(_("Two-step sign-in is off. A password alone now opens your account."), "info")
    else:
        flash(_("Wrong password: two-step sign-in stays on."), "error")
    return redirect(url_for(".index"))


@bp.route("/password", methods=["POST"])
@login_required
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            staff.change_password(
                current_user,
                form.current.data or "",
                form.password.data or "",
                keep=current_user.login_nonce,
                now=utcnow(),
            )
        except AccountError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            login_user(
                current_user._get_current_object()
            )  # this session carries the new version; every other one is signed out
            flash(_("Password changed. Your other sessions are signed out."), "success")
        return redirect(url_for(".index"))
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")
    return redirect(url_for(".index"))


@bp.route("/sessions/<key>/end", methods=["POST"])
@login_required
def end(key: str) -> Response:
    if end_session(current_user, key[:32], utcnow()):
        _log(Act.SESSION_ENDED)
        db.session.commit()
        flash(_("That session is signed out."), "success")
    return redirect(url_for(".index"))
