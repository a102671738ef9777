"""The batched outbox: one claim, one load, one record a batch; the outbox owns the transaction; a wave's
reminder from a skeleton; the one client interface of the networks. On SQLite and PostgreSQL."""

from __future__ import annotations

import email
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

import mail
from accounts.organisations import sender_for
from campaign.models import Campaign, Wave
from channels import Network
from channels.api import PostResult
from channels.clients import BlueskyClient, Client, MastodonClient, XClient, client
from channels.errors import ChannelError, ErrorKind
from channels.http import Endpoint
from channels.x import XApp
from database import utcnow
from extensions import db
from sandbox.server import SandboxServer
from scheduler import outbox
from scheduler.models import Delivery, DeliveryState
from supporters import posting
from supporters.models import SocialAccount
from tests.conftest import statements
from tests.test_reminders import open_wave_now
from waves.jobs import queue_reminders
from waves.models import REMINDER, Subscription, SubscriptionState
from waves.reminders import deliver_reminder, reminder_skeleton, reminder_token


@pytest.fixture
def campaign(make_campaign: Callable[..., Campaign], make_org: Callable[..., Any]) -> Campaign:
    return make_campaign(make_org(), targets=5)


def _reminders(app: Flask, campaign: Campaign, count: int, *, emails: tuple[str, ...] = ()) -> list[int]:
    """`count` confirmed subscribers (the first at `emails`), a wave open now, its reminders queued; their
    delivery ids."""
    with app.app_context():
        db.session.add_all(
            Subscription(
                campaign_id=campaign.id,
                email=emails[n] if n < len(emails) else f"personne{n}@exemple.fr",
                language="fr" if n % 2 else "en",
                state=SubscriptionState.CONFIRMED,
            )
            for n in range(count)
        )
        db.session.commit()
    open_wave_now(app, campaign)
    with app.app_context():
        queue_reminders(utcnow() + timedelta(seconds=2))
        ids = list(db.session.scalars(select(Delivery.id).where(Delivery.kind == REMINDER).order_by(Delivery.id)))
        db.session.remove()
    assert len(ids) == count
    return ids


def _states(app: Flask, ids: list[int]) -> dict[int, DeliveryState]:
    with app.app_context():
        rows = db.session.execute(select(Delivery.id, Delivery.state).where(Delivery.id.in_(ids))).tuples()
        return dict(rows.all())


def test_a_batch_is_one_claim_one_load_and_one_record(app: Flask, campaign: Campaign, mailbox: SandboxServer) -> None:
    ids = _reminders(app, campaign, 6)
    with statements(app) as sent, app.app_context():
        done = outbox.process_batch(None, app.extensions["porte_voix_outbox"], now=utcnow() + timedelta(seconds=5))
    assert done == dict.fromkeys(ids, DeliveryState.POSTED)
    updates = [s for s in sent if s.lstrip().upper().startswith("UPDATE DELIVERY")]
    assert len(updates) == 2, updates  # the claim, and every outcome in one executemany
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT") and "FROM reminder" in s]
    assert len(reads) == 1, reads  # the six reminders and their subscriptions, read at once
    assert len(mailbox.state.mailbox()) == 6


def test_outcomes_of_every_shape_are_recorded_from_one_batch(
    app: Flask, campaign: Campaign, mailbox: SandboxServer
) -> None:
    ids = _reminders(app, campaign, 4, emails=("nobody@bounce.example",))
    with app.app_context():
        unsubscribed = db.session.scalars(select(Subscription).where(Subscription.email == "personne1@exemple.fr"))
        unsubscribed.one().state = SubscriptionState.UNSUBSCRIBED
        db.session.commit()
    with app.app_context():
        done = outbox.process_batch(ids, app.extensions["porte_voix_outbox"], now=utcnow() + timedelta(seconds=5))
    assert sorted(done.values()) == sorted(
        [DeliveryState.FAILED, DeliveryState.FAILED, DeliveryState.POSTED, DeliveryState.POSTED]
    )
    with app.app_context():
        # What the handler learnt (the bounce) was committed by the outbox with the outcomes.
        bounced = db.session.scalars(select(Subscription).where(Subscription.email == "nobody@bounce.example"))
        assert bounced.one().state is SubscriptionState.BOUNCED


