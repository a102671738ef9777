"""A send link: what it signs (the target, variant and visit it was shown to), what it resolves to, and
whether its click counts. The routes that use it are in `campaign.views_public` and `views_posting`."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import exists, select
from werkzeug.wrappers import Response

from campaign.models import Action, CampaignStatus
from campaign.snapshot import PageTarget, PageVariant, Snapshot
from channels import Network
from clients import hashed_client
from extensions import db
from recipients.postcodes import normalise_postcode
from security import allow

SEND_LINK_MAX_AGE = 6 * 3600  # a page left open over lunch still sends; a link copied last week does not


def send_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="send-link-v2")


@dataclass(frozen=True)
class Chosen:
    """What a send link points at, checked: still a target, an active variant of this campaign, a network of it."""

    target: PageTarget
    variant: PageVariant
    network: Network
    visitor_id: str  # the visit the link was shown to

    def is_for(self, visitor: str) -> bool:
        return bool(self.visitor_id) and self.visitor_id == visitor

    @property
    def recipient(self) -> PageTarget:
        return self.target


def resolve_send_token(campaign: Snapshot, network: str, token: str) -> Chosen | Response:
    """The target, variant and network a signed send link names, or the redirect that explains why not.

    404 for a link we did not sign; a redirect to the campaign page when it expired or is no longer offered.
    """
    if campaign.status is not CampaignStatus.LIVE:
        flash(_("This campaign is not taking messages at the moment."), "error")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    try:
        campaign_id, recipient_id, variant_id, link_visitor = send_serializer().loads(token, max_age=SEND_LINK_MAX_AGE)
        chosen = Network(network)
    except SignatureExpired:
        flash(_("This page was open for a long time: here is the message again."), "info")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    except (BadSignature, ValueError, TypeError):
        abort(404)
    if not isinstance(recipient_id, int) or not isinstance(variant_id, int) or not isinstance(link_visitor, str):
        abort(404)
    if campaign_id != campaign.id:
        abort(404)
    target = campaign.targets.get(recipient_id)
    variant = campaign.variant(variant_id)  # active variants of this campaign only
    if target is None or variant is None or chosen not in campaign.enabled_networks:
        flash(_("This message is no longer offered. Here is the current one."), "error")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    if target.handle(chosen) is None:
        abort(404)
    return Chosen(target, variant, chosen, link_visitor)


def shown_text(campaign: Snapshot, chosen: Chosen) -> str:
    return campaign.text(chosen.variant, chosen.target, chosen.network) or ""


SIGNATURE_LENGTH = 120


def signed(letter: str, name: str, postcode: str) -> str:
    """The letter signed with what the supporter gave on the page: a name, a postcode (a deputy weighs
    constituents). Either may be empty."""
    lines = [" ".join(name.split())[:SIGNATURE_LENGTH], normalise_postcode(postcode)[:10]]
    signature = "\n".join(line for line in lines if line)
    return f"{letter}\n\n{signature}" if signature else letter


class Click(enum.Enum):
    COUNTS = "counts"  # a message a real visitor sent
    ALREADY = "already"  # this visit already wrote to this target on this network: a second press, not abuse
    REFUSED = "refused"  # a link replayed without the visit it was shown to, or over the click throttle


def click_verdict(campaign: Snapshot, chosen: Chosen, visitor: str) -> Click:
    """Whether a click counts: the link was shown to this visit, the visit has not already written to this
    target on this network (whatever its cookie says now), and its client is under the click throttle.
    A click that does not count still opens the composer: only the count is withheld.
    """
    if not chosen.is_for(visitor):
        return Click.REFUSED
    already = db.session.scalar(
        select(
            exists().where(
                Action.campaign_id == campaign.id,
                Action.visitor_id == visitor,
                Action.recipient_id == chosen.recipient.id,
                Action.network == chosen.network,
            )
        )
    )
    if already:
        return Click.ALREADY
    return Click.COUNTS if allow("click", current_app.config["CLICK_LIMIT"], hashed_client()) else Click.REFUSED
