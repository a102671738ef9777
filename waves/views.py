"""The organiser's wave pages: the timeline, the form, pause, resume, cancel, and the live page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from accounts import audit
from accounts.audit import Act
from accounts.permissions import editor_required
from campaign.forms import ConfirmForm
from campaign.lookups import campaign_or_404, wave_or_404
from campaign.models import Campaign, CampaignStatus, Wave, WaveStatus
from campaign.offer import wave_target_ids
from channels import Network
from channels.errors import ChannelError
from database import utcnow
from extensions import db
from i18n import to_local, to_utc
from recipients.labels import role_label
from recipients.models import TargetRole
from recipients.places import department_label, group_label
from recipients.services import TargetFilter
from waves.changes import preview_change
from waves.forms import WaveForm
from waves.life import cancel_wave, pause_wave, resume_wave
from waves.reminders import send_test_reminder
from waves.services import WaveError, schedule_wave, waves_of
from waves.stats import wave_progress
from waves.targets import campaign_values, wave_criteria

bp = Blueprint("campaign_waves", __name__, url_prefix="/admin/campaigns/<int:campaign_id>/waves")


def _zone() -> str:
    return str(current_app.config["TIMEZONE"])


@bp.route("")
@login_required
def index(campaign_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    waves = waves_of(campaign)
    now = utcnow()
    return render_template(
        "waves/waves.html",
        campaign=campaign,
        waves=waves,
        timeline=_timeline(waves),
        now=now,
        zone=_zone(),
        confirm=ConfirmForm(),
        campaign_paused=campaign.status is not CampaignStatus.LIVE,
    )


def _timeline(waves: list[Wave]) -> list[tuple[Wave, float, float]]:
    """Each wave's left offset and width on a bar spanning all of them, in percent."""
    shown = [w for w in waves if w.status.value != "cancelled"] or waves
    if not shown:
        return []
    start = min(w.opens_at for w in shown)
    span = max((max(w.closes_at for w in shown) - start).total_seconds(), 1.0)
    return [
        (
            w,
            100 * (w.opens_at - start).total_seconds() / span,
            max(1.5, 100 * (w.closes_at - w.opens_at).total_seconds() / span),
        )
        for w in shown
    ]


def _form(campaign: Campaign, wave: Wave | None) -> WaveForm:
    form = WaveForm(obj=None)
    form.messages.choices = [(m.id, m.label) for m in campaign.messages]
    form.networks.choices = [(n.value, n.label) for n in campaign.enabled_networks]
    present = set(campaign_values(campaign, "role"))
    form.role.choices = [(r.value, role_label(r)) for r in TargetRole if r.value in present]
    form.group_name.choices = [(g, group_label(g)) for g in campaign_values(campaign, "group_name")]
    form.department.choices = [(d, department_label(d)) for d in campaign_values(campaign, "department")]
    if request.method == "GET":
        if wave is not None:
            form.title.data = wave.title
            form.opens_at.data = to_local(wave.opens_at, _zone())
            form.closes_at.data = to_local(wave.closes_at, _zone())
            form.messages.data = list(wave.message_ids)
            form.networks.data = list(wave.networks)
            stored = TargetFilter.from_criteria(wave.target_criteria or {})
            form.role.data = [role.value for role in stored.roles]
            form.group_name.data = list(stored.groups)
            form.department.data = list(stored.departments)
            form.cap_per_hour.data = wave.cap_per_hour
            form.reminder_text.data = wave.reminder_text
        else:
            form.messages.data = [m.id for m in campaign.messages]
            form.networks.data = list(campaign.networks)
    return form


@bp.route("/new", methods=["GET", "POST"])
@editor_required
def new(campaign_id: int) -> Response | str:
    return _edit(campaign_or_404(campaign_id), None)


