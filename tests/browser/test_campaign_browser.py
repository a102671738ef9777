"""A campaign as its people use it in a browser: every social text mentions its target (1), a reminder's link
opens its targets first and the confirmation page leads back (5), ending and deleting ask first, a campaign
is duplicated (9), and a live campaign's old address still opens it (10)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from campaign.models import Campaign, Wave
from database import utcnow
from extensions import db
from recipients.models import Recipient
from tests.browser.conftest import sign_in
from tests.browser.test_supporter_browser import PHONE, _stub_networks
from tests.conftest import eventually
from waves.jobs import open_due_waves
from waves.models import Reminder, Subscription
from waves.reminders import reminder_token

pytestmark = pytest.mark.browser
DEMO = "livre-blanc-demo"


def _organiser(browser: Any, url: str) -> Any:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    return sign_in(context.new_page(), url)


def test_every_social_text_on_the_page_mentions_its_target(browser: Any, live_app: tuple[Any, str]) -> None:
    app, url = live_app
    context = browser.new_context(locale="fr-FR", **PHONE)
    opened: list[str] = []
    _stub_networks(context, opened)
    page = context.new_page()
    for _visit in range(4):  # the demo's variants in turn: one of them has no {handle}, the mention is added
        page.goto(f"{url}/c/{DEMO}")
        name = page.locator("#target-name").inner_text()
        with app.app_context():
            target = db.session.scalars(select(Recipient).where(Recipient.last_name == name.split(" ", 1)[1])).one()
        for network, handle in (("x", target.handle_x), ("bluesky", target.handle_bluesky)):
            shown = page.locator(f"#text-{network}")
            if handle:
                expect(shown).to_contain_text(f"@{handle}")
            else:  # not on this network: not offered there
                expect(shown).to_have_count(0)
        page.goto(f"{url}/c/{DEMO}/another")
    context.close()


def _reminder_of(app: Any, subscription_id: int) -> int:
    """The reminder the live app's scheduler queues for a subscriber (its job runs every 5 s)."""

    def read() -> int | None:
        with app.app_context():
            return db.session.scalar(select(Reminder.id).where(Reminder.subscription_id == subscription_id))

    found = eventually(read, 60)
    assert found is not None, f"no reminder queued for subscription {subscription_id} within 60 s"
    return found


def test_a_reminders_link_opens_its_targets_and_the_confirmation_leads_back(
    browser: Any, live_app: tuple[Any, str]
) -> None:
    app, url = live_app
    with app.app_context():  # the demo's wave opens now, and the scheduler queues its subscribers' reminders
        now = utcnow()
        db.session.execute(update(Wave).values(opens_at=now))
        db.session.commit()
        open_due_waves(now)
        first = db.session.scalars(select(Subscription.id).order_by(Subscription.id)).first()
    reminder_id = _reminder_of(app, first)
    with app.app_context():
        link = f"{url}/c/{DEMO}/r/{reminder_token(reminder_id)}"
    context = browser.new_context(locale="fr-FR", **PHONE)
    page = context.new_page()
    page.goto(link)
    expect(page.locator("#assigned-place")).to_have_text("Personne 1 sur 3 de notre e-mail")
    expect(page.locator("form.subscribe, #subscribe")).to_have_count(0)  # they signed up already
    context.close()

    # A new visitor signs up; the confirmation page leads back to the campaign.
    sandbox = app.extensions["porte_voix_sandbox"]
    visitor = browser.new_context(locale="fr-FR", **PHONE)
    page = visitor.new_page()
    page.goto(f"{url}/c/{DEMO}")
    page.fill("input[name=email]", "nouvelle@exemple.fr")
    page.locator("form[action$='/subscribe'] button[type=submit]").click()
    expect(page.locator("body")).to_contain_text("boîte")
    for _attempt in range(100):
        mails = sandbox.mailbox("nouvelle@exemple.fr")
        if mails:
            break
        page.wait_for_timeout(100)
    confirm = re.search(r"https?://\S+/s/confirm/\S+", mails[-1].text)
    assert confirm, mails[-1].text
    page.goto(confirm.group(0))
    back = page.get_by_role("link", name=re.compile("Retour à la campagne"))
    back.click()
    expect(page).to_have_url(f"{url}/c/{DEMO}")
    visitor.close()


def test_duplicate_then_end_and_delete_ask_first(browser: Any, live_app: tuple[Any, str]) -> None:
    app, url = live_app
    page = _organiser(browser, url)
    page.get_by_role("link", name="Livre blanc de l'entrepreneuriat social (démo)").click()
    page.get_by_role("button", name="Dupliquer").click()
    expect(page.locator("h1")).to_have_text("Modifier la campagne")
    page.fill("#title", "Deuxième campagne")
    page.fill("#slug", "deuxieme-campagne")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("h1")).to_contain_text("Deuxième campagne")
    # A draft is deleted only after a page says what goes.
    page.get_by_role("link", name="Supprimer le brouillon…").click()
    expect(page.locator("main")).to_contain_text("supprimés définitivement")
    page.get_by_role("link", name="Retour").click()
    # Published, then ended: the end is a page of its own, with the way back.
    page.get_by_role("button", name="Publier").click()
    expect(page.locator(".badge").first).to_have_text("en ligne")
    page.get_by_role("link", name="Clore la campagne…").click()
    expect(page.locator("main")).to_contain_text("La clôture est définitive")
    page.get_by_role("link", name="La laisser en cours").click()
    expect(page.locator(".badge").first).to_have_text("en ligne")
    page.get_by_role("link", name="Clore la campagne…").click()
    page.get_by_role("button", name="Clore définitivement la campagne").click()
    expect(page.locator(".badge").first).to_have_text("terminée")
    with app.app_context():
        assert db.session.scalars(select(Campaign.slug).where(Campaign.status == "ended")).all() == [
            "deuxieme-campagne"
        ]
    page.context.close()


def test_a_live_campaigns_old_address_still_opens_it(browser: Any, live_app: tuple[Any, str]) -> None:
    app, url = live_app
    page = _organiser(browser, url)
    page.get_by_role("link", name="Livre blanc de l'entrepreneuriat social (démo)").click()
    page.get_by_role("link", name="Modifier").last.click()
    page.fill("#slug", "livre-blanc-2026")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("main")).to_contain_text("/c/livre-blanc-demo")  # listed as a former address
    page.context.close()
    supporter = browser.new_context(locale="fr-FR", **PHONE)
    phone = supporter.new_page()
    phone.goto(f"{url}/c/{DEMO}?utm_source=mail")  # a link shared before the change
    expect(phone).to_have_url(f"{url}/c/livre-blanc-2026?utm_source=mail")
    expect(phone.locator("h1")).to_contain_text("Livre blanc")
    supporter.close()
    with app.app_context():  # put it back for the module's other tests
        from campaign.services import save_campaign

        save_campaign(db.session.scalars(select(Campaign).where(Campaign.slug == "livre-blanc-2026")).one(), slug=DEMO)
        db.session.commit()
