"""An organisation run from the browser: an invitation accepted, a password reset, two-step sign-in, as people
do them, with the e-mails read from the sandbox's mailbox."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOTS")  # a folder: the tests leave screenshots of the pages there


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def mail_link(app: Any, email: str, path: str, *, after: int = 0) -> str:
    """The link in the newest e-mail to `email` (the delivery threads send it within seconds)."""
    state = app.extensions["porte_voix_sandbox"]
    for _ in range(100):
        mails = state.mailbox(email)
        if len(mails) > after:
            match = re.search(rf"(http://127\.0\.0\.1:\d+{path}\S+)", mails[-1].text)
            assert match, mails[-1].text
            return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no e-mail to {email}")


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login?lang=en")
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()


def test_an_admin_invites_a_colleague_who_joins(browser: Any, live_app: tuple[Any, str]) -> None:
    app, base = live_app
    admin = browser.new_context(locale="en-GB").new_page()
    sign_in(admin, base, "admin@demo.example", "demo-admin")
    expect(admin.locator("h1")).to_have_text("Set up two-step sign-in")  # admins are asked first
    admin.get_by_role("link", name="Not now").click()
    admin.get_by_role("navigation", name="Staff").get_by_role("link", name="Staff").click()
    admin.fill("#email", "nouvelle@demo.example")
    admin.select_option("#role", "analyst")
    admin.get_by_role("button", name="Send the invitation").click()
    expect(admin.locator(".flash")).to_contain_text("Invitation sent to nouvelle@demo.example")
    shot(admin, "staff")
    invitee = browser.new_context(locale="fr-FR").new_page()
    invitee.goto(mail_link(app, "nouvelle@demo.example", "/invitation/"))
    expect(invitee.locator("h1")).to_have_text("Rejoindre l’équipe")
    invitee.fill("#name", "Nour Nouvelle")
    invitee.fill("#password", "une phrase assez longue")
    invitee.fill("#confirm", "une phrase assez longue")
    shot(invitee, "accept")
    invitee.get_by_role("button", name="Créer mon compte").click()
    expect(invitee.locator(".flash")).to_contain_text("Bienvenue")
    sign_in(invitee, base, "nouvelle@demo.example", "une phrase assez longue")
    expect(invitee.locator(".staff-nav")).to_be_visible()
    admin.reload()
    expect(admin.locator("table").first).to_contain_text("Nour Nouvelle")


def test_a_forgotten_password_is_reset_by_e_mail(browser: Any, live_app: tuple[Any, str]) -> None:
    app, base = live_app
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{base}/login?lang=en")
    page.get_by_role("link", name="Forgot your password?").click()
    page.fill("#email", "analyste@demo.example")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator(".flash")).to_contain_text("If an account uses this address")
    page.goto(mail_link(app, "analyste@demo.example", "/login/reset/"))
    page.fill("#password", "une nouvelle phrase secrète")
    page.fill("#confirm", "une nouvelle phrase secrète")
    shot(page, "reset")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.locator(".flash")).to_contain_text("Your password is changed")
    sign_in(page, base, "analyste@demo.example", "une nouvelle phrase secrète")
    expect(page.get_by_role("link", name="My account")).to_be_visible()


def test_two_step_sign_in_from_enrolment_to_the_next_sign_in(browser: Any, live_app: tuple[Any, str]) -> None:
    _app, base = live_app
    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, base, "organisatrice@demo.example", "demo-organiser")
    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="Set up two-step sign-in").click()
    expect(page.locator(".qr svg")).to_be_visible()  # drawn by the app
    shot(page, "two_factor")
    secret = page.locator("code.secret").inner_text()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.locator("h1")).to_have_text("Your recovery codes")
    assert page.locator("ul.codes li").count() == 10
    page.get_by_role("link", name="I have kept them").click()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "organisatrice@demo.example", "demo-organiser")
    expect(page.locator("h1")).to_have_text("Two-step sign-in")
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))  # the next code: the first one is spent
    shot(page, "code")
    page.locator("main button[type=submit]").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()
    page.get_by_role("link", name="My account").click()
    expect(page.locator("main")).to_contain_text("Recovery codes left: 10")
    shot(page, "security")


def test_a_supporter_finds_their_data_and_erases_it(browser: Any, live_app: tuple[Any, str]) -> None:
    from tests.browser.test_supporter_browser import PHONE, _stub_networks

    _app, base = live_app
    context = browser.new_context(locale="fr-FR", **PHONE)
    _stub_networks(context, [])
    phone = context.new_page()
    phone.goto(f"{base}/c/livre-blanc-demo")
    with context.expect_page():
        phone.get_by_role("link", name="Envoyer sur X").click()
    expect(phone.locator("h1")).to_have_text("Merci !")  # the campaign's pages link to its privacy page
    phone.get_by_role("link", name="Confidentialité et vos données").click()
    expect(phone.locator("h1")).to_have_text("Vos données chez Collectif Démo")
    shot(phone, "privacy_policy")
    phone.get_by_role("link", name="Voir mes données depuis ce navigateur").click()
    expect(phone.locator("main")).to_contain_text("Les messages que vous avez envoyés (1)")
    shot(phone, "privacy_mine")
    phone.get_by_label("Je comprends : mes données sont effacées pour de bon.").check()
    phone.get_by_role("button", name="Effacer mes données").click()
    expect(phone.locator(".flash")).to_contain_text("Vos données sont effacées")
    expect(phone.locator("main")).to_contain_text("Nous ne conservons rien")
    admin = browser.new_context(locale="fr-FR").new_page()
    sign_in(admin, base, "admin@demo.example", "demo-admin")
    admin.goto(f"{base}/admin/organisation")
    expect(admin.locator("h1")).to_have_text("Organisation")
    shot(admin, "organisation")
    admin.goto(f"{base}/admin/audit")
    shot(admin, "audit")