def test_handlers_never_commit_the_outbox_does_once(
    app: Flask, sandbox: SandboxServer, connect: Callable[..., int]
) -> None:
    account_id = connect(Network.MASTODON)
    with app.app_context():
        account = db.session.get_one(SocialAccount, account_id)
        ids = [posting.queue_post(account, f"message {n}", language="fr").id for n in range(3)]
        db.session.commit()
    sandbox.state.knobs.burst_429 = 3  # the instance limits every post
    commits: list[str] = []
    with app.app_context():
        session = db.session()
        listener = lambda _session: commits.append("commit")  # noqa: E731
        event.listen(session, "after_commit", listener)
        try:
            done = outbox.process_batch(ids, app.extensions["porte_voix_outbox"])
        finally:
            event.remove(session, "after_commit", listener)
    assert len(commits) == 2  # the claim's, and the record's with the account's spent budget
    assert set(done.values()) == {DeliveryState.QUEUED}  # to try again once the budget is back
    with app.app_context():
        assert db.session.get_one(SocialAccount, account_id).rate_remaining == 0


def test_a_row_taken_over_in_a_batch_is_neither_recorded_nor_counted(
    app: Flask, campaign: Campaign, mailbox: SandboxServer
) -> None:
    ids = _reminders(app, campaign, 3)
    box = app.extensions["porte_voix_outbox"]
    told: list[int] = []
    now = utcnow() + timedelta(seconds=5)
    with app.app_context():
        claimed = outbox.claim(ids, now)
        outcomes = outbox.deliver_batch(claimed, box, now)
        # Meanwhile the sweeper gave the second row to another worker, which claimed it.
        later = now + timedelta(seconds=1)
        db.session.execute(
            Delivery.__table__.update()
            .where(Delivery.__table__.c.id == ids[1])
            .values(state=DeliveryState.SENDING, claimed_at=later, updated_at=later)
        )
        db.session.commit()
        real = box._on_posted.get(REMINDER)
        box._on_posted[REMINDER] = lambda rows, _now: told.extend(r.id for r in rows)
        try:
            recorded = outbox.record(claimed, outcomes, box, now)
        finally:
            box._on_posted.pop(REMINDER)
            if real is not None:
                box._on_posted[REMINDER] = real
    assert set(recorded) == {ids[0], ids[2]} and sorted(told) == [ids[0], ids[2]]
    assert _states(app, ids)[ids[1]] is DeliveryState.SENDING  # the other worker's to record


def test_rows_not_started_in_time_are_given_back_unspent(
    app: Flask, campaign: Campaign, mailbox: SandboxServer
) -> None:
    ids = _reminders(app, campaign, 3)
    box = app.extensions["porte_voix_outbox"]
    with app.app_context():
        claimed = outbox.claim(ids, utcnow() + timedelta(seconds=5))
        late = utcnow() - timedelta(seconds=outbox.STALE_SECONDS)  # as if the claim were a minute old
        for delivery in claimed:
            delivery.claimed_at = late
        outcomes = outbox.deliver_batch(claimed, box, late)
    assert {o["state"] for o in outcomes.values()} == {DeliveryState.QUEUED}
    assert all(o["attempts"] == 0 for o in outcomes.values()) and mailbox.state.mailbox() == []


