"""The links in our e-mails: confirm a subscription, unsubscribe (a page, or RFC 8058's one-click POST)."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from campaign.models import Campaign
from database import utcnow
from extensions import csrf, db
from waves.optin import confirm
from waves.optin import unsubscribe as end_subscription

bp = Blueprint("optin", __name__, url_prefix="/s")


@bp.route("/confirm/<token>")
def confirm_subscription(token: str) -> tuple[str, int] | str:
    subscription = confirm(token, utcnow())
    if subscription is None:
        return render_template(
            "waves/optin.html",
            title=_("This link does not work"),
            text=_("It is too old or incomplete. Ask again from the campaign's page."),
        ), 404
    db.session.commit()
    g.page_language = subscription.language  # the campaign's language, as the e-mail was
    return render_template(
        "waves/optin.html",
        title=_("Confirmed"),
        text=_("You will hear of this campaign's next waves at %(email)s.", email=subscription.email),
        campaign=_campaign_of(subscription.campaign_id),
    )


def _campaign_of(campaign_id: int) -> Campaign | None:
    """The campaign a subscription is to, for the link back to its page."""
    return db.session.get(Campaign, campaign_id)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # mail systems send the one-click POST without our form's token; the signed link is the proof
def unsubscribe(token: str) -> Response | tuple[str, int] | str:
    if request.method == "GET":
        return render_template("waves/unsubscribe.html", token=token)
    subscription = end_subscription(token, utcnow())
    if subscription is None:
        return render_template(
            "waves/optin.html",
            title=_("This link does not work"),
            text=_("It is incomplete. Copy the whole address from the e-mail."),
        ), 404
    db.session.commit()
    g.page_language = subscription.language
    return render_template(
        "waves/optin.html",
        title=_("Unsubscribed"),
        text=_("%(email)s will not hear of this campaign's waves any more.", email=subscription.email),
        campaign=_campaign_of(subscription.campaign_id),
    )
