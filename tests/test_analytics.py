"""Analytics on a campaign with known counts: every number on the dashboards and in the exports is exact,
the tallies equal a rebuild from the facts, and the analyst reaches no supporter's data by any URL.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from werkzeug.routing import IntegerConverter

from accounts.models import AuditEvent, Role
from analytics.engagement import refresh_post_metrics
from analytics.exports import CONSENT_BASIS
from analytics.figures import Scope, figures
from campaign.actions import record_action
from campaign.models import Action, ActionMode, Campaign, CampaignTarget, Variant
from campaign.tallies import (
    ActionTally,
    PostMetric,
    ReachTally,
    SupporterDay,
    SupporterTally,
    TargetTally,
    count_confirmed,
    rebuild,
)
from channels import Network
from channels.errors import ChannelError, ErrorKind
from extensions import db
from recipients.models import Recipient
from scheduler import outbox
from supporters.models import AccountState, SocialAccount
from supporters.posting import queue_post
from tests.conftest import fold, login
from waves.models import Subscription, SubscriptionState
from waves.services import schedule_wave

SLUG = "mesurer-la-campagne"
DAY1 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
SECRET_EMAIL = "zorglub.secret@exemple.fr"
SECRET_HANDLE = "zorglub"


def number(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert match, f"no #{element_id} on the page"
    return match.group(1).strip()


def add_wave(campaign_id: int, title: str, opens_in: timedelta) -> int:
    """A wave over the whole campaign on X, scheduled now to open `opens_in` from now; returns its id."""
    c = db.session.get_one(Campaign, campaign_id)
    now = datetime.now(UTC)
    wave = schedule_wave(
        c,
        title=title,
        opens_at=now + opens_in,
        closes_at=now + opens_in + timedelta(hours=1),
        message_ids=[m.id for m in c.messages],
        networks=[Network.X],
        criteria={},
        cap_per_hour=30,
        reminder_text="",
        now=now,
    )
    db.session.commit()
    return wave.id


@pytest.fixture
def known(app: Flask, make_org: Any, make_campaign: Any, sandbox: Any, connect: Any) -> dict[str, Any]:
    """Two browsers visit; three link actions by two supporters (one comes back a day later), one of them
    confirmed; one post through a connected Bluesky account, liked and answered by its target.
    """
    organisation = make_org()
    campaign = make_campaign(organisation, targets=4, slug=SLUG, networks=["x", "bluesky", "mastodon"])
    for browser in (app.test_client(), app.test_client()):
        assert browser.get(f"/c/{SLUG}").status_code == 200
        assert browser.get(f"/c/{SLUG}").status_code == 200  # a reload: no new visit, no new target shown
    account_id = connect(Network.BLUESKY, SECRET_HANDLE)
    # the targets' handles exist on the sandbox's Bluesky (set after connecting, as it changes sign-in)
    requests.post(f"{sandbox.url}/__sandbox__/config", json={"bluesky_existing_domains": ["bsky.social"]}, timeout=5)
    with app.app_context():
        c = db.session.get_one(Campaign, campaign.id)
        targets = list(db.session.scalars(select(Recipient.id).order_by(Recipient.id)))
        first, second = db.session.scalars(select(Variant.id).order_by(Variant.id)).all()[:2]
        record_action(
            c, recipient_id=targets[0], variant_id=first, network=Network.X, visitor_id="a" * 16, text="t1", now=DAY1
        )
        record_action(
            c,
            recipient_id=targets[0],
            variant_id=second,
            network=Network.BLUESKY,
            visitor_id="a" * 16,
            text="t2",
            now=DAY2,
        )
        linked = record_action(
            c,
            recipient_id=targets[1],
            variant_id=first,
            network=Network.MASTODON,
            visitor_id="b" * 16,
            text="t3",
            now=DAY1 + timedelta(hours=2),
            author_handle="bea@piaille.fr",
        )
        linked.confirmed_at = DAY1 + timedelta(hours=3)  # as confirm_link_posts does when it finds the post
        count_confirmed(linked)
        account = db.session.get_one(SocialAccount, account_id)
        delivery = queue_post(account, "@depute3.bsky.social lisez le Livre blanc")
        record_action(
            c,
            recipient_id=targets[2],
            variant_id=first,
            network=Network.BLUESKY,
            visitor_id="c" * 16,
            text=delivery.text,
            mode=ActionMode.API,
            delivery_id=delivery.id,
        )
        db.session.commit()
        delivery_id = delivery.id
        assert outbox.process(delivery_id, app.extensions["porte_voix_outbox"]) is not None
        remote_id = db.session.get_one(type(delivery), delivery_id).remote_id
        followers = db.session.get_one(SocialAccount, account_id).followers
        names = {rid: db.session.get_one(Recipient, rid).name for rid in targets}
    fold(app)  # as the tallies job does within a second
    engage = {
        "network": "bluesky",
        "remote_id": remote_id,
        "likes": 5,
        "reposts": 2,
        "quotes": 1,
        "replies": [
            {"author": "depute3.bsky.social", "text": f"@{SECRET_HANDLE}.bsky.social merci, je le lirai."},
            {"author": "passant.bsky.social", "text": "+1"},
        ],
    }
    assert requests.post(f"{sandbox.url}/__sandbox__/engage", json=engage, timeout=5).status_code == 200
    with app.app_context():
        assert refresh_post_metrics(datetime.now(UTC) + timedelta(minutes=1)) == 1
    return {
        "campaign": campaign,
        "organisation": organisation,
        "targets": targets,
        "names": names,
        "followers": followers,
        "delivery_id": delivery_id,
        "account_id": account_id,
    }


def test_every_number_on_the_dashboard_is_exact(app: Flask, client: FlaskClient, make_user: Any, known: Any) -> None:
    login(client, make_user(known["organisation"], Role.ANALYST))
    page = client.get(f"/admin/campaigns/{known['campaign'].id}/analytics").get_data(as_text=True)
    assert number(page, "visits") == "2"
    assert number(page, "supporters") == "3"
    assert number(page, "messages") == "4"
    assert number(page, "confirmed") == "2"  # the Mastodon link post found, the Bluesky post delivered
    assert number(page, "reach") == str(known["followers"])
    assert number(page, "coverage") == "3 / 4"
    assert number(page, "supporters-new") == "2" and number(page, "supporters-returning") == "1"
    assert number(page, "reach-accounts") == "1"
    assert (number(page, "eng-likes"), number(page, "eng-reposts"), number(page, "eng-quotes")) == ("5", "2", "1")
    assert number(page, "eng-replies") == "2"
    # the funnel, written out beside its bars: visits, shown, clicks, posts, confirmed
    funnel = re.search(r'<desc id="funnel-desc">([^<]*)</desc>', page)
    assert funnel and re.findall(r": (\d+)", funnel.group(1)) == ["2", "2", "4", "4", "2"]
    # the target's answer, its mention of the supporter hidden; the passer-by's reply is not an answer
    assert "merci, je le lirai." in page and "+1</blockquote>" not in page
    assert SECRET_HANDLE not in page
    # not reached yet: the fourth target, by name
    assert known["names"][known["targets"][3]] in page.split("Not reached yet", 1)[1]


def test_the_exports_carry_the_dashboards_numbers(app: Flask, client: FlaskClient, make_user: Any, known: Any) -> None:
    login(client, make_user(known["organisation"], Role.ANALYST))
    base = f"/admin/campaigns/{known['campaign'].id}/analytics"
    data = client.get(base + ".json").get_json()
    with app.app_context():
        expected = figures(Scope(known["campaign"].id))
    assert data["funnel"] == {"visits": 2, "shown": 2, "clicks": 4, "posts": 4, "confirmed": 2, "refused": 0}
    assert data["funnel"] == expected.funnel.__dict__
    assert {row["key"]: row["actions"] for row in data["by_network"]} == {
        "x": 1,
        "bluesky": 2,
        "mastodon": 1,
        "email": 0,
    }
    assert {row["key"]: row["actions"] for row in data["by_mode"]} == {"link": 3, "api": 1, "pledge": 0}
    assert [(row["key"], row["actions"]) for row in data["by_day"]][:2] == [("2026-11-02", 2), ("2026-11-03", 1)]
    assert data["supporters"]["total"] == 3 and data["supporters"]["returning"] == 1
    assert data["reach"] == {"accounts": 1, "followers": known["followers"], "unknown": 0}
    assert data["engagement"]["likes"] == 5 and data["engagement"]["posts"] == 1
    assert data["coverage"]["reached"] == 3 and data["coverage"]["targets"] == 4
    assert sorted(row["actions"] for row in data["coverage"]["targets_table"]) == [0, 1, 1, 2]
    rows = list(csv.reader(io.StringIO(client.get(base + ".csv").get_data(as_text=True))))
    assert rows[0] == ["section", "key", "metric", "value"]
    flat = {(s, k, m): v for s, k, m, v in rows[1:]}
    assert flat[("funnel", "", "visits")] == "2" and flat[("funnel", "", "confirmed")] == "2"
    assert flat[("by_network", "bluesky", "actions")] == "2"
    assert flat[("coverage", "", "reached")] == "3"
    assert flat[("engagement", "", "likes")] == "5"
    assert flat[("answers", "1", "text")] == "'@… merci, je le lirai."  # a leading @ could run as a formula
    assert SECRET_HANDLE not in json.dumps(data) and SECRET_HANDLE not in str(rows)


def test_the_tallies_equal_a_rebuild_from_the_facts(app: Flask, known: Any) -> None:
    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        tables = (ActionTally, TargetTally, SupporterTally, SupporterDay, ReachTally)
        return {
            t.__name__: sorted(
                tuple(getattr(row, c.key) for c in t.__table__.columns) for row in db.session.scalars(select(t))
            )
            for t in tables
        }

    with app.app_context():
        kept = snapshot()
        rebuild(known["campaign"].id)
        db.session.commit()
        assert snapshot() == kept
        assert sum(row[-2] for row in kept["ActionTally"]) == db.session.query(Action).count()


def test_a_wave_dashboard_counts_its_own_and_new_supporters(
    app: Flask, client: FlaskClient, make_user: Any, known: Any
) -> None:
    campaign_id = known["campaign"].id
    with app.app_context():
        wave_id = add_wave(campaign_id, "Mardi", timedelta(minutes=1))
        c = db.session.get_one(Campaign, campaign_id)
        now = datetime.now(UTC)
        t = known["targets"]
        record_action(
            c,
            recipient_id=t[3],
            variant_id=None,
            network=Network.X,
            visitor_id="a" * 16,
            text="w1",
            wave_id=wave_id,
            now=now + timedelta(minutes=5),
        )
        record_action(
            c,
            recipient_id=t[3],
            variant_id=None,
            network=Network.X,
            visitor_id="d" * 16,
            text="w2",
            wave_id=wave_id,
            now=now + timedelta(minutes=6),
        )
        db.session.commit()
    fold(app)
    login(client, make_user(known["organisation"], Role.ANALYST))
    page = client.get(f"/admin/campaigns/{campaign_id}/waves/{wave_id}/analytics").get_data(as_text=True)
    assert number(page, "messages") == "2"
    assert number(page, "supporters-new") == "1" and number(page, "supporters-returning") == "1"
    assert number(page, "coverage") == "1 / 4"
    whole = client.get(f"/admin/campaigns/{campaign_id}/analytics").get_data(as_text=True)
    assert number(whole, "messages") == "6" and number(whole, "coverage") == "4 / 4"


def test_empty_campaigns_waves_ranges_and_bad_ranges_still_render(
    app: Flask, client: FlaskClient, make_org: Any, make_user: Any, make_campaign: Any
) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    login(client, make_user(organisation, Role.ANALYST))
    base = f"/admin/campaigns/{campaign.id}/analytics"
    page = client.get(base).get_data(as_text=True)
    assert "No one has visited the supporter page" in page and number(page, "messages") == "0"
    empty_range = client.get(base + "?start=2020-01-01&end=2020-01-31")
    assert empty_range.status_code == 200 and "Nothing happened in these days" in empty_range.get_data(as_text=True)
    backwards = client.get(base + "?start=2026-02-01&end=2026-01-01")
    assert backwards.status_code == 200 and "The range ends before it starts." in backwards.get_data(as_text=True)
    export = client.get(base + ".json?start=2026-02-01&end=2026-01-01")
    assert export.status_code == 400 and "ends before it starts" in export.get_json()["error"]
    assert client.get(base + ".json?start=not-a-date").status_code == 400
    assert client.get("/admin/analytics").status_code == 200
    with app.app_context():
        wave_id = add_wave(campaign.id, "Calme", timedelta(hours=1))
    quiet = client.get(f"/admin/campaigns/{campaign.id}/waves/{wave_id}/analytics").get_data(as_text=True)
    assert "No one has visited or written during this wave yet." in quiet and number(quiet, "coverage") == "0 / 3"
    assert client.get(f"/admin/campaigns/{campaign.id}/waves/{wave_id}/analytics.csv").status_code == 200
    assert client.get(f"/admin/campaigns/{campaign.id}/waves/999/analytics").status_code == 404


def test_the_analyst_reaches_no_personal_data_by_any_url(
    app: Flask, client: FlaskClient, make_user: Any, known: Any
) -> None:
    campaign = known["campaign"]
    with app.app_context():
        db.session.add(
            Subscription(
                campaign_id=campaign.id,
                email=SECRET_EMAIL,
                state=SubscriptionState.CONFIRMED,
                confirmed_at=DAY1,
                shared_at=DAY1,
            )
        )
        db.session.commit()
        ids = {campaign.id, *known["targets"], known["delivery_id"], known["account_id"], 1}
    login(client, make_user(known["organisation"], Role.ANALYST))
    strings = {"slug": [SLUG], "fmt": ["json", "csv"], "network": ["bluesky", "x"]}
    seen = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static" or rule.rule.startswith("/s/connect"):
            continue
        choices = [
            [
                (name, v)
                for v in (
                    sorted(ids) if isinstance(rule._converters[name], IntegerConverter) else strings.get(name, ["x"])
                )
            ]
            for name in rule.arguments
        ]
        for combination in itertools.product(*choices):
            try:
                url = app.url_map.bind("localhost").build(rule.endpoint, dict(combination))
            except Exception:  # noqa: S112 (a rule whose arguments these values do not fit)
                continue
            response = client.get(url)
            seen += 1
            assert response.status_code < 500, url
            body = response.get_data(as_text=True)
            assert SECRET_EMAIL not in body, url
            assert SECRET_HANDLE not in body, url
    assert seen > 50
    assert client.get(f"/admin/campaigns/{campaign.id}/subscribers.csv").status_code == 403


def test_organisers_export_only_the_subscribers_who_agreed(
    app: Flask, client: FlaskClient, make_org: Any, make_user: Any, make_campaign: Any
) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    with app.app_context():
        db.session.add_all(
            [
                Subscription(
                    campaign_id=campaign.id,
                    email="oui@exemple.fr",
                    state=SubscriptionState.CONFIRMED,
                    confirmed_at=DAY1,
                    shared_at=DAY1,
                ),
                Subscription(
                    campaign_id=campaign.id,
                    email="non@exemple.fr",
                    state=SubscriptionState.CONFIRMED,
                    confirmed_at=DAY1,
                ),
                Subscription(campaign_id=campaign.id, email="pas-encore@exemple.fr", shared_at=DAY1),
                Subscription(
                    campaign_id=campaign.id,
                    email="parti@exemple.fr",
                    state=SubscriptionState.UNSUBSCRIBED,
                    confirmed_at=DAY1,
                    shared_at=DAY1,
                ),
            ]
        )
        db.session.commit()
    login(client, make_user(organisation, Role.ORGANISER))
    rows = list(csv.reader(io.StringIO(client.get(f"/admin/campaigns/{campaign.id}/subscribers.csv").text)))
    assert rows[0] == ["email", "language", "confirmed_at", "shared_at", "consent"]
    assert [row[0] for row in rows[1:]] == ["oui@exemple.fr"]
    assert rows[1][4] == CONSENT_BASIS  # the consent each row relies on
    with app.app_context():  # logged, with who and what it relied on
        logged = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export.personal")).one()
        assert logged.actor.startswith("organiser-") and "subscribers=1" in logged.detail


def test_the_subscribe_form_asks_before_sharing(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org())
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert 'name="share"' in page and "checked" not in page.split('name="share"', 1)[1][:40]
    client.post(f"/c/{campaign.slug}/subscribe", data={"email": "a@exemple.fr"})
    client.post(f"/c/{campaign.slug}/subscribe", data={"email": "b@exemple.fr", "share": "y"})
    with app.app_context():
        shared = {s.email: s.shared_at is not None for s in db.session.scalars(select(Subscription))}
    assert shared == {"a@exemple.fr": False, "b@exemple.fr": True}


def test_the_metrics_job_backs_off_on_limits_and_expired_tokens(
    app: Flask, client: FlaskClient, make_user: Any, known: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from channels import bluesky

    later = datetime.now(UTC) + timedelta(hours=2)
    reset = later + timedelta(minutes=10)

    def limited(*_: Any, **__: Any) -> Any:
        raise ChannelError(ErrorKind.RATE_LIMITED, "Rate Limit Exceeded", retry_at=reset)

    monkeypatch.setattr(bluesky, "metrics", limited)
    with app.app_context():
        assert refresh_post_metrics(later) == 0
        metric = db.session.get_one(PostMetric, known["delivery_id"])
        assert metric.next_fetch_at >= reset and metric.error == "rate_limited"
        assert metric.likes == 5  # the counts read before are kept
        assert refresh_post_metrics(later + timedelta(minutes=5)) == 0  # not asked again before the reset
        account = db.session.get_one(SocialAccount, known["account_id"])
        account.state = AccountState.NEEDS_RECONNECT
        db.session.commit()
        assert refresh_post_metrics(reset + timedelta(minutes=1)) == 0
        metric = db.session.get_one(PostMetric, known["delivery_id"])
        assert metric.error == "reconnect" and metric.next_fetch_at > reset + timedelta(hours=23)
    login(client, make_user(known["organisation"], Role.ANALYST))
    page = client.get(f"/admin/campaigns/{known['campaign'].id}/analytics").get_data(as_text=True)
    assert "must be reconnected" in page and number(page, "eng-likes") == "5"


def test_coverage_table_sorts_by_each_column(app: Flask, client: FlaskClient, make_user: Any, known: Any) -> None:
    login(client, make_user(known["organisation"], Role.ANALYST))
    base = f"/admin/campaigns/{known['campaign'].id}/analytics"

    def order(query: str) -> list[str]:
        page = client.get(base + query).get_data(as_text=True)
        table = page.split('id="targets-table"', 1)[1].split("</table>", 1)[0]
        return re.findall(r"<tr[^>]*><td>([^<]+)</td>", table)

    names = known["names"]
    t = known["targets"]
    by_count = order("?sort=actions&dir=desc")
    assert by_count[0] == names[t[0]] and by_count[-1] == names[t[3]]
    assert order("?sort=name&dir=asc") == sorted(names.values(), key=str.casefold)
    assert order("?sort=name&dir=desc") == sorted(names.values(), key=str.casefold, reverse=True)
    assert order("?sort=nonsense") == by_count
    with app.app_context():
        assert db.session.get_one(CampaignTarget, (known["campaign"].id, t[0])).action_count == 2


def test_a_targets_answer_on_mastodon_is_found(app: Flask, known: Any, connect: Any, sandbox: Any) -> None:
    account_id = connect(Network.MASTODON, "lou")
    with app.app_context():
        c = db.session.get_one(Campaign, known["campaign"].id)
        target = db.session.get_one(Recipient, known["targets"][1])
        handle = target.handle_mastodon
        delivery = queue_post(db.session.get_one(SocialAccount, account_id), f"@{target.handle_mastodon} lisez-le")
        record_action(
            c,
            recipient_id=target.id,
            variant_id=None,
            network=Network.MASTODON,
            visitor_id="e" * 16,
            text=delivery.text,
            mode=ActionMode.API,
            delivery_id=delivery.id,
        )
        db.session.commit()
        assert outbox.process(delivery.id, app.extensions["porte_voix_outbox"]) is not None
        remote_id = db.session.get_one(type(delivery), delivery.id).remote_id
    replies = [
        {"author": handle, "text": "@lou Bien reçu."},
        {"author": "autre@piaille.fr", "text": "Oui"},
    ]
    engage = {"network": "mastodon", "remote_id": remote_id, "likes": 3, "replies": replies}
    assert requests.post(f"{sandbox.url}/__sandbox__/engage", json=engage, timeout=5).status_code == 200
    with app.app_context():
        assert refresh_post_metrics(datetime.now(UTC) + timedelta(minutes=1)) == 1
        found = figures(Scope(known["campaign"].id))
    assert [a.text for a in found.answers if a.network is Network.MASTODON] == ["@… Bien reçu."]
    assert found.engagement.likes == 5 + 3 and found.engagement.replies == 2 + 2
    assert found.reach.accounts == 2


def test_a_failing_tally_never_undoes_a_post(
    app: Flask, make_org: Any, make_campaign: Any, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign import tallies
    from scheduler.models import Delivery, DeliveryState

    campaign = make_campaign(make_org())
    account_id = connect(Network.MASTODON, "lou")

    def broken(*_: Any, **__: Any) -> None:
        db.session.execute(text("SELECT * FROM no_such_table"))  # a failed statement inside the savepoint
        raise RuntimeError("tally store down")

    monkeypatch.setattr(tallies, "count_confirmed", broken)
    with app.app_context():
        c = db.session.get_one(Campaign, campaign.id)
        delivery = queue_post(db.session.get_one(SocialAccount, account_id), "Lisez le Livre blanc")
        target = db.session.scalars(select(Recipient.id)).first()
        record_action(
            c,
            recipient_id=target,
            variant_id=None,
            network=Network.MASTODON,
            visitor_id="f" * 16,
            text=delivery.text,
            mode=ActionMode.API,
            delivery_id=delivery.id,
        )
        db.session.commit()
        assert outbox.process(delivery.id, app.extensions["porte_voix_outbox"]) is DeliveryState.POSTED
        db.session.remove()
        assert db.session.get_one(Delivery, delivery.id).state is DeliveryState.POSTED
