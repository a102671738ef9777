"""Who may reach what, for every route of the app, generated from `app.url_map`: a new route is covered the
day it is added, and one that fits no rule below fails the test until it is given one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from accounts.models import Role
from app import create_app
from extensions import db
from recipients.models import RecipientList
from tests.conftest import TEST_TOKEN_KEY, login
from tests.test_reminders import open_wave_now

SLUG = "pour-le-livre-blanc"
STRINGS = {"slug": SLUG, "network": "x", "fmt": "csv", "action": "pause", "token": "forged.token", "filename": "x.css"}
# Read-only answers, or their own account (sign-out, password, second factor, sessions).
ANALYST_MAY_POST = {
    "campaign_admin.length",
    "accounts.logout",
    "security.two_factor_setup",
    "security.recovery_codes",
    "security.two_factor_disable",
    "security.change_password",
    "security.end",
}
PUBLIC_PREFIXES = ("/c/", "/s/", "/proof/", "/login", "/logout", "/static/", "/privacy/", "/invitation/")


@pytest.fixture
def database_uri(tmp_path: Path) -> str:
    """SQLite only: the matrix is about who reaches what, not about the database."""
    return f"sqlite:///{tmp_path / 'matrix.db'}"


def _url(app: Flask, rule: Rule) -> str:
    """The rule's URL with the first organisation's ids (every row here is number 1) and fitting strings."""
    values = {
        name: 1 if isinstance(rule._converters[name], IntegerConverter) else STRINGS.get(name, "x")
        for name in rule.arguments
    }
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def _has_ids(rule: Rule) -> bool:
    return any(isinstance(converter, IntegerConverter) for converter in rule._converters.values())


def _kind(rule: Rule) -> str:
    if rule.rule == "/" or rule.rule.startswith(PUBLIC_PREFIXES):
        return "public"
    if rule.rule.startswith(("/admin", "/account")):
        return "staff"
    raise AssertionError(f"{rule.rule} is neither a public nor a staff route: give it a rule in this test")


@pytest.fixture
def world(app: Flask, make_org: Any, make_user: Any, make_campaign: Any) -> dict[str, FlaskClient]:
    """Organisation 1 with a campaign, a wave, a list and its staff; organisation 2's admin; two visitors."""
    mine = make_org("Collectif Un")
    campaign = make_campaign(mine, slug=SLUG, networks=["x", "bluesky", "mastodon"])
    open_wave_now(app, campaign)
    with app.app_context():
        db.session.add(RecipientList(organisation_id=mine.id, name="Tous", is_dynamic=True, criteria={}))
        db.session.commit()
    clients = {"anonymous": app.test_client(), "supporter": app.test_client()}
    clients["supporter"].get(f"/c/{SLUG}")  # a visitor with a visit in their cookie
    for name, organisation, role in [
        ("analyst", mine, Role.ANALYST),
        ("organiser", mine, Role.ORGANISER),
        ("admin", mine, Role.ADMIN),
        ("other admin", make_org("Collectif Deux"), Role.ADMIN),
    ]:
        clients[name] = app.test_client()
        login(clients[name], make_user(organisation, role))
    return clients


def _rules(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            yield rule, method, _url(app, rule)


def test_every_route_answers_each_role_as_it_should(app: Flask, world: dict[str, FlaskClient]) -> None:
    checked = 0
    problems: list[str] = []

    def expect(role: str, rule: Rule, method: str, url: str, ok: Callable[[int, str], bool]) -> None:
        nonlocal checked
        response = world[role].open(url, method=method, data={})
        checked += 1
        location = response.headers.get("Location", "")
        if response.status_code >= 500 or not ok(response.status_code, location):
            problems.append(f"{role} {method} {url}: {response.status_code} {location}")

    def refused(status: int, location: str) -> bool:
        return status in (400, 401, 403, 404, 405, 429) or (status == 302 and "/login" in location)

    # Everyone but the owners first, so that no owner's POST has changed the world under them.
    for rule, method, url in _rules(app):
        kind = _kind(rule)
        for role in ("anonymous", "supporter"):
            expect(role, rule, method, url, refused if kind == "staff" else lambda status, location: True)
        if kind == "staff" and _has_ids(rule):
            expect("other admin", rule, method, url, lambda status, location: status in (400, 403, 404, 405))
        if kind == "staff" and method == "POST" and rule.endpoint not in ANALYST_MAY_POST:
            expect("analyst", rule, method, url, lambda status, location: status in (400, 403, 404, 405))
        elif method == "GET":
            expect("analyst", rule, method, url, lambda status, location: True)
    for rule, method, url in _rules(app):
        if method == "GET":
            for role in ("organiser", "admin"):
                expect(role, rule, method, url, lambda status, location: True)
    assert not problems, "\n".join(problems)
    assert checked > 200


def test_every_endpoint_is_throttled_per_client(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'throttle.db'}",
            "SECRET_KEY": "test-secret",
            "TOKEN_KEYS": (TEST_TOKEN_KEY,),
            "SANDBOX_MOUNT": False,
            "RATELIMIT_DEFAULT": "5 per minute",
        }
    )
    with app.app_context():
        db.create_all()
    client = app.test_client()
    codes = [client.get("/login").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    other = app.test_client()  # another client has a budget of its own
    assert other.get("/login", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    with app.app_context():
        db.engine.dispose()
