"""The analysts' pages: the organisation's overview, a campaign's and a wave's dashboards, their exports.

Every staff role reads them; none of them shows a supporter (no e-mail, handle or browser id). The
one export with personal data, the subscribers who agreed to share their address, is for organisers.
"""

from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import DateField, Form
from wtforms.validators import Optional

from accounts import audit
from accounts.audit import Act
from accounts.permissions import current_organisation_id, editor_required
from analytics import charts
from analytics.coverage import SORTS, coverage
from analytics.exports import (
    CONSENT_BASIS,
    SUBSCRIBER_HEADER,
    as_dict,
    consenting_subscribers,
    count_consenting,
    csv_rows,
    to_csv,
)
from analytics.figures import Scope, figures
from analytics.labels import mode_label, problem_label
from analytics.overview import overview
from campaign.actions import counted_actions
from campaign.fold import freshness
from campaign.lookups import campaign_or_404, wave_or_404
from campaign.models import Campaign, Wave
from database import utcnow
from extensions import db

bp = Blueprint("analytics", __name__, url_prefix="/admin")


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)  # a day past 9999-12-31 would overflow


class RangeForm(Form):
    """The dashboard's optional range of days (GET, so no CSRF token: it changes nothing)."""

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])

    def validate(self, extra_validators: object = None) -> bool:
        if not super().validate():
            return False
        for field in (self.start, self.end):
            if field.data and not FIRST_DAY <= field.data <= LAST_DAY:
                field.errors = [_("Choose a day between %(first)s and %(last)s.", first=FIRST_DAY, last=LAST_DAY)]
                return False
        if self.start.data and self.end.data and self.end.data < self.start.data:
            self.end.errors = [_("The range ends before it starts.")]
            return False
        return True


def _range() -> tuple[RangeForm, date | None, date | None]:
    form = RangeForm(request.args)
    if request.args and not form.validate():
        return form, None, None
    return form, form.start.data, form.end.data


def _sort() -> tuple[str, bool]:
    sort = request.args.get("sort", "actions")
    return (sort if sort in SORTS else "actions"), request.args.get("dir", "desc") != "asc"


@bp.route("/analytics")
@login_required
def organisation() -> str:
    found = overview(current_organisation_id())
    chart = charts.bars((line.title, line.actions) for line in found.campaigns)
    return render_template("analytics/overview.html", overview=found, chart=chart, freshness=freshness(utcnow()))


def _dashboard(campaign: Campaign, wave: Wave | None) -> str:
    form, start, end = _range()
    sort, descending = _sort()
    scope = Scope(campaign.id, wave.id if wave else None, start, end, zone=current_app.config["TIMEZONE"])
    found = figures(scope)
    cover = coverage(scope, sort=sort, descending=descending)
    funnel = found.funnel
    behind = wave is None and counted_actions(campaign) != sum(c.actions for c in found.by_mode) and not scope.has_range
    return render_template(
        "analytics/dashboard.html",
        campaign=campaign,
        wave=wave,
        form=form,
        figures=found,
        coverage=cover,
        behind=behind,
        freshness=freshness(utcnow()),
        sort=sort,
        descending=descending,
        mode_label=mode_label,
        problem_label=problem_label,
        charts={
            "funnel": charts.bars(
                [
                    (_("Visits"), funnel.visits),
                    (_("Targets shown"), funnel.shown),
                    (_("Clicks"), funnel.clicks),
                    (_("Posts"), funnel.posts),
                    (_("Confirmed posts"), funnel.confirmed),
                ]
            ),
            "network": charts.bars((c.label, c.actions) for c in found.by_network),
            "mode": charts.bars((mode_label(c.key), c.actions) for c in found.by_mode),
            "variant": charts.bars((c.label, c.actions) for c in found.by_variant),
            "day": charts.bars((c.label, c.actions) for c in found.by_day),
            "hour": charts.bars((c.label, c.actions) for c in found.by_hour),
            "new": charts.bars((c.label, c.actions) for c in found.supporters.new_by_day),
            "distribution": charts.bars((c.label, c.actions) for c in cover.distribution),
            "group": charts.bars((s.key, s.reached, f"/ {s.targets} ({s.percent} %)") for s in cover.by_group),
            "department": charts.bars(
                (s.key, s.reached, f"/ {s.targets} ({s.percent} %)") for s in cover.by_department
            ),
        },
    )


@bp.route("/campaigns/<int:campaign_id>/analytics")
@login_required
def campaign_dashboard(campaign_id: int) -> str:
    return _dashboard(campaign_or_404(campaign_id), None)


@bp.route("/campaigns/<int:campaign_id>/waves/<int:wave_id>/analytics")
@login_required
def wave_dashboard(campaign_id: int, wave_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    return _dashboard(campaign, wave_or_404(campaign, wave_id))


def _export(campaign: Campaign, wave: Wave | None, fmt: str) -> Response:
    form, start, end = _range()
    if form.errors:
        messages = [str(e) for errors in form.errors.values() for e in errors]
        return Response(json.dumps({"error": " ".join(messages)}), 400, mimetype="application/json")
    scope = Scope(campaign.id, wave.id if wave else None, start, end, zone=current_app.config["TIMEZONE"])
    found, cover = figures(scope), coverage(scope, sort="name", descending=False)
    name = f"{campaign.slug}-wave-{wave.id}" if wave else campaign.slug
    if fmt == "json":
        body, mimetype = json.dumps(as_dict(found, cover), ensure_ascii=False, indent=1), "application/json"
    else:
        body, mimetype = to_csv(csv_rows(found, cover)), "text/csv"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-analytics.{fmt}"'
    return response


@bp.route("/campaigns/<int:campaign_id>/analytics.<any(json, csv):fmt>")
@login_required
def campaign_export(campaign_id: int, fmt: str) -> Response:
    return _export(campaign_or_404(campaign_id), None, fmt)


@bp.route("/campaigns/<int:campaign_id>/waves/<int:wave_id>/analytics.<any(json, csv):fmt>")
@login_required
def wave_export(campaign_id: int, wave_id: int, fmt: str) -> Response:
    campaign = campaign_or_404(campaign_id)
    return _export(campaign, wave_or_404(campaign, wave_id), fmt)


@bp.route("/campaigns/<int:campaign_id>/subscribers.csv")
@editor_required
def subscribers_export(campaign_id: int) -> Response:
    """The subscribers who agreed, when they confirmed, that the organisers have their address."""
    campaign = campaign_or_404(campaign_id)
    count = count_consenting(campaign.id)
    audit.record(
        Act.EXPORT_PERSONAL,
        organisation_id=campaign.organisation_id,
        actor=current_user,
        subject=campaign.title,
        detail=f"subscribers={count}; consent: {CONSENT_BASIS}",
    )
    db.session.commit()
    response = Response(to_csv(consenting_subscribers(campaign.id), SUBSCRIBER_HEADER), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{campaign.slug}-subscribers.csv"'
    return response
