"""The product as its opponents try it: each finding of the security review (issue 11), reproduced, with the
fix holding. Every test here fails without its fix."""

from __future__ import annotations

import base64
import json
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import accounts.services
from accesslog import scrub
from accounts.models import Role, User
from accounts.services import AccountError, check_password_strength
from analytics.engagement import _same_account
from app import create_app
from campaign.models import Action
from campaign.tallies import VisitTally
from channels import Network, http
from channels.api import Reply, web_link
from channels.errors import ChannelError, ErrorKind
from channels.mastodon import normalise_instance
from csvout import defuse
from database import utcnow
from extensions import db
from proof import new_challenge
from recipients.lists import export_csv
from recipients.models import PostcodeArea, Recipient, RecipientList
from recipients.postcodes import constituencies_for, replace_postcodes
from recipients.reading import FileProblem, read_json, read_yaml
from supporters.models import MastodonApp
from tests.conftest import PASSWORD, TEST_TOKEN_KEY, fold, login
from tests.test_reminders import open_wave_now
from waves.models import Subscription, SubscriptionState
from waves.optin import confirm, confirm_token, subscribe, unsubscribe, unsubscribe_token

SEND = re.compile(r'href="(/c/[^"]+/send/(?:x|bluesky)/[^"]+)"')


def _send_link(client: FlaskClient, slug: str) -> str:
    found = SEND.search(client.get(f"/c/{slug}").text)
    assert found, "the page offers no X send link"
    return found.group(1)


def _actions(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Action)) or 0)


def _refused(app: Flask) -> int:
    fold(app)
    with app.app_context():
        return int(db.session.scalar(select(func.coalesce(func.sum(VisitTally.refused), 0))) or 0)


# 1. Counts and the wave's cap -----------------------------------------------------------------------


@pytest.mark.parametrize("database_uri", ["sqlite"], indirect=True)  # 650 requests: the behaviour, not the database
def test_500_cookieless_clicks_count_nothing_and_150_cannot_empty_a_wave(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=5, networks=["x", "bluesky"])
    link = _send_link(client, campaign.slug)
    assert client.get(link).status_code == 303  # the visitor who was shown the link: counted
    assert _actions(app) == 1
    for n in range(500):  # the link copied into a loop, without the visit's cookie
        stranger = app.test_client(use_cookies=False)
        response = stranger.get(link, environ_base={"REMOTE_ADDR": f"198.51.100.{n % 200}"})
        assert response.status_code in (303, 429)
    assert _actions(app) == 1
    assert _refused(app) >= 400  # shown to analysts as clicks refused

    open_wave_now(app, campaign, cap_per_hour=30)
    with app.app_context():
        targets = [r.id for r in db.session.scalars(select(Recipient))]
    assert len(targets) == 5
    # 30 requests per target, each from a fresh cookieless browser that takes a link and replays it
    for _ in range(150):
        attacker = app.test_client()  # a fresh browser each time, which takes a link and replays it cookieless
        found = SEND.search(attacker.get(f"/c/{campaign.slug}").text)
        if found:
            app.test_client(use_cookies=False).get(found.group(1))
    assert _actions(app) == 1
    newcomer = app.test_client()
    assert SEND.search(newcomer.get(f"/c/{campaign.slug}").text), "the wave still offers a target"


def test_one_visit_counts_once_per_target_and_network_whatever_its_cookie_says(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=2, networks=["x"])
    link = _send_link(client, campaign.slug)
    client.get(link)
    with client.session_transaction() as session:  # forget the visit's record of the click, keep its id
        session["visits"] = {}
    client.get(link)
    assert _actions(app) == 1


def test_a_client_over_the_click_throttle_is_not_counted(app: Flask, make_org: Any, make_campaign: Any) -> None:
    app.config["CLICK_LIMIT"] = "3 per minute"
    campaign = make_campaign(make_org(), targets=6, networks=["x"])
    for _ in range(6):  # six real browsers behind one address
        browser = app.test_client()
        browser.get(_send_link(browser, campaign.slug))
    assert _actions(app) == 3
    assert _refused(app) == 3


