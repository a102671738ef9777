"""An organisation's staff, for its admins: invite by e-mail, change roles, remove; the invitee's page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from accounts import staff
from accounts.forms import ROLE_NAMES, AcceptForm, InviteForm, RoleForm
from accounts.models import Invitation, Role, User
from accounts.permissions import admin_required, current_organisation_id
from accounts.services import AccountError
from database import utcnow
from extensions import db
from scheduler.dispatch import notify
from security import allow

bp = Blueprint("staff", __name__)


def _member_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.organisation_id != current_organisation_id():
        abort(404)
    return user


@bp.route("/admin/staff")
@admin_required
def index() -> str:
    organisation = current_user.organisation
    now = utcnow()
    return render_template(
        "accounts/staff.html",
        members=staff.members(organisation),
        invitations=staff.pending_invitations(organisation, now),
        now=now,
        invite_form=InviteForm(),
        role_form=RoleForm,
        role_names=ROLE_NAMES,
    )


@bp.route("/admin/staff/invite", methods=["POST"])
@admin_required
def invite() -> Response | tuple[str, int]:
    form = InviteForm()
    if form.validate_on_submit():
        if not allow("staff-invite", staff.INVITE_LIMIT, str(current_organisation_id())):
            flash(_("Too many invitations sent today. Try again tomorrow."), "error")
            return redirect(url_for(".index"))
        email = (form.email.data or "").strip().lower()
        try:
            delivery = staff.invite(
                current_user.organisation, email, Role(form.role.data), by=current_user, now=utcnow()
            )
        except AccountError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            notify(current_app._get_current_object(), delivery.id)  # type: ignore[attr-defined]
            flash(_("Invitation sent to %(email)s. The link works for 7 days.", email=email), "success")
        return redirect(url_for(".index"))
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")
    return redirect(url_for(".index"))


@bp.route("/admin/staff/invitations/<int:invitation_id>/revoke", methods=["POST"])
@admin_required
def revoke(invitation_id: int) -> Response:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != current_organisation_id():
        abort(404)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        staff.revoke_invitation(invitation, by=current_user, now=utcnow())
        db.session.commit()
        flash(_("Invitation to %(email)s withdrawn: its link no longer works.", email=invitation.email), "success")
    return redirect(url_for(".index"))


@bp.route("/admin/staff/<int:user_id>/role", methods=["POST"])
@admin_required
def change_role(user_id: int) -> Response:
    member = _member_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            changed = staff.change_role(member, Role(form.role.data), by=current_user, now=utcnow())
        except AccountError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        db.session.commit()
        if changed:
            if member.id == current_user.id:
                logout_user()
                flash(_("Your role changed: sign in again."), "info")
                return redirect(url_for("accounts.login"))
            flash(
                _(
                    "%(name)s is now %(role)s; their sessions were signed out.",
                    name=member.name,
                    role=ROLE_NAMES[member.role],
                ),
                "success",
            )
    return redirect(url_for(".index"))


@bp.route("/admin/staff/<int:user_id>/remove", methods=["POST"])
@admin_required
def remove(user_id: int) -> Response:
    member = _member_or_404(user_id)
    name = member.name
    try:
        staff.remove(member, by=current_user, now=utcnow())
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    db.session.commit()
    flash(_("%(name)s no longer has access: their sessions ended.", name=name), "success")
    return redirect(url_for(".index"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Response | str | tuple[str, int]:
    """The invitee chooses their name and password; the link is then spent."""
    now = utcnow()
    invitation = staff.invitation_from_token(token, now)
    if invitation is None:
        return render_template("accounts/link_invalid.html", what="invitation"), 410
    if current_user.is_authenticated:
        logout_user()
    form = AcceptForm()
    if form.validate_on_submit():
        try:
            staff.accept(invitation, name=form.name.data or "", password=form.password.data or "", now=now)
        except AccountError as exc:
            form.password.errors = [str(exc)]
        else:
            db.session.commit()
            flash(_("Welcome! Your account is ready: sign in with your address and new password."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/accept.html", form=form, invitation=invitation)
