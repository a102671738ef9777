"""Who sees what: anonymous visitors, other organisations, analysts, organisers."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.conftest import login


def _staff_urls(campaign_id: int, message_id: int = 1) -> list[str]:
    base = f"/admin/campaigns/{campaign_id}"
    return [
        base,
        f"{base}/edit",
        f"{base}/targets",
        f"{base}/messages/new",
        f"{base}/messages/{message_id}",
        f"{base}/preview",
    ]


def test_anonymous_is_sent_to_login(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    for url in ["/admin/", "/admin/targets/", "/admin/targets/import", *_staff_urls(campaign.id)]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_other_organisation_gets_404_everywhere(client, make_org, make_user, make_campaign) -> None:
    campaign = make_campaign(make_org("Mine"))
    login(client, make_user(make_org("Theirs"), Role.ADMIN))
    for url in _staff_urls(campaign.id):
        assert client.get(url).status_code == 404, url
    for url, data in [
        (f"/admin/campaigns/{campaign.id}/status", {"status": "paused"}),
        (f"/admin/campaigns/{campaign.id}/edit", {"title": "Pris"}),
        (f"/admin/campaigns/{campaign.id}/messages/1/delete", {}),
    ]:
        assert client.post(url, data=data).status_code == 404, url
    assert client.post(f"/admin/campaigns/{campaign.id}/length", json={"text": "x"}).status_code == 404
    assert "Pour le Livre blanc" not in client.get("/admin/").text


def test_analyst_reads_but_cannot_edit(client, make_org, make_user, make_campaign) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    login(client, make_user(organisation, Role.ANALYST))
    assert client.get(f"/admin/campaigns/{campaign.id}").status_code == 200
    assert client.get(f"/admin/campaigns/{campaign.id}/preview").status_code == 200
    assert client.get("/admin/targets/").status_code == 200
    for url in [
        f"/admin/campaigns/{campaign.id}/edit",
        f"/admin/campaigns/{campaign.id}/targets",
        f"/admin/campaigns/{campaign.id}/messages/new",
        "/admin/campaigns/new",
        "/admin/targets/import",
    ]:
        assert client.get(url).status_code == 403, url
    response = client.post(f"/admin/campaigns/{campaign.id}/status", data={"status": "paused"})
    assert response.status_code == 403
    page = client.get(f"/admin/campaigns/{campaign.id}").text
    assert "Pause" not in page and "New message" not in page  # no button that would only say 403


@pytest.mark.parametrize("role", [Role.ORGANISER, Role.ADMIN])
def test_editors_can_pause_their_campaign(client, make_org, make_user, make_campaign, role) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    login(client, make_user(organisation, role))
    response = client.post(f"/admin/campaigns/{campaign.id}/status", data={"status": "paused"}, follow_redirects=True)
    assert response.status_code == 200 and "The campaign is now paused." in response.text


def test_draft_is_hidden_from_the_public_but_previewable_by_its_staff(
    client, make_org, make_user, make_campaign
) -> None:
    from campaign.models import CampaignStatus

    organisation = make_org()
    campaign = make_campaign(organisation, status=CampaignStatus.DRAFT)
    assert client.get(f"/c/{campaign.slug}").status_code == 404
    login(client, make_user(make_org("Other"), Role.ADMIN))
    assert client.get(f"/c/{campaign.slug}").status_code == 404
    client.post("/logout")
    login(client, make_user(organisation, Role.ANALYST))
    response = client.get(f"/c/{campaign.slug}")
    assert response.status_code == 200 and "brouillon" in response.text  # the campaign speaks French


def test_wrong_password_and_disabled_users_cannot_sign_in(client, app, make_org, make_user) -> None:
    from extensions import db

    user = make_user(make_org())
    response = client.post("/login", data={"email": user.email, "password": "wrong password"})
    assert response.status_code == 200 and "Wrong e-mail or password." in response.text
    with app.app_context():
        db.session.get(type(user), user.id).is_enabled = False
        db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 200


def test_login_never_redirects_off_site(client, make_org, make_user) -> None:
    user = make_user(make_org())
    response = client.post(
        "/login?next=https://evil.example/", data={"email": user.email, "password": "correct horse battery"}
    )
    assert response.headers["Location"] == "/admin/"


def test_every_form_needs_its_csrf_token(app, make_org, make_user, make_campaign) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    user = make_user(organisation)
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 400 and "form has expired" in response.text
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    for url, data in [
        (f"/admin/campaigns/{campaign.id}/status", {"status": "paused"}),
        ("/logout", {}),
        (f"/admin/campaigns/{campaign.id}/length", None),
    ]:
        response = client.post(url, data=data) if data is not None else client.post(url, json={"text": "x"})
        assert response.status_code == 400, url
