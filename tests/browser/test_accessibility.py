"""axe-core on every page, as supporters (on a phone) and organisers (on a laptop) see them: no violation."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.routing import IntegerConverter

from tests.browser.conftest import axe_violations, sign_in

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
STRINGS = {"slug": "livre-blanc-demo", "network": "bluesky"}
SKIP_ENDPOINTS = {"static", "accounts.logout", "campaign_public.another", "campaign_public.send"}


def _pages(app: Any, prefix: str) -> list[str]:
    """Every GET page under `prefix`, with the demo's ids (its first campaign, wave, target and list)."""
    urls = []
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or set()) or rule.endpoint in SKIP_ENDPOINTS or not rule.rule.startswith(prefix):
            continue
        if rule.rule.endswith((".json", ".csv")) or "fmt" in rule.arguments or "token" in rule.arguments:
            continue
        values = {
            name: 1 if isinstance(rule._converters[name], IntegerConverter) else STRINGS.get(name, "x")
            for name in rule.arguments
        }
        urls.append(adapter.build(rule.endpoint, values))
    return urls


def _check(page: Any, base: str, urls: list[str], axe_source: str) -> tuple[int, list[str]]:
    problems, seen = [], 0
    for url in urls:
        response = page.goto(base + url)
        if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        seen += 1
        problems += [f"{url}: {line}" for line in axe_violations(page, axe_source)]
    return seen, problems


def test_supporter_pages_have_no_accessibility_violation(browser, live_app, axe_source) -> None:
    app, base = live_app
    context = browser.new_context(locale="fr-FR", bypass_csp=True, **PHONE)
    page = context.new_page()
    urls = ["/c/livre-blanc-demo", "/c/livre-blanc-demo?postcode=99002", *_pages(app, "/c/"), "/login"]
    urls += ["/login/forgot", "/privacy/collectif-demo", "/privacy/me"]
    seen, problems = _check(page, base, list(dict.fromkeys(urls)), axe_source)
    context.close()
    assert seen >= 5
    assert not problems, "\n".join(problems)


def test_the_supporter_page_starts_with_a_skip_link(browser, live_server) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server}/c/livre-blanc-demo")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.textContent.trim(), document.activeElement.hash]")
    assert focused[0] == "Aller au contenu" and focused[1] == "#content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#content"
    context.close()


def _waves_in_every_state(app: Any) -> None:
    """The demo's campaign gets a wave in each state, so each badge and bar colour is checked."""
    from datetime import timedelta

    from campaign.models import Campaign, Wave, WaveStatus
    from database import utcnow
    from extensions import db

    with app.app_context():
        campaign = db.session.scalars(db.select(Campaign)).first()
        start = utcnow() + timedelta(days=30)
        for n, status in enumerate([WaveStatus.OPEN, WaveStatus.PAUSED, WaveStatus.CLOSED, WaveStatus.CANCELLED]):
            opens = start + timedelta(days=n)
            closes = opens + timedelta(hours=2)
            db.session.add(
                Wave(campaign_id=campaign.id, title=f"Vague {status.value}", status=status, opens_at=opens,
                     closes_at=closes, message_ids=[], networks=["bluesky"])
            )  # fmt: skip
        db.session.commit()


def test_staff_pages_have_no_accessibility_violation(browser, live_app, axe_source) -> None:
    app, base = live_app
    _waves_in_every_state(app)
    context = browser.new_context(locale="fr-FR", bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, email="admin@demo.example", password="demo-admin")  # every page: the admin's too
    urls = [*_pages(app, "/admin"), "/admin/campaigns/1/end", "/admin/targets/?group=Groupe+D%C3%A9mo+A"]
    urls += ["/account/", "/account/two-factor"]
    seen, problems = _check(page, base, list(dict.fromkeys(urls)), axe_source)
    context.close()
    assert seen >= 20
    assert not problems, "\n".join(problems)


def test_every_wave_bar_keeps_its_label_readable() -> None:
    """axe does not measure SVG text: the timeline's white labels are checked against each bar's fill here."""
    import re
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text(encoding="utf-8")
    fills = dict(re.findall(r"\.timeline-wave(?:\.status-(\w+))? rect \{ fill: (#[0-9a-f]{6}); \}", css))
    texts = dict(re.findall(r"\.timeline-wave(?:\.status-(\w+))? text \{ fill: (#[0-9a-f]{6});", css))
    assert set(fills) >= {"", "open", "paused", "closed", "cancelled"}

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    for state, fill in fills.items():
        light, dark = sorted([luminance(fill), luminance(texts.get(state, texts[""]))], reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, (state, fill)
