"""A supporter on a phone sends the demo message on X; the organiser sees it counted."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _stub_networks(context: Any, opened: list[str]) -> None:
    """Our send endpoint runs for real; the composer it redirects to is recorded, never loaded.

    (Playwright routes only the first URL of a redirect chain, so the hop is taken here.)
    """

    def follow(route: Any) -> None:
        response = route.fetch(max_redirects=0)
        assert response.status == 303, response.status
        opened.append(response.headers["location"])
        route.fulfill(status=200, content_type="text/html", body="<p>compose stub</p>")

    context.route("**/send/**", follow)


def _organiser_count(browser: Any, live_server: str) -> int:
    """The demo campaign's message count, as its organiser reads it."""
    staff = browser.new_context(locale="fr-FR")
    admin = sign_in(staff.new_page(), live_server)
    admin.get_by_role("link", name="Livre blanc de l'entrepreneuriat social (démo)").click()
    count = int(admin.locator("#action-count").inner_text())
    staff.close()
    return count


def test_send_on_x_carries_the_exact_text_and_is_counted(browser: Any, live_server: str) -> None:
    before = _organiser_count(browser, live_server)  # the demo comes with a few days of invented activity
    context = browser.new_context(locale="fr-FR", **PHONE)
    opened: list[str] = []
    _stub_networks(context, opened)
    page = context.new_page()
    page.goto(f"{live_server}/c/livre-blanc-demo")
    assert page.locator("h1").inner_text().startswith("Livre blanc")
    shown = page.locator("#text-x").inner_text()
    target = page.locator("#target-name").inner_text()
    with context.expect_page() as popup_info:
        page.get_by_role("link", name="Envoyer sur X").click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert opened, "the X composer was not opened"
    intent = urlsplit(opened[0])
    assert (intent.netloc, intent.path) == ("x.com", "/intent/tweet")
    assert parse_qs(intent.query)["text"] == [shown]
    page.wait_for_url("**/c/livre-blanc-demo/thanks")
    assert target in page.locator(".thanks").inner_text()
    context.close()
    assert _organiser_count(browser, live_server) == before + 1


def test_page_is_usable_without_javascript(browser: Any, live_server: str) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en-GB", **PHONE)
    opened: list[str] = []
    _stub_networks(context, opened)
    page = context.new_page()
    page.goto(f"{live_server}/c/livre-blanc-demo?lang=en")
    # The target is drawn at random; a postcode pins one who is on Bluesky (DEMO-01, 99001),
    # and the form itself must work without JavaScript.
    page.fill("#cp", "99001")
    page.locator("form.postcode button[type=submit]").click()
    assert "Exemple" in page.locator("#target-name").inner_text()
    link = page.get_by_role("link", name="Send on Bluesky")
    href = link.get_attribute("href")
    page.goto(f"{live_server}{href}")
    assert opened and urlsplit(opened[0]).netloc == "bsky.app"
    page.goto(f"{live_server}/c/livre-blanc-demo/thanks")
    assert page.get_by_role("link", name="Write to another").is_visible()
    context.close()