@pytest.mark.postgres
@pytest.mark.parametrize("database_uri", ["postgresql"], indirect=True)
def test_two_workers_claiming_at_once_take_different_rows(
    app: Flask, campaign: Campaign, mailbox: SandboxServer
) -> None:
    ids = _reminders(app, campaign, 24)
    now = utcnow() + timedelta(seconds=5)
    taken: list[list[int]] = []
    start = threading.Barrier(3)

    def worker() -> None:
        with app.app_context():
            start.wait()
            for _ in range(3):
                taken.append([d.id for d in outbox.claim(None, now, limit=5)])
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    flat = [i for batch in taken for i in batch]
    assert len(flat) == len(set(flat))  # nobody took a row twice
    assert sorted(flat) == sorted(ids)  # and, between them, every due row


# The reminder's skeleton ----------------------------------------------------------------------------


def _parts(data: bytes) -> tuple[Message, dict[str, str]]:
    parsed = email.message_from_bytes(data)
    bodies = {}
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            bodies[part.get_content_subtype()] = payload.decode("utf-8")
    return parsed, bodies


@pytest.mark.parametrize(
    "name", ['<script>alert("x")</script>', "Marie & Jean-Éric O'Neil", "pvdeadbeef00s1x", "{{ wave.title }}"]
)
def test_a_reminder_from_its_skeleton_reads_as_one_rendered_for_its_subscriber(
    app: Flask, campaign: Campaign, name: str
) -> None:
    wave_id = open_wave_now(app, campaign)
    with app.app_context(), app.test_request_context():
        wave = db.session.get_one(Wave, wave_id)
        db_campaign = db.session.get_one(Campaign, wave.campaign_id)
        names = [name, "Député Deux", "Député Trois"]
        link = "https://porte-voix.example/r/abc?x=1&y=<2>"
        unsubscribe = "https://porte-voix.example/s/unsubscribe/tok"
        for language in ("fr", "en"):
            made = reminder_skeleton(wave, db_campaign, language, len(names)).fill(
                to="personne@exemple.fr",
                key="k1",
                unsubscribe_url=unsubscribe,
                action_url=link,
                **{f"targets_{n}": value for n, value in enumerate(names)},
            )
            from flask_babel import force_locale
            from flask_babel import gettext as _

            with force_locale(language):
                subject = _("%(wave)s is on now · %(campaign)s", campaign=db_campaign.title, wave=wave.title)
            direct = mail.compose(
                to="personne@exemple.fr",
                subject=subject,
                template="waves/email/reminder",
                language=language,
                key="k1",
                unsubscribe_url=unsubscribe,
                sender=sender_for(db_campaign.organisation_id),  # the organisation's, as every reminder
                campaign=db_campaign,
                wave=wave,
                targets=names,
                action_url=link,
            )
            ours, our_bodies = _parts(made.data)
            theirs, their_bodies = _parts(direct.data)
            assert our_bodies == their_bodies
            for header in ("From", "To", "Subject", "Message-ID", "Content-Language", "List-Unsubscribe"):
                assert ours[header] == theirs[header], header
            assert made.sender == direct.sender and made.to == direct.to
            assert "<script>" not in our_bodies["html"] and name in our_bodies["plain"]


def test_a_header_value_cannot_carry_a_line_break(app: Flask, campaign: Campaign) -> None:
    wave_id = open_wave_now(app, campaign)
    with app.app_context(), app.test_request_context():
        wave = db.session.get_one(Wave, wave_id)
        skeleton = reminder_skeleton(wave, db.session.get_one(Campaign, wave.campaign_id), "fr", 1)
        with pytest.raises(ValueError, match="line break"):
            skeleton.fill(to="a@exemple.fr\nBcc: tout@exemple.fr", key="k")


def test_a_reminder_handler_reads_on_its_own_outside_a_batch(
    app: Flask, campaign: Campaign, mailbox: SandboxServer
) -> None:
    ids = _reminders(app, campaign, 1)
    with app.app_context():
        claimed = outbox.claim(ids, utcnow() + timedelta(seconds=5))
        result = deliver_reminder(claimed[0], utcnow())  # no loader ran: the session reads what it needs
        db.session.rollback()
        token = reminder_token(claimed[0].ref_id or 0)
    assert isinstance(result, PostResult) and result.remote_id.startswith("<")
    (message,) = mailbox.state.mailbox()
    assert token in message.text  # its own link, read without a loader


