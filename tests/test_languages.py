"""Every page and every e-mail, rendered in French and in English, holds no sentence of the other language.

The sentences come from the catalogue itself: in a French page, no English source string that has a French
translation; in an English page, no French translation. A string left untranslated, a sentence built in
code without gettext, a report stored in the language of whoever made it: each shows up here.
"""

from __future__ import annotations

import html
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from extensions import db
from tests.test_authorisation import _rules, database_uri, world  # noqa: F401 (fixtures)

CATALOGUE = Path(__file__).resolve().parents[1] / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%|\{[a-z_]+\}")
# Words that read the same in both languages, or names: a sentence made only of these proves nothing.
MIN_WORDS, MIN_CHARS = 3, 16


def _sentences() -> tuple[set[str], set[str]]:
    """The English and the French pieces of the catalogue's entries that differ between the languages."""
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    english: set[str] = set()
    french: set[str] = set()
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for source, translated in zip(ids, strings, strict=False):
            if not translated or source == translated:
                continue
            english |= _pieces(source)
            french |= _pieces(translated)
    shared = english & french
    return english - shared, french - shared


def _pieces(text: str) -> set[str]:
    pieces = set()
    for part in PLACEHOLDER.split(text):
        part = " ".join(part.split()).strip(" .,:;!?…()«»“”\"'’-·")
        if len(part) >= MIN_CHARS and len(part.split()) >= MIN_WORDS:
            pieces.add(part)
    return pieces


def _visible(page: str) -> str:
    """A page's text as a reader meets it: no scripts, styles or tags; attributes people read kept (labels)."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    readable = " ".join(re.findall(r'(?:aria-label|placeholder|title|alt)="([^"]*)"', page))
    text = re.sub(r"(?s)<[^>]+>", " ", page)
    return " ".join(html.unescape(f"{text} {readable}").split())


def _check(text: str, foreign: set[str], where: str, problems: list[str]) -> None:
    for piece in foreign:
        if piece in text:
            problems.append(f"{where}: “{piece}”")


ENGLISH, FRENCH = _sentences()
IMPORT_HEADER = (
    "external_id,role,last_name,first_name,gender,group,constituency,constituency_code,department,committees,"
    "x,bluesky,mastodon,email\n"
)


def test_the_catalogue_gives_sentences_to_look_for() -> None:
    assert len(ENGLISH) > 300 and len(FRENCH) > 300


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_speaks_one_language(app: Flask, world: dict[str, FlaskClient], language: str) -> None:  # noqa: F811
    foreign = ENGLISH if language == "fr" else FRENCH
    problems: list[str] = []
    pages = 0
    # An import checked by someone reading the other language: its report must follow the reader.
    other = "en" if language == "fr" else "fr"
    bad = (IMPORT_HEADER + "PA1,deputy,Martin,Ana,X,Groupe A,Paris,7501,75,,@AMartin,,,\n").encode()
    world["organiser"].post(
        f"/admin/targets/import?lang={other}",
        data={"file": (BytesIO(bad), "t.csv"), "file_format": "auto"},
        content_type="multipart/form-data",
    )
    for role in ("organiser", "supporter", "anonymous"):
        client = world[role]
        client.get(f"/?lang={language}")  # the choice is remembered for the visit
        for _rule, method, url in _rules(app):
            if method != "GET" or url.startswith("/static/") or url.endswith((".json", ".csv")):
                continue
            response = client.get(url)
            if response.status_code != 200 or not response.content_type.startswith("text/html"):
                continue
            pages += 1
            _check(_visible(response.text), foreign, f"{role} {url} ({language})", problems)
    assert pages > 40
    assert not problems, "\n".join(sorted(set(problems)))


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_email_speaks_one_language(app: Flask, world: dict[str, FlaskClient], language: str) -> None:  # noqa: F811
    import mail
    from campaign.models import Campaign, Wave
    from waves.models import Subscription
    from waves.optin import queue_confirmation
    from waves.reminders import send_test_reminder

    foreign = ENGLISH if language == "fr" else FRENCH
    problems: list[str] = []
    sent: list[Any] = []
    original = mail.send
    mail.send = sent.append  # type: ignore[assignment]
    try:
        with app.test_request_context(f"/?lang={language}"), app.app_context():
            from database import utcnow

            wave = db.session.scalars(db.select(Wave)).first()
            send_test_reminder(wave, to="organiser@example.org", language=language, now=utcnow())
            campaign = db.session.get_one(Campaign, wave.campaign_id)
            title = campaign.title
            subscription = Subscription(campaign_id=campaign.id, email="a@example.org", language=language)
            db.session.add(subscription)
            db.session.flush()
            from waves.optin import deliver_confirmation

            delivery = queue_confirmation(subscription, utcnow())
            deliver_confirmation(delivery, utcnow())
            db.session.rollback()
    finally:
        mail.send = original  # type: ignore[assignment]
    assert len(sent) == 2
    for message in sent:
        import email

        parsed = email.message_from_bytes(message.data)
        subject = str(email.header.make_header(email.header.decode_header(parsed["Subject"])))
        assert subject.count(":") <= 1 + title.count(":"), subject  # no "Confirmez : … : …"
        for part in parsed.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                body = part.get_payload(decode=True).decode("utf-8")
                _check(_visible(body) + " " + subject, foreign, f"{subject} ({language})", problems)
    assert not problems, "\n".join(sorted(set(problems)))
