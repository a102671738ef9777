"""The supporter's path, without JavaScript: page, send link, action, thanks, postcode, languages."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from campaign.models import Action, Campaign, CampaignStatus
from channels import Network
from database import utcnow
from extensions import db
from recipients.models import Recipient
from recipients.postcodes import replace_postcodes
from waves.jobs import open_due_waves
from waves.services import schedule_wave

SEND = re.compile(r'(?:href|action)="(/c/[^/]+/send/(\w+)/[^"]+)"')  # e-mail is a form: the letter is signed


def _send_links(html: str) -> dict[str, str]:
    return {network: url.replace("&amp;", "&") for url, network in SEND.findall(html)}


def _shown_text(html: str, network: str) -> str:
    match = re.search(rf'id="text-{network}">(.*?)</p>', html, re.S)
    assert match, f"no {network} text on the page"
    return match.group(1).replace("&#39;", "'").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def test_page_shows_cause_target_and_a_text_per_network(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    html = client.get(f"/c/{campaign.slug}").text
    assert "Deux paragraphes." in html and "Écrire à" in html
    assert set(_send_links(html)) == {"x", "bluesky", "mastodon", "email"}
    assert re.search(
        r"@depute\d Madame la Députée|@depute\d Monsieur le Député|Bonjour Prénom\d", _shown_text(html, "x")
    )


def test_send_counts_and_opens_the_exact_text(client, app, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    html = client.get(f"/c/{campaign.slug}").text
    shown = _shown_text(html, "x")
    response = client.get(_send_links(html)["x"])
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert (location.netloc, location.path) == ("x.com", "/intent/tweet")
    assert parse_qs(location.query)["text"] == [shown]
    with app.app_context():
        action = db.session.scalars(select(Action)).one()
        assert (action.network.value, action.text, action.mode.value) == ("x", shown, "link")
    client.get(_send_links(html)["x"])  # pressing the same button again counts once
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Action)) == 1


def test_each_network_opens_its_composer(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    links = _send_links(client.get(f"/c/{campaign.slug}").text)
    assert client.get(links["bluesky"]).headers["Location"].startswith("https://bsky.app/intent/compose?text=")
    assert client.get(links["email"]).headers["Location"].startswith("mailto:depute")


def test_mastodon_asks_the_instance_once(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org(), targets=2)
    link = _send_links(client.get(f"/c/{campaign.slug}").text)["mastodon"]
    asked = client.get(link)
    assert asked.status_code == 302 and "/mastodon?next=" in asked.headers["Location"]
    form = client.get(asked.headers["Location"])
    assert "Sur quel serveur Mastodon" in form.text
    refused = client.post(f"/c/{campaign.slug}/mastodon", data={"instance": "pas un serveur", "next": link})
    assert "Saisissez l’adresse de votre serveur Mastodon" in refused.text
    accepted = client.post(f"/c/{campaign.slug}/mastodon", data={"instance": "https://Piaille.fr/", "next": link})
    assert accepted.headers["Location"] == link
    assert client.get(link).headers["Location"].startswith("https://piaille.fr/share?text=")
    next_link = _send_links(client.get(f"/c/{campaign.slug}").text)["mastodon"]
    assert client.get(next_link).headers["Location"].startswith("https://piaille.fr/share?text=")  # remembered


def test_never_the_same_target_twice_in_one_visit(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org(), targets=3)
    seen = []
    for _ in range(3):
        html = client.get(f"/c/{campaign.slug}").text
        seen.append(re.search(r'id="target-name">(.*?)<', html).group(1))
        client.get(_send_links(html)["x"])
    assert len(set(seen)) == 3
    assert "Vous avez écrit à tous les destinataires" in client.get(f"/c/{campaign.slug}").text


def test_reload_keeps_the_target_and_another_changes_it(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org(), targets=3)
    name = re.compile(r'id="target-name">(.*?)<')
    first = name.search(client.get(f"/c/{campaign.slug}").text).group(1)
    assert name.search(client.get(f"/c/{campaign.slug}").text).group(1) == first
    client.get(f"/c/{campaign.slug}/another")
    assert name.search(client.get(f"/c/{campaign.slug}").text).group(1) != first


def test_thanks_page_offers_another_and_share_links(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    html = client.get(f"/c/{campaign.slug}").text
    client.get(_send_links(html)["bluesky"])
    thanks = client.get(f"/c/{campaign.slug}/thanks").text
    assert "Merci !" in thanks and "1 message envoyé" in thanks
    assert f'href="/c/{campaign.slug}"' in thanks
    assert "https://x.com/intent/tweet?text=" in thanks and "https://bsky.app/intent/compose?text=" in thanks


def test_postcode_finds_the_deputy_or_asks_which(client, app, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org(), targets=3)
    with app.app_context():
        replace_postcodes(campaign.organisation_id, {"75001": ["7501"], "75002": ["7502", "7503"]})
        db.session.commit()
    html = client.get(f"/c/{campaign.slug}?cp=75 001").text
    assert 'id="target-name">Prénom1 Nom1<' in html
    ask = client.get(f"/c/{campaign.slug}?cp=75002").text
    assert "plusieurs circonscriptions" in ask and "Circonscription 2 — Prénom2 Nom2" in ask
    assert "target-name" not in ask
    chosen = client.get(f"/c/{campaign.slug}?cp=75002&circ=7503").text
    assert 'id="target-name">Prénom3 Nom3<' in chosen
    unknown = client.get(f"/c/{campaign.slug}?cp=12345").text
    assert "Nous ne connaissons pas le code postal 12345" in unknown and "target-name" in unknown


def test_my_deputy_outside_the_wave_is_named_and_its_targets_offered(client, app, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org(), targets=3)  # deputies 1 and 3 sit in Groupe A, 2 in Groupe B
    with app.app_context():
        replace_postcodes(campaign.organisation_id, {"75002": ["7502"]})
        now = utcnow()
        db_campaign = db.session.get_one(Campaign, campaign.id)
        schedule_wave(
            db_campaign,
            title="Groupe A",
            opens_at=now,
            closes_at=now + timedelta(hours=2),
            message_ids=[m.id for m in db_campaign.messages],
            networks=[Network.X, Network.BLUESKY],
            criteria={"group_name": "Groupe A"},
            now=now,
        )
        open_due_waves(now)
        db.session.commit()
    html = client.get(f"/c/{campaign.slug}?cp=75002").text
    assert "Votre député·e, Prénom2 Nom2, ne fait pas partie des destinataires de la vague en cours" in html
    assert re.search(r'id="target-name">Prénom[13] Nom[13]<', html)
    assert "ne fait pas partie des destinataires de cette campagne" not in html


def test_no_postcode_form_without_postcode_data(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    assert 'name="cp"' not in client.get(f"/c/{campaign.slug}").text


def test_html_in_every_field_is_inert(client, app, make_org, make_campaign) -> None:
    from recipients.models import Recipient

    evil = '<script>alert("x")</script>'
    campaign = make_campaign(
        make_org(), targets=1, title=f"Titre {evil}", cause=f"Cause {evil}", variants=[f"{{name}} {evil}"]
    )
    with app.app_context():
        db.session.scalars(select(Recipient)).one().last_name = f"Nom{evil}"
        db.session.commit()
    html = client.get(f"/c/{campaign.slug}").text
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert html.count("<script") == 2  # our own app.js and proof.js only


def test_paused_and_ended_campaigns_say_so_and_do_not_count(client, app, make_org, make_campaign) -> None:
    live = make_campaign(make_org(), slug="en-pause")
    link = _send_links(client.get(f"/c/{live.slug}").text)["x"]
    with app.app_context():
        from campaign.services import change_status

        campaign = db.session.get(type(live), live.id)
        change_status(campaign, CampaignStatus.PAUSED)
        db.session.commit()
    page = client.get("/c/en-pause").text
    assert "en pause" in page and "/send/" not in page
    refused = client.get(link)  # a link opened before the pause
    assert refused.status_code == 302 and refused.headers["Location"] == "/c/en-pause"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Action)) == 0
    ended = make_campaign(make_org("B"), status=CampaignStatus.ENDED, slug="finie")
    assert "est terminée" in client.get(f"/c/{ended.slug}").text


def test_forged_or_stale_send_links_are_refused(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    assert client.get(f"/c/{campaign.slug}/send/x/forged-token").status_code == 404
    link = _send_links(client.get(f"/c/{campaign.slug}").text)["x"]
    assert client.get(link.replace("/send/x/", "/send/telegram/")).status_code == 404


def test_language_is_the_campaigns_then_the_visitors_choice(client, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    assert "Écrire à" in client.get(f"/c/{campaign.slug}").text
    english = client.get(f"/c/{campaign.slug}?lang=en").text
    assert "Write to" in english and "Send on X" in english and "Écrire à" not in english
    assert "Send on X" in client.get(f"/c/{campaign.slug}").text  # remembered
    english_campaign = make_campaign(make_org("EN"), language="en", slug="english")
    fresh = client.application.test_client()
    assert "Send on X" in fresh.get(f"/c/{english_campaign.slug}").text


def test_error_pages_are_translated(client) -> None:
    assert "Page not found" in client.get("/nowhere", headers={"Accept-Language": "en"}).text
    assert "Page introuvable" in client.get("/nowhere", headers={"Accept-Language": "fr"}).text
    response = client.get("/nowhere", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json["error"] == "Page not found"


def test_the_visit_cookie_stays_small(app) -> None:
    from campaign.visit import MAX_CAMPAIGNS, Visit

    with app.test_request_context():
        from flask import session

        for campaign_id in range(1, 12):
            visit = Visit(campaign_id)
            for recipient_id in range(1000, 1200):
                visit.sent(recipient_id, "bluesky")
        assert len(session["visits"]) == MAX_CAMPAIGNS and "11" in session["visits"] and "1" not in session["visits"]
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
        assert len(cookie) < 4000


def test_no_postcode_question_when_the_campaign_aims_at_senators(client, app, make_org, make_campaign) -> None:
    from recipients.models import TargetRole

    campaign = make_campaign(make_org(), targets=2)
    with app.app_context():
        replace_postcodes(campaign.organisation_id, {"75001": ["7501"]})
        db.session.execute(db.update(Recipient).values(role=TargetRole.SENATOR))
        db.session.commit()
    page = client.get(f"/c/{campaign.slug}?cp=75001").text
    assert 'name="cp"' not in page and "target-name" in page


def test_the_email_button_sends_the_signed_letter_not_the_social_text(client, app, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org(), targets=1)
    html = client.get(f"/c/{campaign.slug}").text
    assert "Lisez le Livre blanc" in _shown_text(html, "email") and "#LivreBlanc" not in _shown_text(html, "email")
    link = _send_links(html)["email"]
    mailto = urlsplit(client.get(f"{link}?signature=Alix%20Martin&postcode=75%20001").headers["Location"])
    query = parse_qs(mailto.query)
    assert query["subject"] == ["Le Livre blanc, pour Prénom1 Nom1"]
    assert query["body"][0].endswith("Bien à vous,\n\nAlix Martin\n75001")
    with app.app_context():
        assert "Alix" not in db.session.scalars(select(Action.text)).one()  # the signature is not kept


def test_a_variant_can_say_it_differently_on_one_network(client, app, make_org, make_campaign) -> None:
    from campaign.models import Message
    from campaign.services import save_message

    campaign = make_campaign(make_org(), targets=1, variants=["{handle} texte commun {link}"])
    with app.app_context():
        message = db.session.scalars(select(Message)).one()
        db_campaign = db.session.get_one(Campaign, campaign.id)
        save_message(
            db_campaign,
            message,
            label="Principal",
            bodies=["{handle} texte commun {link}"],
            texts=[{"mastodon": "{handle} un texte pour Mastodon seulement"}],
            email_subject=message.email_subject,
            email_body=message.email_body,
        )
        db.session.commit()
    html = client.get(f"/c/{campaign.slug}").text
    assert _shown_text(html, "mastodon") == "@depute1@piaille.fr un texte pour Mastodon seulement"
    assert _shown_text(html, "x").startswith("@depute1 texte commun")
