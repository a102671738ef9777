"""A campaign's life as its organiser moves it: publish, pause, end (a page that asks first), duplicate,
archive, delete a draft. Routes of the `campaign_admin` blueprint."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from accounts import audit
from accounts.audit import Act
from accounts.permissions import editor_required
from campaign.forms import ConfirmForm
from campaign.labels import status_label
from campaign.lookups import campaign_or_404
from campaign.models import LIVE_STATES, Campaign, CampaignStatus, Wave
from campaign.services import TRANSITIONS, CampaignError, change_status, delete_draft, duplicate_campaign, set_archived
from campaign.views_admin import bp
from extensions import db


def _confirmed(campaign_id: int) -> Campaign:
    """The organisation's campaign, for a button that changes it: 400 without the form's CSRF token."""
    campaign = campaign_or_404(campaign_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return campaign


@bp.route("/campaigns/<int:campaign_id>/status", methods=["POST"])
@editor_required
def status(campaign_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    form = ConfirmForm()
    wanted = request.form.get("status", "")
    if not form.validate_on_submit() or wanted not in CampaignStatus._value2member_map_:
        abort(400)
    if wanted == CampaignStatus.ENDED and request.form.get("confirmed") != "1":
        return redirect(url_for(".end", campaign_id=campaign.id))  # ending is final: it asks first
    was = campaign.status
    try:
        change_status(campaign, CampaignStatus(wanted))  # ending calls off its waves (`campaign_ended`)
    except CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        act = {
            CampaignStatus.LIVE: Act.CAMPAIGN_PUBLISHED if was is CampaignStatus.DRAFT else Act.CAMPAIGN_RESUMED,
            CampaignStatus.PAUSED: Act.CAMPAIGN_PAUSED,
            CampaignStatus.ENDED: Act.CAMPAIGN_ENDED,
        }.get(campaign.status)
        if act is not None and was is not campaign.status:
            audit.record(act, organisation_id=campaign.organisation_id, actor=current_user, subject=campaign.title)
        db.session.commit()
        flash(_("The campaign is now %(status)s.", status=status_label(campaign.status)), "success")
    return redirect(url_for(".show", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/end")
@editor_required
def end(campaign_id: int) -> Response | str:
    """What ending means, and the button that does it."""
    campaign = campaign_or_404(campaign_id)
    if CampaignStatus.ENDED not in TRANSITIONS[campaign.status]:
        return redirect(url_for(".show", campaign_id=campaign.id))
    waves = db.session.scalar(
        select(func.count()).select_from(Wave).where(Wave.campaign_id == campaign.id, Wave.status.in_(LIVE_STATES))
    )
    return render_template("campaign/end.html", campaign=campaign, confirm=ConfirmForm(), waves=waves or 0)


@bp.route("/campaigns/<int:campaign_id>/duplicate", methods=["POST"])
@editor_required
def duplicate(campaign_id: int) -> Response:
    campaign = _confirmed(campaign_id)
    copy = duplicate_campaign(campaign, title=_("%(title)s (copy)", title=campaign.title)[:200])
    db.session.commit()
    flash(_("A draft copy was made, with the same messages and targets. Rename it and check its address."), "success")
    return redirect(url_for(".edit", campaign_id=copy.id))


@bp.route("/campaigns/<int:campaign_id>/archive", methods=["POST"])
@editor_required
def archive(campaign_id: int) -> Response:
    campaign = _confirmed(campaign_id)
    wanted = request.form.get("archived") == "1"
    try:
        set_archived(campaign, wanted)
    except CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".show", campaign_id=campaign.id))
    db.session.commit()
    flash(_("Campaign archived.") if wanted else _("Campaign back among the current ones."), "success")
    return redirect(url_for(".index") if wanted else url_for(".show", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/delete", methods=["GET", "POST"])
@editor_required
def delete(campaign_id: int) -> Response | str:
    campaign = campaign_or_404(campaign_id)
    confirm = ConfirmForm()
    if request.method == "POST":
        if not confirm.validate_on_submit():
            abort(400)
        title = campaign.title
        try:
            delete_draft(campaign)
        except CampaignError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".show", campaign_id=campaign.id))
        db.session.commit()
        flash(_("Draft “%(title)s” deleted.", title=title), "success")
        return redirect(url_for(".index"))
    return render_template("campaign/delete.html", campaign=campaign, confirm=confirm)
