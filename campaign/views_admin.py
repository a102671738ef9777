"""The organiser's pages: campaigns, their targets and messages, preview, publishing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.permissions import current_organisation_id, editor_required
from campaign.actions import campaign_stats
from campaign.forms import CampaignForm, ConfirmForm, MessageForm
from campaign.labels import status_label
from campaign.lookups import campaign_or_404
from campaign.models import Campaign, CampaignStatus, Message
from campaign.rendering import PLACEHOLDERS, RenderError
from campaign.services import (
    SAMPLE_TARGET,
    SOCIAL_NETWORKS,
    TRANSITIONS,
    CampaignError,
    change_status,
    check_body,
    delete_message,
    publish_problems,
    save_campaign,
    save_message,
)
from campaign.targets import campaign_text, eligible_recipients, target_context, variant_text
from channels import LengthCheck, Network, check_length
from extensions import db
from recipients.forms import TargetFilterForm
from recipients.models import Recipient
from recipients.services import reach_counts
from recipients.views import filter_from_args

bp = Blueprint("campaign_admin", __name__, url_prefix="/admin")

EMPTY_VARIANT_SLOTS = 2
PREVIEW_TARGETS = 3


def _message_or_404(campaign: Campaign, message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None or message.campaign_id != campaign.id:
        abort(404)
    return message


@dataclass(frozen=True)
class PreviewCell:
    """One variant for one target on one network: its text and length, or why there is none."""

    network: Network
    text: str = ""
    error: str = ""
    length: LengthCheck | None = None


def _naive(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=None) if value else None


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


@bp.route("/")
@login_required
def index() -> str:
    campaigns = db.session.scalars(
        select(Campaign)
        .where(Campaign.organisation_id == current_organisation_id())
        .order_by(Campaign.created_at.desc())
    ).all()
    return render_template("campaign/index.html", campaigns=campaigns)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@editor_required
def new() -> Response | str:
    form = CampaignForm(data={"networks": [n.value for n in Network], "language": "fr"})
    return _save_campaign_form(form, Campaign(organisation_id=current_organisation_id()))


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(campaign_id: int) -> Response | str:
    campaign = campaign_or_404(campaign_id)
    form = CampaignForm(obj=campaign) if request.method == "GET" else CampaignForm()
    if request.method == "GET":
        form.starts_at.data, form.ends_at.data = _naive(campaign.starts_at), _naive(campaign.ends_at)
    return _save_campaign_form(form, campaign)


def _save_campaign_form(form: CampaignForm, campaign: Campaign) -> Response | str:
    if form.validate_on_submit():
        try:
            save_campaign(
                campaign,
                title=form.title.data.strip(),
                slug=form.slug.data or "",
                cause=form.cause.data.strip(),
                language=form.language.data,
                hashtags=form.hashtags.data.strip(),
                link=form.link.data or "",
                networks=list(form.networks.data or []),
                starts_at=_aware(form.starts_at.data),
                ends_at=_aware(form.ends_at.data),
            )
        except CampaignError as exc:
            db.session.rollback()
            form.slug.errors = [*form.slug.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("Campaign saved."), "success")
            return redirect(url_for(".show", campaign_id=campaign.id))
    return render_template("campaign/edit.html", form=form, campaign=campaign)


@bp.route("/campaigns/<int:campaign_id>")
@login_required
def show(campaign_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    recipients = eligible_recipients(campaign)
    return render_template(
        "campaign/show.html",
        campaign=campaign,
        stats=campaign_stats(campaign),
        reach=reach_counts(recipients),
        target_total=len(recipients),
        problems=publish_problems(campaign, recipients) if campaign.status is not CampaignStatus.ENDED else [],
        confirm=ConfirmForm(),
        allowed={status.value for status in TRANSITIONS[campaign.status]},
    )


@bp.route("/campaigns/<int:campaign_id>/status", methods=["POST"])
@editor_required
def status(campaign_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    form = ConfirmForm()
    wanted = request.form.get("status", "")
    if not form.validate_on_submit() or wanted not in CampaignStatus._value2member_map_:
        abort(400)
    try:
        change_status(campaign, CampaignStatus(wanted))
    except CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("The campaign is now %(status)s.", status=status_label(campaign.status)), "success")
    return redirect(url_for(".show", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/targets", methods=["GET", "POST"])
@editor_required
def targets(campaign_id: int) -> Response | str:
    campaign = campaign_or_404(campaign_id)
    form = TargetFilterForm(
        data={
            "recipient_list": str(campaign.recipient_list_id or ""),
            "role": campaign.filter_role.value if campaign.filter_role else "",
            "group": campaign.filter_group,
            "department": campaign.filter_department,
            "network": campaign.filter_network.value if campaign.filter_network else "",
        }
    )
    chosen = filter_from_args(campaign.organisation_id, form)
    if form.validate_on_submit():
        campaign.recipient_list_id = chosen.recipient_list_id
        campaign.filter_role = chosen.role
        campaign.filter_group = chosen.group_name
        campaign.filter_department = chosen.department
        campaign.filter_network = chosen.network
        save_campaign(campaign)
        db.session.commit()
        flash(_("Targets saved."), "success")
        return redirect(url_for(".targets", campaign_id=campaign.id))
    recipients = eligible_recipients(campaign)
    return render_template(
        "campaign/targets.html",
        campaign=campaign,
        form=form,
        recipients=recipients[:200],
        total=len(recipients),
        reach=reach_counts(recipients),
    )


@bp.route("/campaigns/<int:campaign_id>/messages/new", methods=["GET", "POST"])
@editor_required
def new_message(campaign_id: int) -> Response | str:
    return _message_form(campaign_or_404(campaign_id), None)


@bp.route("/campaigns/<int:campaign_id>/messages/<int:message_id>", methods=["GET", "POST"])
@editor_required
def edit_message(campaign_id: int, message_id: int) -> Response | str:
    campaign = campaign_or_404(campaign_id)
    return _message_form(campaign, _message_or_404(campaign, message_id))


def _message_form(campaign: Campaign, message: Message | None) -> Response | str:
    if request.method == "GET":
        active = [v for v in message.variants if v.is_active] if message else []
        data: dict[str, object] = {
            "label": message.label if message else "",
            "variants": [v.body for v in active],
            "email_subject": message.email_subject if message else "",
            "email_body": message.email_body if message else "",
        }
        for network, name in MessageForm.OWN_TEXTS.items():
            data[name] = [(v.texts or {}).get(network.value, "") for v in active]
        form = MessageForm(data=data)
        for _slot in range(EMPTY_VARIANT_SLOTS):
            form.variants.append_entry("")
        for name in MessageForm.OWN_TEXTS.values():
            while len(getattr(form, name).entries) < len(form.variants.entries):
                getattr(form, name).append_entry("")
    else:
        form = MessageForm()
    if form.validate_on_submit():
        try:
            saved = save_message(
                campaign,
                message,
                label=form.label.data,
                bodies=form.variants.data,
                texts=form.own_texts(),
                email_subject=form.email_subject.data or "",
                email_body=form.email_body.data or "",
            )
        except CampaignError as exc:
            db.session.rollback()
            form.variants.errors = [str(exc)]
        else:
            db.session.commit()
            flash(_("Message saved."), "success")
            return redirect(url_for(".preview", campaign_id=campaign.id, message=saved.id))
    own = {network: getattr(form, name) for network, name in MessageForm.OWN_TEXTS.items()}
    return render_template(
        "campaign/message.html",
        campaign=campaign,
        message=message,
        form=form,
        placeholders=PLACEHOLDERS,
        own=[(network, own[network]) for network in campaign.enabled_networks if network in own],
    )


@bp.route("/campaigns/<int:campaign_id>/messages/<int:message_id>/delete", methods=["POST"])
@editor_required
def remove_message(campaign_id: int, message_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    delete_message(_message_or_404(campaign, message_id))
    db.session.commit()
    flash(_("Message removed."), "success")
    return redirect(url_for(".show", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/length", methods=["POST"])
@login_required
def length(campaign_id: int) -> Response | tuple[Response, int]:
    """The live counter: a variant's problems and its length on each network, by the server's rules."""
    campaign = campaign_or_404(campaign_id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        return jsonify(error=_("Send JSON with a text field.")), 400
    text = payload["text"][:5000]
    targets = [target_context(r, campaign.language) for r in eligible_recipients(campaign)] or [SAMPLE_TARGET]
    sample = targets[0]
    lengths = []
    social = [n for n in campaign.enabled_networks if n in SOCIAL_NETWORKS]
    networks = [n for n in social if n.value == payload.get("network")] or social  # a network's own text
    for network in networks:
        try:
            rendered = campaign_text(campaign, text, sample, network)
        except RenderError:
            continue
        lengths.append(check_length(network, rendered).as_dict())
    problems = check_body(campaign, text, targets=targets, networks=networks) if text.strip() else []
    return jsonify(problems=problems, lengths=lengths, target=sample.name)


@bp.route("/campaigns/<int:campaign_id>/preview")
@login_required
def preview(campaign_id: int) -> str:
    """Every variant against chosen targets, with its length on each network."""
    campaign = campaign_or_404(campaign_id)
    recipients = eligible_recipients(campaign)
    chosen_ids = {int(v) for v in request.args.getlist("target") if v.isdigit()}
    chosen = [r for r in recipients if r.id in chosen_ids] or _preview_defaults(recipients)
    variants = [(m, n, v) for m in campaign.messages for n, v in enumerate((v for v in m.variants if v.is_active), 1)]
    rows = []
    for message, number, variant in variants:
        for recipient in chosen:
            context = target_context(recipient, campaign.language)
            cells = []
            for network in campaign.enabled_networks:
                if not recipient.handle(network):
                    cells.append(PreviewCell(network))
                    continue
                try:
                    text = variant_text(campaign, variant, context, network)
                except RenderError as exc:
                    cells.append(PreviewCell(network, error=str(exc)))
                    continue
                cells.append(PreviewCell(network, text=text, length=check_length(network, text)))
            rows.append((message, number, recipient, cells))
    return render_template("campaign/preview.html", campaign=campaign, recipients=recipients, chosen=chosen, rows=rows)


def _preview_defaults(recipients: list[Recipient]) -> list[Recipient]:
    """The targets with the longest names: the ones most likely to push a text over a limit."""
    return sorted(recipients, key=lambda r: len(r.name) + len(r.constituency), reverse=True)[:PREVIEW_TARGETS]
