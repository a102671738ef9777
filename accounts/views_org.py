"""The organisation's audit log for its admins, and the instance admin's page of organisations."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from accounts import audit, staff
from accounts.forms import ROLE_NAMES, OrganisationForm
from accounts.models import AuditEvent, Role
from accounts.organisations import all_organisations, create_organisation
from accounts.permissions import admin_required, current_organisation_id, instance_admin_required
from accounts.services import AccountError, find_user
from database import parse_id, utcnow
from extensions import db
from scheduler.dispatch import notify

bp = Blueprint("organisation", __name__, url_prefix="/admin")


def _day(value: str | None) -> datetime | None:
    try:
        return datetime.combine(datetime.strptime(value or "", "%Y-%m-%d").date(), time(), tzinfo=UTC)
    except ValueError:
        return None


@bp.route("/audit")
@admin_required
def audit_log() -> str:
    """Who did what, newest first, filtered by action, person and days (GET: it changes nothing)."""
    since, until = _day(request.args.get("since")), _day(request.args.get("until"))
    chosen = audit.Filter(
        action=request.args.get("action", "") if request.args.get("action", "") in audit.LABELS else "",
        user_id=parse_id(request.args.get("user")),
        since=since,
        until=until + timedelta(days=1) if until else None,
    )
    page = max(1, min(parse_id(request.args.get("page")) or 1, 10_000))
    rows, total = audit.events(current_organisation_id(), chosen, page=page)
    return render_template(
        "accounts/audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // audit.PAGE_SIZE)),
        chosen=chosen,
        since=request.args.get("since", "") if since else "",
        until=request.args.get("until", "") if until else "",
        actions=[(act.value, str(label)) for act, label in audit.LABELS.items()],
        members=staff.members(current_user.organisation),
        label=audit.label,
        detail=_detail,
    )


def _detail(row: AuditEvent) -> str:
    """A line's detail as the reader reads it: roles in their language (the log keeps their codes)."""
    if row.action in (audit.Act.STAFF_INVITED, audit.Act.ROLE_CHANGED):
        words = {role.value: str(name) for role, name in ROLE_NAMES.items()}
        return " ".join(words.get(part, part) for part in row.detail.split(" "))
    return row.detail


@bp.route("/instance", methods=["GET", "POST"])
@instance_admin_required
def instance() -> Response | str:
    """The instance's organisations; a new one, whose first admin is invited by e-mail."""
    form = OrganisationForm()
    if form.validate_on_submit():
        now = utcnow()
        email = (form.admin_email.data or "").strip().lower()
        try:
            if find_user(email) is not None:
                raise AccountError(_("This address already has an account."))
            organisation = create_organisation(form.name.data or "", by=current_user, now=now)
            delivery = staff.invite(organisation, email, Role.ADMIN, by=current_user, now=now)
        except AccountError as exc:
            db.session.rollback()
            form.name.errors = [str(exc)]
        else:
            db.session.commit()
            notify(current_app._get_current_object(), delivery.id)  # type: ignore[attr-defined]
            flash(
                _("%(name)s is created; %(email)s is invited as its admin.", name=organisation.name, email=email),
                "success",
            )
            return redirect(url_for(".instance"))
    return render_template("accounts/instance.html", form=form, organisations=all_organisations())