# One client interface ---------------------------------------------------------------------------------


def test_every_network_has_a_client_with_the_whole_interface() -> None:
    endpoint = Endpoint("http://127.0.0.1:9", timeout=1.0)
    from channels.clients import Holder

    holder = Holder("camille", "piaille.example", "did:plc:abc")
    made: list[Client] = [
        client(Network.X, endpoint, holder, x_app=XApp("id", None, "")),
        client(Network.MASTODON, endpoint, holder),
        client(Network.BLUESKY, endpoint, holder),
    ]
    assert [type(c) for c in made] == [XClient, MastodonClient, BlueskyClient]
    for each in made:
        for method in ("post", "profile", "refresh", "revoke", "metrics", "new_key"):
            assert callable(getattr(each, method))
    assert [c.rotates for c in made] == [True, False, True]
    with pytest.raises(ValueError, match="compose links"):
        client(Network.EMAIL, endpoint, holder)
    with pytest.raises(ValueError, match="no app is kept"):
        made[1].revoke({"access": "t"})  # revoking at Mastodon needs our app there


@pytest.mark.parametrize("network", [Network.X, Network.MASTODON, Network.BLUESKY])
def test_a_post_its_profile_and_its_metrics_through_the_client(
    app: Flask, sandbox: SandboxServer, connect: Callable[..., int], network: Network
) -> None:
    from supporters.networks import client_of
    from supporters.services import credentials

    account_id = connect(network)
    with app.app_context():
        account = db.session.get_one(SocialAccount, account_id)
        api = client_of(account)
        secrets = credentials(account, utcnow())
        key = api.new_key(utcnow())
        posted = api.post(secrets, "Par l'interface", key=key, language="fr")
        if network is Network.X:  # X takes no key: a repeat is told apart by "duplicate content"
            with pytest.raises(ChannelError) as refused:
                api.post(secrets, "Par l'interface", key=key, language="fr", retry=True)
            assert refused.value.kind is ErrorKind.DUPLICATE
        else:  # the key makes the retry the first post
            again = api.post(secrets, "Par l'interface", key=key, language="fr", retry=True)
            assert again.remote_id == posted.remote_id
        assert api.profile(secrets).handle.split("@")[0].split(".")[0] == "camille"
        counts = api.metrics({} if api.public_metrics else secrets, [posted.remote_id])
        assert [m.remote_id for m in counts] == [posted.remote_id]  # keyed as we keep it, on every network


@pytest.mark.parametrize(
    ("failure", "kept"),
    [
        (RuntimeError("a bug"), False),  # a bug: what it left half-done is undone, the row is retried
        (ChannelError(ErrorKind.RATE_LIMITED, "slow down"), True),  # a network's answer: what it learnt stays
    ],
)
def test_what_a_failing_handler_left_is_kept_only_for_a_networks_answer(
    app: Flask, sandbox: SandboxServer, connect: Callable[..., int], failure: Exception, kept: bool
) -> None:
    account_id = connect(Network.MASTODON)
    with app.app_context():
        account = db.session.get_one(SocialAccount, account_id)
        delivery_id = posting.queue_post(account, "échec", language="fr").id
        db.session.commit()
    box = outbox.Outbox()

    def fails(delivery: Delivery, now: datetime) -> PostResult:
        db.session.get_one(SocialAccount, delivery.account_id).rate_remaining = 0
        raise failure

    box.register(posting.KIND, fails)
    with app.app_context():
        assert outbox.process_batch([delivery_id], box) == {delivery_id: DeliveryState.QUEUED}
    with app.app_context():
        assert (db.session.get_one(SocialAccount, account_id).rate_remaining == 0) is kept
        error = db.session.get_one(Delivery, delivery_id).error
        assert error == ("slow down" if kept else "internal error")
