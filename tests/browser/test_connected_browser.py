"""A supporter connects a sandbox X account from the campaign page, posts in one click, and opens the post."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def test_connect_x_post_and_see_the_link(browser: Any, live_server: str) -> None:
    context = browser.new_context(locale="en-GB", **PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/c/livre-blanc-demo?lang=en")
    page.get_by_role("link", name="Connect your X account to post from here in one click").click()
    # X's consent page, played by the sandbox mounted at /sandbox.
    page.wait_for_url("**/sandbox/x/i/oauth2/authorize**")
    page.fill("#username", "CamilleSoutien")
    page.get_by_role("button", name="Authorise").click()
    page.wait_for_url("**/c/livre-blanc-demo*")
    assert "Connected as @CamilleSoutien on X" in page.locator(".flash").inner_text()
    box = page.locator("#post-x")
    shown = box.input_value()
    box.fill(shown + " Merci !")
    page.locator(".counter[data-for=post-x]").get_by_text(str(len(shown) + 8), exact=False).wait_for()
    page.get_by_role("button", name="Post on X as @CamilleSoutien").click()
    # The delivery threads post it; the page follows without a reload until the link is there.
    link = page.get_by_role("link", name="See your post on X")
    link.wait_for(timeout=20_000)
    assert "Posted on X." in page.locator("#post-message").inner_text()
    with context.expect_page() as opened:
        link.click()
    post = opened.value
    post.wait_for_load_state()
    assert post.locator("#post-text").inner_text() == shown + " Merci !"
    sandbox = context.new_page()  # the sandbox's own pages are for staff: the organiser signs in first
    sandbox.goto(f"{live_server}/sandbox/")  # to the sign-in page, then back
    sandbox.fill("#email", "organisatrice@demo.example")
    sandbox.fill("#password", "demo-organiser")
    sandbox.locator("main button[type=submit]").click()
    sandbox.wait_for_url("**/sandbox/")
    assert "@CamilleSoutien" in sandbox.locator("table").inner_text()
    context.close()


def test_disconnect_from_the_accounts_page(browser: Any, live_server: str) -> None:
    context = browser.new_context(locale="fr-FR", **PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/s/connect/bluesky?next=/c/livre-blanc-demo")
    page.fill("#handle", "soutien.bsky.social")
    page.fill("#app_password", "abcd-efgh-ijkl-mnop")
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/c/livre-blanc-demo*")
    page.goto(f"{live_server}/s/accounts")
    assert "@soutien.bsky.social" in page.locator(".accounts").inner_text()
    page.locator("li[data-network=bluesky] button").click()
    assert "soutien.bsky.social" in page.locator(".flash").inner_text()
    assert "@soutien.bsky.social" not in page.locator(".accounts").inner_text()
    context.close()
