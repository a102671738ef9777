"""The supporters' side of their rights, without an account: the privacy page of each organisation; what
is held about them, as a page and as JSON; erasure; each consent taken back; a link by e-mail."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Organisation
from clients import hashed_client
from database import utcnow
from extensions import db, limiter
from privacy import requests
from privacy.consents import ConsentType, standing, withdraw
from privacy.erasure import erase
from privacy.forms import EraseForm, RequestLinkForm
from privacy.readable import download, readable
from privacy.subject import collect, is_empty
from scheduler.dispatch import notify
from security import allow

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
PAGE_LIMIT = "60 per minute;600 per hour"  # per hashed client, on every page here (anonymous, all of them)
limiter.limit(PAGE_LIMIT)(bp)


def _organisation_or_404(slug: str) -> Organisation:
    organisation = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        abort(404)
    return organisation


@bp.route("/<slug>")
def policy(slug: str) -> str:
    """Who holds the data, why, for how long, how to ask."""
    organisation = _organisation_or_404(slug)
    return render_template("privacy/policy.html", organisation=organisation, form=RequestLinkForm(), public_page=True)


@bp.route("/<slug>/request", methods=["POST"])
def request_link(slug: str) -> Response | tuple[str, int]:
    """A link by e-mail. The page says the same whether or not the address holds anything."""
    organisation = _organisation_or_404(slug)
    form = RequestLinkForm()
    email = requests.normalise(form.email.data or "") if form.validate_on_submit() else None
    if email is None:
        proof_errors = form.altcha.errors if isinstance(form.altcha.errors, list) else []
        flash(str(proof_errors[0]) if proof_errors else _("Type the e-mail address you gave us."), "error")
        return render_template("privacy/policy.html", organisation=organisation, form=form, public_page=True), 400
    if not (
        allow("privacy-client", requests.REQUEST_LIMIT_CLIENT, hashed_client())
        and allow("privacy-address", requests.REQUEST_LIMIT_ADDRESS, email)
    ):
        flash(_("Too many requests for this address or from your connection. Try again tomorrow."), "error")
        return render_template("privacy/policy.html", organisation=organisation, form=form, public_page=True), 429
    delivery = requests.request_link(email, organisation, utcnow())
    db.session.commit()
    notify(current_app._get_current_object(), delivery.id)  # type: ignore[attr-defined]
    flash(_("A link is on its way to %(email)s. It works once, for 24 hours.", email=email), "success")
    return redirect(url_for(".policy", slug=slug))


@bp.route("/link/<token>")
def follow_link(token: str) -> Response | tuple[str, int]:
    row = requests.follow(token, utcnow())
    if row is None:
        return render_template("privacy/link_invalid.html", public_page=True), 410
    requests.open_in_browser(row.email)
    db.session.commit()
    return redirect(url_for(".mine"))


@bp.route("/me")
def mine() -> str:
    """What this browser (and the addresses proven in it) holds, with every consent and the erasure button."""
    subject = requests.browser_subject()
    held = collect(subject) if subject else {}
    return render_template(
        "privacy/mine.html",
        held=held,
        empty=is_empty(held) if held else True,
        consents=standing(subject) if subject else [],
        emails=sorted(subject.emails),
        erase_form=EraseForm(),
        readable=readable,
        public_page=True,
    )


@bp.route("/me.json")
def mine_json() -> Response:
    subject = requests.browser_subject()
    return download(collect(subject) if subject else {}, "porte-voix-my-data.json")


@bp.route("/me/withdraw/<kind>/<int:row_id>", methods=["POST"])
def withdraw_consent(kind: str, row_id: int) -> Response:
    try:
        type_ = ConsentType(kind)
    except ValueError:
        abort(404)
    if withdraw(requests.browser_subject(), type_, row_id, utcnow()):
        db.session.commit()
        flash(_("Done: that consent is withdrawn."), "success")
    else:
        flash(_("Nothing to withdraw there any more."), "info")
    return redirect(url_for(".mine"))


@bp.route("/me/erase", methods=["POST"])
def erase_mine() -> Response | tuple[str, int]:
    form = EraseForm()
    if not form.validate_on_submit():
        flash(_("Tick the box to confirm the erasure."), "error")
        return redirect(url_for(".mine"))
    subject = requests.browser_subject()
    erase(subject, utcnow())
    db.session.commit()
    requests.forget_browser()
    flash(_("Your data is erased. What you did for the campaigns now counts only as anonymous figures."), "success")
    return redirect(url_for(".mine"))
