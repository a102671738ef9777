"""The organiser's pages: campaigns, their targets and messages, preview, publishing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from accounts.permissions import current_organisation_id, editor_required
from campaign.actions import campaign_stats
from campaign.forms import CampaignForm, ConfirmForm, MessageForm
from campaign.lookups import campaign_or_404
from campaign.models import Campaign, CampaignStatus, Message, TargetChange
from campaign.rendering import PLACEHOLDERS, RenderError
from campaign.services import (
    SAMPLE_TARGET,
    SOCIAL_NETWORKS,
    TRANSITIONS,
    CampaignError,
    check_body,
    delete_message,
    former_slugs,
    publish_problems,
    save_campaign,
    save_message,
)
from campaign.targets import (
    campaign_text,
    describe_targets,
    eligible_recipients,
    has_chosen_targets,
    target_context,
    target_filter,
    variant_text,
)
from channels import LengthCheck, Network, check_length
from database import parse_id
from extensions import db
from i18n import clock_name, to_local, to_utc
from recipients.forms import TargetFilterForm
from recipients.models import Recipient
from recipients.services import organisation_lists, reach_counts
from recipients.views import fill_filter_form, filter_from_args

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
    """A stored UTC moment as the organisation's wall clock, for a datetime-local field."""
    return to_local(value, current_app.config["TIMEZONE"]) if value else None


def _aware(value: datetime | None) -> datetime | None:
    """A wall-clock time typed on the organisation's clock, as UTC."""
    return to_utc(value, current_app.config["TIMEZONE"]) if value else None


@bp.route("/")
@login_required
def index() -> str:
    archived = request.args.get("archived") == "1"
    query = select(Campaign).where(Campaign.organisation_id == current_organisation_id())
    shelved = query.where(Campaign.archived_at.is_not(None))
    campaigns = db.session.scalars(
        (shelved if archived else query.where(Campaign.archived_at.is_(None))).order_by(Campaign.created_at.desc())
    ).all()
    archived_count = db.session.scalar(select(func.count()).select_from(shelved.subquery())) or 0
    return render_template("campaign/index.html", campaigns=campaigns, archived=archived, archived_count=archived_count)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@editor_required
def new() -> Response | str:
    form = CampaignForm(data={"networks": [n.value for n in Network], "language": current_user.organisation.language})
    lists = organisation_lists(current_organisation_id())
    form.recipient_list.choices = [("", _("No list: I choose filters next"))] + [
        (str(lst.id), f"{lst.name} ({count})") for lst, count in lists
    ]
    return _save_campaign_form(form, Campaign(organisation_id=current_organisation_id()))


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(campaign_id: int) -> Response | str:
    campaign = campaign_or_404(campaign_id)
    form = CampaignForm(obj=campaign) if request.method == "GET" else CampaignForm()
    del form.recipient_list  # the targets have their own page once the campaign exists
    if request.method == "GET":
        form.starts_at.data, form.ends_at.data = _naive(campaign.starts_at), _naive(campaign.ends_at)
    return _save_campaign_form(form, campaign)


def _save_campaign_form(form: CampaignForm, campaign: Campaign) -> Response | str:
    form.starts_at.description = form.ends_at.description = _("%(city)s time.", city=clock_name())
    creating = campaign.id is None
    if form.validate_on_submit():
        chosen: dict[str, object] = {}
        if creating:
            list_id = parse_id(form.recipient_list.data)
            valid = {int(value) for value, _label in form.recipient_list.choices if value}
            chosen["recipient_list_id"] = list_id if list_id in valid else None
        try:
            save_campaign(
                campaign,
                **chosen,
                title=(form.title.data or "").strip(),
                slug=form.slug.data or "",
                cause=(form.cause.data or "").strip(),
                language=form.language.data,
                hashtags=(form.hashtags.data or "").strip(),
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
            if creating and campaign.recipient_list_id is None:
                flash(_("Campaign created. Now choose who it writes to."), "success")
                return redirect(url_for(".targets", campaign_id=campaign.id))
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
        changes=db.session.scalars(
            select(TargetChange)
            .where(TargetChange.campaign_id == campaign.id)
            .order_by(TargetChange.created_at.desc(), TargetChange.id.desc())
            .limit(5)
        ).all(),
        chosen=describe_targets(campaign),
        former=former_slugs(campaign),
    )


@bp.route("/campaigns/<int:campaign_id>/targets", methods=["GET", "POST"])
@editor_required
def targets(campaign_id: int) -> Response | str:
    campaign = campaign_or_404(campaign_id)
    form = TargetFilterForm()
    if request.method == "GET":
        fill_filter_form(form, target_filter(campaign))
    chosen = filter_from_args(campaign.organisation_id, form)
    if form.validate_on_submit():
        if chosen.is_empty:
            form.recipient_list.errors = [
                _("Choose a list or at least one filter: a campaign aims at the targets you choose.")
            ]
        else:
            before = len(eligible_recipients(campaign))
            campaign.recipient_list_id = chosen.recipient_list_id
            campaign.target_criteria = {k: v for k, v in chosen.criteria().items() if k != "activity"}
            save_campaign(campaign)
            db.session.commit()
            after = len(eligible_recipients(campaign))
            flash(_("Targets saved: %(after)d (there were %(before)d).", after=after, before=before), "success")
            return redirect(url_for(".targets", campaign_id=campaign.id))
    recipients = eligible_recipients(campaign)
    return render_template(
        "campaign/targets.html",
        campaign=campaign,
        form=form,
        recipients=recipients[:200],
        total=len(recipients),
        reach=reach_counts(recipients),
        chosen=has_chosen_targets(campaign),
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
