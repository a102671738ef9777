"""The organisation's admins: its settings (with what the next retention run removes), and the supporters'
requests that arrived another way (a letter, an e-mail to the privacy contact), handled by address."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from accounts import audit
from accounts.audit import Act
from accounts.forms import SettingsForm
from accounts.organisations import Settings, update_settings
from accounts.permissions import admin_required
from accounts.services import AccountError
from database import utcnow
from extensions import db
from privacy import requests
from privacy.erasure import erase
from privacy.forms import StaffRequestForm
from privacy.readable import download
from privacy.retention import plan
from privacy.subject import Subject, collect, is_empty
from scheduler.dispatch import notify

bp = Blueprint("privacy_admin", __name__, url_prefix="/admin")


@bp.route("/organisation", methods=["GET", "POST"])
@admin_required
def settings() -> Response | str:
    organisation = current_user.organisation
    form = SettingsForm(obj=organisation)
    if form.validate_on_submit():
        chosen = Settings(**{name: form[name].data for name in Settings.__dataclass_fields__})
        try:
            changed = update_settings(organisation, chosen, by=current_user)
        except AccountError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Settings saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for(".settings"))
    return render_template(
        "privacy/settings.html", form=form, organisation=organisation, next_run=plan(organisation, utcnow())
    )


@bp.route("/privacy-requests", methods=["GET", "POST"])
@admin_required
def staff_request() -> Response | str:
    """Look an address up; send the person their link, download what is held, or erase it. Every step is logged."""
    form = StaffRequestForm()
    email = requests.normalise(form.email.data or "") if form.validate_on_submit() else None
    held = None
    if email:
        organisation = current_user.organisation
        subject = Subject(emails=frozenset([email]), organisation_id=organisation.id)
        action = request.form.get("action", "look")
        digest = audit.address_digest(email)
        if action == "erase":
            erased = erase(subject, utcnow())
            audit.record(
                Act.DATA_ERASURE,
                organisation_id=organisation.id,
                actor=current_user,
                subject=digest,
                detail=f"subscriptions={erased.subscriptions}",
            )
            db.session.commit()
            flash(_("Erased: %(count)s subscription(s) tied to this address.", count=erased.subscriptions), "success")
            return redirect(url_for(".staff_request"))
        if action == "send":
            delivery = requests.request_link(email, organisation, utcnow())
            audit.record(
                Act.DATA_ACCESS, organisation_id=organisation.id, actor=current_user, subject=digest, detail="link"
            )
            db.session.commit()
            notify(current_app._get_current_object(), delivery.id)  # type: ignore[attr-defined]
            flash(_("A link to their data is on its way to %(email)s.", email=email), "success")
            return redirect(url_for(".staff_request"))
        held = collect(subject)
        if action == "download":
            audit.record(
                Act.DATA_ACCESS, organisation_id=organisation.id, actor=current_user, subject=digest, detail="download"
            )
            db.session.commit()
            return download(held, "supporter-data.json")
    return render_template(
        "privacy/staff_request.html", form=form, email=email, held=held, empty=held is not None and is_empty(held)
    )
