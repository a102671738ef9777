"""The live wave page follows a wave without a reload, as an organiser watches it during the window."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select, update

from campaign.models import Wave
from database import utcnow
from extensions import db
from tests.browser.conftest import sign_in
from tests.browser.test_supporter_browser import PHONE, _stub_networks
from waves.jobs import open_due_waves


def test_the_live_page_counts_a_supporter_message_without_a_reload(browser: Any, live_app: tuple[Any, str]) -> None:
    app, url = live_app
    with app.app_context():  # the demo's wave opens now rather than in two minutes
        now = utcnow()
        db.session.execute(update(Wave).values(opens_at=now))
        db.session.commit()
        open_due_waves(now)
        wave = db.session.scalars(select(Wave)).one()
        live = f"{url}/admin/campaigns/{wave.campaign_id}/waves/{wave.id}"
    organiser = browser.new_context(locale="fr-FR")
    page = sign_in(organiser.new_page(), url)
    page.goto(live)
    sent = page.locator(".stats [data-key=actions]")
    expect(sent).to_have_text("0")
    expect(page.locator("#wave-status")).to_have_text("ouverte")

    supporter = browser.new_context(locale="fr-FR", **PHONE)
    _stub_networks(supporter, [])
    phone = supporter.new_page()
    phone.goto(f"{url}/c/livre-blanc-demo")
    expect(phone.locator(".wave-banner")).to_contain_text("Vague de démonstration")
    with supporter.expect_page():
        phone.get_by_role("link", name="Envoyer sur X").click()

    expect(sent).to_have_text("1", timeout=15_000)  # the page polls; nobody reloaded it
    organiser.close()
    supporter.close()