@bp.route("/<int:wave_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(campaign_id: int, wave_id: int) -> Response | str:
    campaign = campaign_or_404(campaign_id)
    return _edit(campaign, wave_or_404(campaign, wave_id))


def _edit(campaign: Campaign, wave: Wave | None) -> Response | str:
    form = _form(campaign, wave)
    running = wave is not None and wave.status in (WaveStatus.OPEN, WaveStatus.PAUSED)
    if running and wave is not None:
        form.opens_at.data = to_local(wave.opens_at, _zone())  # it has opened: that time is history
    change = None
    if form.validate_on_submit() and form.opens_at.data and form.closes_at.data:
        values = {
            "message_ids": form.messages.data or [],
            "networks": [Network(n) for n in form.networks.data or [] if n in Network._value2member_map_],
            "criteria": wave_criteria(
                [TargetRole(r) for r in form.role.data or [] if r in TargetRole._value2member_map_],
                [g for g in form.group_name.data or [] if g],
                [d for d in form.department.data or [] if d],
            ),
            "closes_at": to_utc(form.closes_at.data, _zone()),
        }
        if running and wave is not None and request.form.get("confirmed") != "1":
            change = preview_change(campaign, wave, **values)  # type: ignore[arg-type]
            return render_template(
                "waves/wave_form.html",
                campaign=campaign,
                wave=wave,
                form=form,
                zone=_zone(),
                change=change,
                running=running,
            )
        try:
            saved = schedule_wave(
                campaign,
                title=form.title.data or "",
                opens_at=to_utc(form.opens_at.data, _zone()),
                cap_per_hour=int(form.cap_per_hour.data or 0),
                reminder_text=form.reminder_text.data or "",
                now=utcnow(),
                wave=wave,
                **values,  # type: ignore[arg-type]
            )
        except WaveError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            audit.record(
                Act.WAVE_EDITED if wave is not None else Act.WAVE_SCHEDULED,
                organisation_id=campaign.organisation_id,
                actor=current_user,
                subject=f"{campaign.title} · {saved.title}",
            )
            db.session.commit()
            count = len(wave_target_ids(saved))
            flash(
                _("Wave “%(title)s” changed: %(count)s targets.", title=saved.title, count=count)
                if running
                else _("Wave “%(title)s” scheduled: %(count)s targets.", title=saved.title, count=count),
                "success",
            )
            return redirect(url_for(".index", campaign_id=campaign.id))
    return render_template(
        "waves/wave_form.html", campaign=campaign, wave=wave, form=form, zone=_zone(), running=running
    )


@bp.route("/<int:wave_id>/test-reminder", methods=["POST"])
@editor_required
def test_reminder(campaign_id: int, wave_id: int) -> Response:
    """The reminder as subscribers will read it, to the organiser's own address, before the wave opens."""
    campaign = campaign_or_404(campaign_id)
    wave = wave_or_404(campaign, wave_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    language = str(get_locale() or campaign.language)
    try:
        send_test_reminder(wave, to=current_user.email, language=language, now=utcnow())
    except ChannelError as exc:
        flash(_("The test could not be sent: %(reason)s", reason=exc.reason), "error")
    else:
        flash(_("The reminder was sent as a test to %(email)s.", email=current_user.email), "success")
    return redirect(url_for(".live", campaign_id=campaign.id, wave_id=wave.id))


@bp.route("/<int:wave_id>/<any(pause, resume, cancel):action>", methods=["POST"])
@editor_required
def move(campaign_id: int, wave_id: int, action: str) -> Response:
    campaign = campaign_or_404(campaign_id)
    wave = wave_or_404(campaign, wave_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    step = {"pause": pause_wave, "resume": resume_wave, "cancel": cancel_wave}[action]
    try:
        step(wave, utcnow())
    except WaveError as exc:
        db.session.commit()  # resuming a wave whose window ended closes it: keep that
        flash(str(exc), "error")
    else:
        act = {"pause": Act.WAVE_PAUSED, "resume": Act.WAVE_RESUMED, "cancel": Act.WAVE_CANCELLED}[action]
        audit.record(
            act,
            organisation_id=campaign.organisation_id,
            actor=current_user,
            subject=f"{campaign.title} · {wave.title}",
        )
        db.session.commit()
        flash(
            {
                "pause": _("The wave is paused."),
                "resume": _("The wave is open again."),
                "cancel": _("The wave is cancelled."),
            }[action],
            "success",
        )
    return redirect(url_for(".index", campaign_id=campaign.id))


@bp.route("/<int:wave_id>")
@login_required
def live(campaign_id: int, wave_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    wave = wave_or_404(campaign, wave_id)
    return render_template(
        "waves/wave_live.html",
        campaign=campaign,
        wave=wave,
        progress=wave_progress(wave, utcnow()),
        zone=_zone(),
        confirm=ConfirmForm(),
    )


@bp.route("/<int:wave_id>.json")
@login_required
def live_json(campaign_id: int, wave_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    wave = wave_or_404(campaign, wave_id)
    return jsonify(wave_progress(wave, utcnow()).to_json())
