"""Supporters' rights without an account: see, download, erase (the tallies unchanged), withdraw, ask by e-mail;
the retention job on a frozen clock."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from campaign import tallies
from campaign.models import Action, Campaign, CampaignStatus, CampaignTarget
from database import utcnow
from extensions import db
from privacy.retention import plan, run_retention
from sandbox.server import SandboxServer
from scheduler.models import Delivery, DeliveryState
from supporters.models import AccountState, SocialAccount
from tests.conftest import fold
from tests.test_posting_pages import SLUG, _post_form, _run_outbox, connect_x, posting_campaign
from tests.test_reminders import drain
from tests.test_supporter import _send_links
from waves.models import Subscription, SubscriptionState

TALLIES = [
    tallies.ActionTally,
    tallies.VisitTally,
    tallies.TargetTally,
    tallies.SupporterDay,
    tallies.ReachTally,
    tallies.PostMetric,
]


def figures(app: Flask) -> dict[str, Any]:
    """Every tally's rows (a supporter's row without its anonymous id: people are counted, not named)."""
    with app.app_context():
        found: dict[str, Any] = {}
        for model in TALLIES:
            columns = [c for c in model.__table__.columns if c.name not in ("fetched_at", "next_fetch_at")]
            found[model.__name__] = sorted(map(tuple, db.session.execute(select(*columns)).all()), key=repr)
        people = select(*[c for c in tallies.SupporterTally.__table__.columns if c.name != "visitor_id"])
        found["SupporterTally"] = sorted(map(tuple, db.session.execute(people).all()), key=repr)
        return found


def everything(app: Flask) -> str:
    """Every row of every table, as text (the erasure test looks for the supporter in it)."""
    with app.app_context():
        return "\n".join(
            repr(tuple(row)) for table in db.metadata.sorted_tables for row in db.session.execute(select(table)).all()
        ).lower()


@pytest.fixture
def campaign(make_org: Any, make_campaign: Any, sandbox: SandboxServer) -> Any:
    return posting_campaign(make_org, make_campaign, sandbox)


@pytest.fixture
def acted(app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer) -> dict[str, str]:
    """Camille connected X, posted through it, sent a compose link on Bluesky and subscribed; Dominique clicked too."""
    connect_x(client, "Camille")
    action, shown = _post_form(client.get(f"/c/{SLUG}").text, "x")
    assert client.post(action, data={"text": shown + " Signé Camille"}).status_code == 303
    _run_outbox(app)
    page = client.get(f"/c/{SLUG}").text
    client.get(_send_links(page)["bluesky"])
    client.post(f"/c/{SLUG}/subscribe", data={"email": "camille.dupont@exemple.fr", "share": "y"})
    other = app.test_client()
    other.get(_send_links(other.get(f"/c/{SLUG}").text)["x"])
    fold(app)
    with client.session_transaction() as session:
        vid = session["vid"]
    with app.app_context():
        account = db.session.scalars(select(SocialAccount)).one()
        return {"vid": vid, "remote_id": account.remote_id, "email": "camille.dupont@exemple.fr"}


def test_a_supporter_sees_and_downloads_what_is_held(client: FlaskClient, acted: dict[str, str]) -> None:
    page = client.get("/privacy/me?lang=en")
    assert "@Camille" in page.text and acted["email"] in page.text and "Signé Camille" in page.text
    held = client.get("/privacy/me.json").json
    assert [a["handle"] for a in held["connected_accounts"]] == ["Camille"]
    assert {a["mode"] for a in held["actions"]} == {"api", "link"}
    assert held["subscriptions"][0]["address_shared_with_organisers_at"]
    assert {c["kind"] for c in held["consents"]} >= {"connect", "post"}
    stranger = client.application.test_client()  # another browser sees none of it
    assert "We hold nothing" in stranger.get("/privacy/me?lang=en").text


def test_erasure_leaves_no_trace_and_every_figure_as_it_was(
    app: Flask,
    client: FlaskClient,
    campaign: Any,
    acted: dict[str, str],
    sandbox: SandboxServer,
) -> None:
    before = figures(app)
    response = client.post("/privacy/me/erase", data={"confirm": "y"})
    assert response.status_code == 302
    assert "Your data is erased" in client.get("/privacy/me?lang=en").text
    fold(app)
    assert figures(app) == before
    with app.app_context():
        tallies.rebuild(db.session.scalars(select(Campaign.id)).one())
        db.session.commit()
    assert figures(app) == before  # and the facts left behind still add up to them
    text = everything(app)
    for trace in ("camille", acted["vid"], acted["remote_id"].lower(), "exemple.fr"):
        assert trace not in text, trace
    with app.app_context():
        assert db.session.scalars(select(SocialAccount.state)).one() is AccountState.ERASED
        assert db.session.scalars(select(Subscription.state)).one() is SubscriptionState.ERASED
        assert len(db.session.scalars(select(Action)).all()) == 3  # Dominique's click is untouched
    with client.session_transaction() as session:
        assert "vid" not in session and "supporter" not in session
    assert client.post("/privacy/me/erase", data={"confirm": "y"}).status_code == 302  # twice: nothing to do
    assert figures(app) == before


def test_erasure_takes_a_post_from_its_worker(
    app: Flask,
    client: FlaskClient,
    campaign: Any,
    sandbox: SandboxServer,
) -> None:
    from scheduler import outbox

    connect_x(client, "Camille")
    action, shown = _post_form(client.get(f"/c/{SLUG}").text, "x")
    client.post(action, data={"text": shown})
    with app.app_context():
        [claimed] = outbox.claim(None, utcnow(), limit=10)  # a worker holds it
        db.session.commit()
        delivery_id = claimed.id
    client.post("/privacy/me/erase", data={"confirm": "y"})
    with app.app_context():
        delivery = db.session.get_one(Delivery, delivery_id)
        assert (delivery.state, delivery.text) == (DeliveryState.CANCELLED, "")
        outbox.process(delivery_id, app.extensions["porte_voix_outbox"])  # a late worker finds nothing to do
        assert db.session.get_one(Delivery, delivery_id).remote_url == ""
    assert sandbox.state.posts("x") == []


def test_each_consent_is_withdrawn_on_its_own(app: Flask, client: FlaskClient, acted: dict[str, str]) -> None:
    with app.app_context():
        subscription_id = db.session.scalars(select(Subscription.id)).one()
    client.post(f"/privacy/me/withdraw/sharing/{subscription_id}")
    with app.app_context():
        subscription = db.session.get_one(Subscription, subscription_id)
        assert subscription.shared_at is None and subscription.state is SubscriptionState.PENDING
        assert db.session.scalars(select(SocialAccount)).one().state is AccountState.CONNECTED
    stranger = app.test_client()
    assert stranger.post(f"/privacy/me/withdraw/subscription/{subscription_id}").status_code == 302
    with app.app_context():  # not theirs: unchanged
        assert db.session.get_one(Subscription, subscription_id).state is SubscriptionState.PENDING


def test_a_link_by_e_mail_opens_what_the_address_holds_once(
    app: Flask, client: FlaskClient, acted: dict[str, str], mailbox: SandboxServer
) -> None:
    visitor = app.test_client()  # another browser
    with app.app_context():
        slug = db.session.scalars(select(Campaign)).one().privacy_slug
    policy = visitor.get(f"/privacy/{slug}?lang=en")
    assert "Your data with" in policy.text
    known = visitor.post(f"/privacy/{slug}/request", data={"email": acted["email"]})
    unknown = visitor.post(f"/privacy/{slug}/request", data={"email": "personne@ailleurs.example"})
    assert (known.status_code, known.location) == (unknown.status_code, unknown.location)
    drain(app)
    mail = mailbox.state.mailbox(acted["email"])[-1]
    link = re.search(r"http://localhost(/privacy/link/\S+)", mail.text)
    assert link
    assert visitor.get(link.group(1)[:-2] + "zz").status_code == 410  # forged
    assert visitor.get(link.group(1)).status_code == 302
    page = visitor.get("/privacy/me?lang=en").text
    assert acted["email"] in page and "@Camille" not in page  # the address's subscriptions, not the browser's acts
    assert app.test_client().get(link.group(1)).status_code == 410  # used


def test_staff_handle_a_request_by_address_in_the_audit_log(app: Flask, acted: dict[str, str], make_user: Any) -> None:
    from accounts.models import AuditEvent, Organisation, Role
    from tests.conftest import login

    with app.app_context():
        organisation = db.session.scalars(select(Organisation)).one()
        db.session.expunge(organisation)
    staff = app.test_client()
    login(staff, make_user(organisation, Role.ADMIN))
    looked = staff.post("/admin/privacy-requests", data={"email": acted["email"], "action": "look"})
    assert "1 subscription is tied" in looked.text
    staff.post("/admin/privacy-requests", data={"email": acted["email"], "action": "erase"})
    with app.app_context():
        assert db.session.scalars(select(Subscription.state)).one() is SubscriptionState.ERASED
        logged = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.erasure")).one()
        assert acted["email"] not in logged.subject  # a keyed digest stands for the address


def test_retention_erases_quiet_supporters_of_ended_campaigns_on_time(
    app: Flask,
    client: FlaskClient,
    campaign: Any,
    acted: dict[str, str],
) -> None:
    from accounts.models import Organisation

    before = figures(app)
    now = utcnow()
    with app.app_context():
        db.session.execute(update(Campaign).values(status=CampaignStatus.ENDED))
        db.session.commit()
        organisation = db.session.scalars(select(Organisation)).one()
        assert plan(organisation, now + timedelta(days=35 * 30.44)).visitors == []  # within 36 months
        later = now + timedelta(days=37 * 30.44)
        assert acted["vid"] in plan(organisation, later).visitors
        assert plan(organisation, now + timedelta(days=29)).pending == []
        assert len(plan(organisation, now + timedelta(days=31)).pending) == 1  # never confirmed
        run_retention(later)
        assert plan(organisation, later).is_empty  # a second run has nothing left
        assert db.session.scalars(select(Subscription)).all() == []
        assert all(a.visitor_id.startswith("~") for a in db.session.scalars(select(Action)))
        assert db.session.scalars(select(SocialAccount.state)).one() is AccountState.ERASED
    assert figures(app) == before


def test_retention_keeps_each_thing_for_its_period_and_no_longer(
    app: Flask, make_org: Any, make_campaign: Any, make_user: Any
) -> None:
    from accounts.models import AuditEvent, Invitation, Organisation, Role, StaffSession
    from privacy.models import DataRequest
    from recipients.models import ImportRun, ImportState

    organisation = make_org()
    campaign = make_campaign(organisation)
    user = make_user(organisation, Role.ADMIN)
    now = utcnow()
    month = timedelta(days=30.44)
    with app.app_context():
        bounced = Subscription(campaign_id=campaign.id, email="rebond@exemple.fr", state=SubscriptionState.BOUNCED)
        bounced.bounced_at = now
        run = ImportRun(organisation_id=organisation.id, file_format="csv", source="an", data=b"nom\n", created_at=now)
        run.state = ImportState.CHECKED
        invitation = Invitation(
            organisation_id=organisation.id, email="x@exemple.fr", role=Role.ANALYST, nonce="n", expires_at=now
        )
        from campaign.models import Wave
        from waves.models import Reminder

        wave = Wave(campaign_id=campaign.id, title="V", opens_at=now, closes_at=now, message_ids=[], networks=[])
        asked_again = Subscription(campaign_id=campaign.id, email="revenu@exemple.fr", created_at=now)
        never = Subscription(campaign_id=campaign.id, email="jamais@exemple.fr", created_at=now)
        db.session.add_all([bounced, run, invitation, wave, asked_again, never])
        db.session.flush()
        db.session.add(Reminder(wave_id=wave.id, subscription_id=asked_again.id, seq=0))  # from an earlier time
        never_id, again_id = never.id, asked_again.id
        db.session.add(AuditEvent(organisation_id=organisation.id, action="staff.invited", created_at=now))
        db.session.add(
            DataRequest(
                organisation_id=organisation.id, email="y@exemple.fr", nonce="n", created_at=now, expires_at=now
            )
        )
        db.session.add(StaffSession(key="ended", user_id=user.id, created_at=now, last_seen_at=now, ended_at=now))
        db.session.commit()
        org = db.session.get_one(Organisation, organisation.id)
        within = {
            "bounced": plan(org, now + 12 * month).bounced,
            "imports": plan(org, now + timedelta(days=89)).imports,
            "invitations": plan(org, now + timedelta(days=29)).invitations,
            "audit": plan(org, now + 11 * month).audit_events,
            "requests": plan(org, now + 11 * month).data_requests,
        }
        assert within == {"bounced": [], "imports": [], "invitations": [], "audit": 0, "requests": 0}
        past = {
            "bounced": plan(org, now + 14 * month).bounced,
            "imports": plan(org, now + timedelta(days=91)).imports,
            "invitations": plan(org, now + timedelta(days=31)).invitations,
            "audit": plan(org, now + 13 * month).audit_events,
            "requests": plan(org, now + 13 * month).data_requests,
        }
        assert past == {
            "bounced": [bounced.id],
            "imports": [run.id],
            "invitations": [invitation.id],
            "audit": 1,
            "requests": 1,
        }
        run_retention(now + 14 * month)
        assert db.session.get_one(Subscription, bounced.id).email == f"erased-{bounced.id}"
        assert db.session.get(Subscription, never_id) is None  # never confirmed: gone
        kept = db.session.get_one(Subscription, again_id)  # its old reminder is still counted
        assert (kept.state, kept.email) == (SubscriptionState.ERASED, f"erased-{again_id}")
        assert db.session.scalars(select(Reminder)).one().subscription_id == again_id
        kept_run = db.session.get_one(ImportRun, run.id)
        assert (kept_run.data, kept_run.state) == (b"", ImportState.DISCARDED)
        assert db.session.get(Invitation, invitation.id) is None
        assert db.session.scalars(select(DataRequest)).all() == []
        assert db.session.get(StaffSession, "ended") is None
        assert db.session.scalars(select(AuditEvent.action)).all() == ["privacy.retention"]  # the run, logged


def test_an_expired_data_link_changes_nothing(app: Flask, make_org: Any, mailbox: SandboxServer) -> None:
    organisation = make_org()
    with app.app_context():
        slug = db.session.get_one(type(organisation), organisation.id).slug
    visitor = app.test_client()
    visitor.post(f"/privacy/{slug}/request", data={"email": "z@exemple.fr"})
    drain(app)
    link = re.search(r"http://localhost(/privacy/link/\S+)", mailbox.state.mailbox("z@exemple.fr")[-1].text)
    assert link
    from privacy.models import DataRequest

    with app.app_context():
        db.session.execute(update(DataRequest).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert visitor.get(link.group(1)).status_code == 410
    with visitor.session_transaction() as session:
        assert "privacy_emails" not in session


def test_retention_erases_a_visitor_of_two_organisations_once_both_periods_are_over(
    app: Flask, make_org: Any, make_campaign: Any
) -> None:
    from accounts.models import Organisation

    first, second = make_org("Premier"), make_org("Second")
    one, two = make_campaign(first, slug="un"), make_campaign(second, slug="deux")
    now = utcnow()
    month = timedelta(days=30.44)
    with app.app_context():
        db.session.execute(
            update(Organisation).where(Organisation.id == second.id).values(retention_supporter_months=48)
        )
        for campaign_id in (one.id, two.id):
            recipient_id = db.session.scalars(
                select(CampaignTarget.recipient_id).where(CampaignTarget.campaign_id == campaign_id)
            ).first()
            db.session.add(
                Action(
                    campaign_id=campaign_id,
                    recipient_id=recipient_id,
                    network="x",
                    visitor_id="a" * 16,
                    text="t",
                    created_at=now,
                )
            )
        db.session.execute(update(Campaign).values(status=CampaignStatus.ENDED))
        db.session.commit()
        org = db.session.get_one(Organisation, first.id)
        assert plan(org, now + 40 * month).visitors == []  # the second organisation keeps it 48 months
        assert plan(org, now + 49 * month).visitors == ["a" * 16]