# 2. Outbound fetches to hosts a stranger names --------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "db.internal:5432",
        "metadata.google.internal",
        "foo.localhost:6379",
        "mastodon.social:99999",
        "127.0.0.1",
        "[::1]",
        "printer.local",
        "mastodon.social:8443",
    ],
)
def test_a_mastodon_server_must_be_a_public_name_on_443(typed: str) -> None:
    assert normalise_instance(typed) is None
    assert normalise_instance("https://Piaille.fr/") == "piaille.fr"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "fd00::1",
        "fe80::1",
        "224.0.0.1",
        "0.0.0.0",  # noqa: S104
        "100.64.0.1",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
    ],
)
def test_the_guard_refuses_every_address_that_is_not_public(address: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolved by a stub: nothing is sent to these addresses, the guard refuses before connecting."""
    monkeypatch.setattr(http, "resolve", lambda host, port: [address])
    assert not http.is_public_address(address)
    session = http.Endpoint(None, timeout=1).session("mastodon")
    with pytest.raises(http.UnsafeHost):
        session.get("https://mastodon.attacker.example/api/v2/instance")


def test_a_name_resolving_to_one_public_and_one_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "resolve", lambda host, port: ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(http.UnsafeHost, match="not public"):
        http.checked_addresses("rebind.example", 443)


@pytest.mark.parametrize(
    "url",
    [
        "http://mastodon.social/",
        "https://mastodon.social:8443/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://user:pw@mastodon.social/",
        "file:///etc/passwd",
    ],
)
def test_only_https_on_443_to_a_name(url: str) -> None:
    with pytest.raises(http.UnsafeHost):
        http.check_url(url)


@pytest.fixture
def redirecting_sandbox() -> Iterator[tuple[str, list[str]]]:
    """A stand-in sandbox whose Mastodon answers with a redirect to an internal page on 127.0.0.1."""
    fetched: list[str] = []

    @Request.application
    def secret(request: Request) -> Response:
        fetched.append(request.path)
        return Response("internal secret")

    inner = make_server("127.0.0.1", 0, secret)
    threading.Thread(target=inner.serve_forever, daemon=True).start()

    @Request.application
    def redirector(request: Request) -> Response:
        return Response("", status=302, headers={"Location": f"http://127.0.0.1:{inner.server_port}/internal-secret"})

    outer = make_server("127.0.0.1", 0, redirector)
    threading.Thread(target=outer.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{outer.server_port}", fetched
    outer.shutdown()
    inner.shutdown()


def test_a_redirect_to_an_internal_host_is_not_followed(redirecting_sandbox: tuple[str, list[str]]) -> None:
    from channels import mastodon

    url, fetched = redirecting_sandbox
    with pytest.raises(ChannelError) as raised:
        mastodon.server_info(http.Endpoint(url, timeout=2), "evil.example")
    assert raised.value.kind is ErrorKind.NOT_SUPPORTED
    assert "secret" not in str(raised.value)
    assert fetched == []


# 3. Absolute URLs from PUBLIC_URL, never the Host header ----------------------------------------------


def test_the_host_header_cannot_rewrite_a_mastodon_redirect_uri(app: Flask, client: FlaskClient, sandbox: Any) -> None:
    app.config["SERVER_NAME"] = None  # any Host reaches the app, as behind a careless proxy
    response = client.post(
        "/s/connect/mastodon", data={"instance": "piaille.fr", "next": "/"}, headers={"Host": "evil.example"}
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Fs%2Fconnect%2Fmastodon%2Fcallback" in response.headers["Location"]
    with app.app_context():
        assert [a.redirect_uri for a in db.session.scalars(select(MastodonApp))] == [
            "http://localhost/s/connect/mastodon/callback"
        ]


# 4. Imports -------------------------------------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_before_it_expands() -> None:
    bomb = "a: &a ['x','x','x','x','x','x','x','x','x']\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)},*{chr(97 + n)},*{chr(97 + n)},*{chr(97 + n)}]\n"
        for n in range(8)
    )
    assert len(bomb) < 400
    with pytest.raises(FileProblem, match="aliases"):
        read_yaml(bomb)


def test_json_nested_200000_deep_is_a_reason_not_a_crash(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(FileProblem, match="nested deeper"):
        read_json(deep)
    campaign = make_campaign(make_org(), targets=1)
    response = client.post(f"/c/{campaign.slug}/length", data=deep, content_type="application/json")
    assert response.status_code == 400


# 5 and 6. Staff sessions and sign-in --------------------------------------------------------------------


def _remember_cookie(response: Any) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")]
    return header


def test_remember_me_is_safe_rotated_and_ends_at_logout(app: Flask, make_org: Any, make_user: Any) -> None:
    app.config.update(REMEMBER_COOKIE_SECURE=True)
    user = make_user(make_org())
    first = app.test_client()
    response = first.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    cookie = _remember_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    second = app.test_client()
    again = _remember_cookie(second.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}))
    assert cookie.split(";")[0] != again.split(";")[0]  # a new value at every sign-in
    session_cookie = first.get_cookie("session")
    assert session_cookie is not None
    first.post("/logout")
    replay = app.test_client()
    replay.set_cookie("remember_token", cookie.split(";")[0].split("=", 1)[1], domain="localhost")
    assert replay.get("/admin/").status_code == 302  # to the login page
    stolen = app.test_client()
    stolen.set_cookie("session", session_cookie.value, domain="localhost")
    assert stolen.get("/admin/").status_code == 302


def test_a_password_change_ends_every_session(app: Flask, client: FlaskClient, make_org: Any, make_user: Any) -> None:
    user = make_user(make_org())
    login(client, user)
    assert client.get("/admin/").status_code == 200
    with app.app_context():
        db.session.get_one(User, user.id).set_password("another long passphrase")
        db.session.commit()
    assert client.get("/admin/").status_code == 302


def test_login_is_throttled_per_account(app: Flask, make_org: Any, make_user: Any) -> None:
    user = make_user(make_org())
    for n in range(5):
        app.test_client().post(
            "/login",
            data={"email": user.email, "password": f"wrong {n}"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        )
    refused = app.test_client().post("/login", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 429


def test_an_unknown_address_costs_a_password_hash_too(ctx: None, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = accounts.services.check_password_hash
    monkeypatch.setattr(accounts.services, "check_password_hash", lambda h, p: checked.append(p) or real(h, p))
    assert accounts.services.authenticate("nobody@nowhere.example", "guess") is None
    assert checked == ["guess"]


@pytest.mark.parametrize("password", ["password123", "1234567890", "qwertyuiop", "Password1234"])
def test_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(AccountError, match="commonly used"):
        check_password_strength(password.lower() if password == "Password1234" else password)


# 7 and 12. Confirmation e-mails ---------------------------------------------------------------------------


def test_confirmation_requests_are_capped_per_mailbox(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org())
    codes = [
        client.post(
            f"/c/{campaign.slug}/subscribe",
            data={"email": f"victim+{n}@exemple.fr"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        ).status_code
        for n in range(6)
    ]
    assert codes == [302, 302, 302, 429, 429, 429]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 3


def test_the_confirmation_says_the_organisers_may_write(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any, mailbox: Any
) -> None:
    from tests.test_reminders import drain

    campaign = make_campaign(make_org())
    client.post(f"/c/{campaign.slug}/subscribe", data={"email": "camille@exemple.fr", "share": "y"})
    drain(app)
    [mail] = mailbox.state.mailbox("camille@exemple.fr")
    assert "Vous avez aussi coché « les organisateurs peuvent aussi m’écrire »" in mail.text


def test_a_confirmation_link_is_spent_by_an_unsubscription(ctx: None, make_org: Any, make_campaign: Any) -> None:
    campaign = make_campaign(make_org())
    now = utcnow()
    subscription = subscribe(campaign.id, "camille@exemple.fr", language="fr", now=now)
    assert subscription is not None
    link = confirm_token(subscription)
    assert confirm(link, now) is not None
    assert unsubscribe(unsubscribe_token(subscription), now) is not None
    assert confirm(link, now) is None
    assert db.session.get_one(Subscription, subscription.id).state is SubscriptionState.UNSUBSCRIBED


# 8. Postcode maps -----------------------------------------------------------------------------------------


def test_one_organisations_postcode_map_leaves_anothers_alone(ctx: None, make_org: Any) -> None:
    mine, theirs = make_org("Un"), make_org("Deux")
    replace_postcodes(theirs.id, {"75001": ["7501"]})
    replace_postcodes(mine.id, {"75001": ["7502"]})
    assert constituencies_for(theirs.id, "75001") == ["7501"]
    assert constituencies_for(mine.id, "75001") == ["7502"]
    assert db.session.scalar(select(func.count()).select_from(PostcodeArea)) == 2


# 9. Formulas in CSV ---------------------------------------------------------------------------------------


def test_the_list_export_defuses_formulas(ctx: None, make_org: Any) -> None:
    from tests.conftest import recipient

    organisation = make_org()
    db.session.add(recipient(organisation.id, 1, last_name='=HYPERLINK("http://evil.example","x")'))
    target_list = RecipientList(organisation_id=organisation.id, name="Tous", is_dynamic=True, criteria={})
    db.session.add(target_list)
    db.session.flush()
    exported = export_csv(organisation.id, target_list)
    assert "'=HYPERLINK" in exported and ",=HYPERLINK" not in exported
    assert defuse("@SUM(A1)") == "'@SUM(A1)" and defuse(12) == 12


# 10. No 500 for absurd numbers --------------------------------------------------------------------------


def test_absurd_ids_pages_and_days_are_4xx(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any, make_user: Any
) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation, targets=1)
    huge = 2**64
    assert client.get(f"/c/{campaign.slug}/posts/{huge}").status_code == 404
    assert client.post(f"/c/{campaign.slug}/length", json=["x"]).status_code == 400
    assert client.post(f"/c/{campaign.slug}/length", json="x").status_code == 400
    login(client, make_user(organisation))
    assert client.get(f"/admin/campaigns/{huge}").status_code == 404
    assert client.get(f"/admin/targets/?page={10**30}").status_code == 200
    assert client.get(f"/admin/campaigns/{campaign.id}/analytics?end=9999-12-31").status_code == 200


# 11. The sandbox on the app's own origin -------------------------------------------------------------------


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mounted.db'}",
            "SECRET_KEY": "test-secret",
            "TOKEN_KEYS": (TEST_TOKEN_KEY,),
            "WTF_CSRF_ENABLED": False,
            "SANDBOX_MOUNT": True,
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_the_mounted_sandboxs_mailbox_and_control_api_need_staff(mounted: Flask) -> None:
    from accounts.services import create_user, get_or_create_organisation

    anonymous = mounted.test_client()
    for path in ("/sandbox/", "/sandbox/__sandbox__/mail", "/sandbox/__sandbox__/config"):
        assert anonymous.get(path).status_code == 401
    page = anonymous.get("/sandbox/", headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=%2Fsandbox%2F"
    assert anonymous.post("/sandbox/__sandbox__/reset").status_code == 401
    with mounted.app_context():
        create_user(
            organisation=get_or_create_organisation("Org"),
            email="staff@org.example",
            name="S",
            password="a long passphrase here",
            role=Role.ORGANISER,
        )
        db.session.commit()
    staff = mounted.test_client()
    staff.post("/login", data={"email": "staff@org.example", "password": "a long passphrase here"})
    page = staff.get("/sandbox/")
    assert page.status_code == 200 and "script-src 'none'" in page.headers["Content-Security-Policy"]
    assert staff.get("/sandbox/__sandbox__/mail").status_code == 200


# 13. Files, links and logs ---------------------------------------------------------------------------------


def test_the_database_file_is_private(mounted: Flask) -> None:
    path = Path(mounted.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    path.chmod(0o644)  # as a careless copy would leave it
    with mounted.app_context():
        db.engine.dispose()
        db.session.execute(select(1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_signed_links_carry_no_address(ctx: None, make_org: Any, make_campaign: Any) -> None:
    campaign = make_campaign(make_org())
    subscription = subscribe(campaign.id, "victim@example.org", language="fr", now=utcnow())
    assert subscription is not None
    for token in (confirm_token(subscription), unsubscribe_token(subscription)):
        payload = token.split(".")[0]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        assert b"victim" not in decoded and b"example.org" not in decoded


def test_the_access_log_drops_queries_and_tokens() -> None:
    assert scrub("/s/connect/x/callback?state=abc&code=SECRET") == "/s/connect/x/callback"
    assert scrub("/s/confirm/WyJzZWNyZXQiXQ.abc") == "/s/confirm/…"
    assert scrub("/c/livre/send/x/TOKEN.sig") == "/c/livre/send/x/…"
    assert scrub("/c/livre/r/TOKEN") == "/c/livre/r/…"


# 14. What a network's server says -------------------------------------------------------------------------


def test_links_from_a_network_must_be_web_addresses() -> None:
    assert web_link("javascript:alert(1)") == ""
    assert web_link("data:text/html,<script>") == ""
    assert web_link("https://piaille.fr/@camille/1") == "https://piaille.fr/@camille/1"


def test_a_forged_mastodon_answer_is_not_the_targets() -> None:
    forged = Reply("9", "depute1@piaille.fr", "Merci !", "https://evil.example/@depute1/9", None)
    genuine = Reply("9", "depute1@piaille.fr", "Merci !", "https://piaille.fr/@depute1/9", None)
    assert not _same_account(Network.MASTODON, forged, "depute1@piaille.fr")
    assert _same_account(Network.MASTODON, genuine, "depute1@piaille.fr")


# 15. Rows and redirects a stranger makes ---------------------------------------------------------------------


def test_anonymous_mastodon_connections_cannot_make_unbounded_rows(app: Flask, sandbox: Any) -> None:
    client = app.test_client()
    for n in range(20):
        client.post("/s/connect/mastodon", data={"instance": f"serveur{n}.example", "next": "/"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MastodonApp)) == 10


def test_a_wave_action_never_redirects_to_the_referer(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any, make_user: Any
) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    wave_id = open_wave_now(app, campaign)
    login(client, make_user(organisation))
    response = client.post(
        f"/admin/campaigns/{campaign.id}/waves/{wave_id}/pause", headers={"Referer": "https://evil.example/"}
    )
    assert response.status_code == 302 and "evil.example" not in response.headers["Location"]


# The proof of work, as a browser solves it ------------------------------------------------------------------


def _solve(challenge: dict[str, Any]) -> str:
    import hashlib

    for number in range(int(challenge["maxNumber"]) + 1):
        if hashlib.sha256(f"{challenge['salt']}{number}".encode()).hexdigest() == challenge["challenge"]:
            fields = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
            return base64.b64encode(json.dumps({**fields, "number": number}).encode()).decode()
    raise AssertionError("no solution")


def test_the_subscribe_form_needs_a_solved_challenge_once(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    app.config.update(ALTCHA_ENABLED=True, ALTCHA_MAX_NUMBER=2000)
    campaign = make_campaign(make_org())
    url = f"/c/{campaign.slug}/subscribe"
    assert client.post(url, data={"email": "a@exemple.fr"}).status_code == 400
    challenge = client.get("/proof/challenge").get_json()
    solved = _solve(challenge)
    assert client.post(url, data={"email": "a@exemple.fr", "altcha": solved}).status_code == 302
    assert client.post(url, data={"email": "b@exemple.fr", "altcha": solved}).status_code == 400  # used once
    with app.app_context():
        forged = dict(new_challenge(), challenge="0" * 64)
    assert client.post(url, data={"email": "c@exemple.fr", "altcha": _solve_or_empty(forged)}).status_code == 400


def test_the_forms_that_send_an_e_mail_to_a_typed_address_need_a_solved_challenge(
    app: Flask, client: FlaskClient, make_org: Any
) -> None:
    """A stranger cannot use a reset or a data request to fill someone's mailbox from a script."""
    from scheduler.models import Delivery

    app.config.update(ALTCHA_ENABLED=True, ALTCHA_MAX_NUMBER=2000)
    organisation = make_org()
    with app.app_context():
        slug = db.session.get_one(type(organisation), organisation.id).slug

    def queued() -> int:
        with app.app_context():
            return len(db.session.scalars(select(Delivery)).all())

    for number, url in enumerate(("/login/forgot", f"/privacy/{slug}/request")):
        refused = client.post(url, data={"email": "cible@exemple.fr"})
        assert refused.status_code in (200, 400) and queued() == number
        solved = _solve(client.get("/proof/challenge").get_json())
        assert client.post(url, data={"email": "cible@exemple.fr", "altcha": solved}).status_code == 302
        assert queued() == number + 1


def _solve_or_empty(challenge: dict[str, Any]) -> str:
    try:
        return _solve(challenge)
    except AssertionError:
        return base64.b64encode(json.dumps({**challenge, "number": 1}).encode()).decode()


def test_the_guard_is_used_by_every_network_session() -> None:
    for network in ("x", "mastodon", "bluesky"):
        session = http.Endpoint(None).session(network)
        assert isinstance(session.get_adapter("https://example.org/"), http.EndpointAdapter)
    assert requests.Session().max_redirects != http.MAX_REDIRECTS


def test_the_dashboard_says_how_many_clicks_were_refused(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any, make_user: Any
) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation, targets=1, networks=["x"])
    link = _send_link(client, campaign.slug)
    for _ in range(3):
        app.test_client(use_cookies=False).get(link)
    fold(app)
    analyst = app.test_client()
    login(analyst, make_user(organisation, Role.ANALYST))
    page = analyst.get(f"/admin/campaigns/{campaign.id}/analytics").text
    assert "3 clicks were not counted" in page or "3 clics n’ont pas été comptés" in page
    assert analyst.get(f"/admin/campaigns/{campaign.id}/analytics.json").get_json()["funnel"]["refused"] == 3


# Production and rehearsal -----------------------------------------------------------------------------------


def test_production_needs_public_url_and_never_mounts_the_sandbox() -> None:
    from config import Config, ConfigError

    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Config.from_env({"PRODUCTION": "true"})
    settings = Config.from_env({"PRODUCTION": "true", "PUBLIC_URL": "https://agir.example.org"})
    assert settings.SANDBOX_MOUNT is False and settings.SESSION_COOKIE_SECURE and settings.REMEMBER_COOKIE_SECURE
    assert Config.from_env({"DISPATCH": "celery"}).RATELIMIT_STORAGE_URI.startswith("redis://")


def test_in_production_a_network_that_is_not_live_is_a_compose_link_only(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    app.config.update(PRODUCTION=True, LIVE_NETWORKS=())
    campaign = make_campaign(make_org(), targets=1, networks=["x", "bluesky"])
    page = client.get(f"/c/{campaign.slug}").text
    assert SEND.search(page) and "/s/connect/" not in page
    for path in ("/s/connect/x", "/s/connect/bluesky", "/s/connect/mastodon", "/s/connect/x/callback"):
        assert client.get(path).status_code == 404
