"""The demo: an organisation, two logins and a live campaign aimed at clearly fictional deputies.

Safe to run again: it finds what it made before by name and external id, and changes nothing then.
No row comes from ../shared/data: the names, handles and postcodes below are invented (postcodes
99xxx do not exist in France; handles live under .example domains where the network allows it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from accounts.models import Role
from accounts.services import create_user, find_user, get_or_create_organisation
from campaign.actions import record_action
from campaign.appended import count_visit
from campaign.models import LIVE_STATES, Campaign, CampaignStatus, CampaignTarget, Wave
from campaign.services import change_status, save_campaign, save_message
from campaign.tallies import count_confirmed
from campaign.targets import DEMO_SOURCE
from database import utcnow
from extensions import db
from recipients.importer import add_to_static_list
from recipients.models import Gender, Recipient, TargetRole
from recipients.postcodes import has_postcode_data, replace_postcodes
from waves.models import Subscription, SubscriptionState
from waves.services import schedule_wave

ORGANISATION = "Collectif Démo"
SLUG = "livre-blanc-demo"
# The demo campaign aims at this static list and nothing else: targets imported later (real deputies) never
# join it, and its fictitious deputies (source "demo") never join a campaign through filters.
DEMO_LIST = "Députés fictifs (démo)"
ADMIN = ("admin@demo.example", "Admin Démo", "demo-admin", Role.ADMIN)  # also the instance's admin
ORGANISER = ("organisatrice@demo.example", "Organisatrice Démo", "demo-organiser", Role.ORGANISER)
ANALYST = ("analyste@demo.example", "Analyste Démo", "demo-analyst", Role.ANALYST)
SUBSCRIBERS = ["alix@demo.example", "sacha@demo.example", "noa@demo.example"]  # confirmed: reminders go to the sandbox
DEMO_PASSWORD_NOTE = "demo passwords: change them, or do not expose the demo beyond 127.0.0.1"

# (external id, first, last, gender, group, constituency, code, department)
DEPUTIES = [
    ("DEMO-01", "Camille", "Exemple", Gender.FEMALE, "Groupe Démo A", "Fictivie (1re)", "9901", "99"),
    ("DEMO-02", "Dominique", "Modèle", Gender.MALE, "Groupe Démo B", "Fictivie (2e)", "9902", "99"),
    ("DEMO-03", "Héloïse", "Prototype", Gender.FEMALE, "Groupe Démo A", "Fictivie (3e)", "9903", "99"),
    ("DEMO-04", "Jean-Baptiste", "Maquette-Essai", Gender.MALE, "Groupe Démo C", "Imaginaire (1re)", "9801", "98"),
    ("DEMO-05", "Noémie", "Brouillon", Gender.FEMALE, "Groupe Démo B", "Imaginaire (2e)", "9802", "98"),
    ("DEMO-06", "Yannick", "Ébauche", Gender.MALE, "Groupe Démo C", "Imaginaire (3e)", "9803", "98"),
]
POSTCODES = {
    "99001": ["9901"],
    "99002": ["9901", "9902"],
    "99003": ["9903"],
    "98001": ["9801"],
    "98002": ["9802", "9803"],
}
CAUSE = (
    "Ceci est une campagne de démonstration : les députés ci-dessous sont fictifs.\n\n"
    "En 2012, les entrepreneurs sociaux ont rempli les sacoches de leurs députés avec les "
    "propositions de leur Livre blanc. Porte-voix reprend l'idée : choisissez votre député, "
    "relisez le message, envoyez-le en un clic sur le réseau que vous utilisez.\n\n"
    "Essayez les codes postaux fictifs 99001, 99002 (deux circonscriptions) ou 98001."
)
VARIANTS = [
    "{handle} {salutation}, soutiendrez-vous les propositions du Livre blanc de l'entrepreneuriat social ? "
    "{link} {hashtags}",
    "{salutation} {name}, les entreprises sociales de votre circonscription comptent sur vous. "
    "Lisez le Livre blanc : {link} {hashtags}",
    "Bonjour {handle}, 10 propositions pour l'emploi et la cohésion sociale vous attendent dans le Livre blanc. "
    "{link} {hashtags}",
]

LETTER_SUBJECT = "Le Livre blanc de l'entrepreneuriat social, pour {name}"
LETTER = (
    "{salutation},\n\n"
    "Les entreprises sociales de {constituency} créent des emplois qui ne se délocalisent pas. Leur Livre "
    "blanc réunit dix propositions pour l'emploi et la cohésion sociale : {link}\n\n"
    "Soutiendrez-vous ces propositions ? Je serais heureux·se de connaître votre position.\n\n"
    "Veuillez agréer, {salutation}, l'expression de ma haute considération."
)


@dataclass(frozen=True)
class DemoResult:
    campaign: Campaign
    logins: list[tuple[str, str, Role]]
    created: bool


def _deputy(organisation_id: int, row: tuple[str, str, str, Gender, str, str, str, str]) -> Recipient:
    external_id, first, last, gender, group, constituency, code, department = row
    slug = f"{first}-{last}".lower().replace("é", "e").replace("è", "e").replace("ï", "i").replace("ë", "e")
    return Recipient(
        organisation_id=organisation_id,
        source=DEMO_SOURCE,
        external_id=external_id,
        role=TargetRole.DEPUTY,
        title="Députée" if gender is Gender.FEMALE else "Député",
        first_name=first,
        last_name=last,
        gender=gender,
        group_name=group,
        constituency=constituency,
        constituency_code=code,
        department=department,
        committees=["Commission des affaires sociales (démo)"],
        handle_x=("Demo_" + first.replace("-", "").replace("é", "e").replace("ï", "i").replace("ë", "e"))[:15],
        handle_bluesky=f"{slug}.demo.example" if external_id != "DEMO-06" else None,
        handle_mastodon=f"{slug.replace('-', '_')}@mastodon.demo.example"
        if external_id in {"DEMO-01", "DEMO-03"}
        else None,
        email=f"{slug}@assemblee.demo.example",
    )


def seed_demo() -> DemoResult:
    """Create the demo once; later calls find it and change nothing. Flushes, never commits."""
    organisation = get_or_create_organisation(ORGANISATION)
    logins = []
    organisation.privacy_contact = organisation.privacy_contact or "confidentialite@demo.example"
    for email, name, password, role in (ADMIN, ORGANISER, ANALYST):
        if find_user(email) is None:
            user = create_user(organisation=organisation, email=email, name=name, password=password, role=role)
            user.is_instance_admin = role is Role.ADMIN
        logins.append((email, password, role))
    existing = db.session.scalar(select(Campaign).where(Campaign.slug == SLUG))
    if existing is not None:
        ensure_demo_wave(existing, utcnow())
        return DemoResult(existing, logins, created=False)
    known = set(
        db.session.scalars(
            select(Recipient.external_id).where(
                Recipient.organisation_id == organisation.id, Recipient.source == DEMO_SOURCE
            )
        )
    )
    db.session.add_all(_deputy(organisation.id, row) for row in DEPUTIES if row[0] not in known)
    if not has_postcode_data(organisation.id):
        replace_postcodes(organisation.id, POSTCODES)
    db.session.flush()
    deputies = db.session.scalars(
        select(Recipient.id).where(Recipient.organisation_id == organisation.id, Recipient.source == DEMO_SOURCE)
    )
    demo_list = add_to_static_list(organisation.id, DEMO_LIST, list(deputies))
    demo_list.description = "Les six députés inventés de la démo : aucune autre campagne ne les reçoit par ses filtres."
    campaign = save_campaign(
        Campaign(organisation_id=organisation.id),
        title="Livre blanc de l'entrepreneuriat social (démo)",
        slug=SLUG,
        cause=CAUSE,
        language="fr",
        hashtags="LivreBlancESS, Démo",
        link="https://porte-voix.example/livre-blanc",
        recipient_list_id=demo_list.id,
    )
    save_message(campaign, None, label="Livre blanc", bodies=VARIANTS, email_subject=LETTER_SUBJECT, email_body=LETTER)
    change_status(campaign, CampaignStatus.LIVE)
    db.session.add_all(
        Subscription(campaign_id=campaign.id, email=email, state=SubscriptionState.CONFIRMED, confirmed_at=utcnow())
        for email in SUBSCRIBERS
    )
    demo_history(campaign, utcnow())
    ensure_demo_wave(campaign, utcnow())
    return DemoResult(campaign, logins, created=True)


def demo_history(campaign: Campaign, now: datetime, *, supporters: int = 24) -> int:
    """Five days of invented activity, so the dashboards have something to show: visits, compose-link
    messages to five of the six deputies (the sixth is left for coverage to point at), some confirmed.
    Deterministic; returns the number of actions. Flushes.
    """
    rng = random.Random(2012)  # noqa: S311 (invented figures, not secrets)
    targets = [
        t
        for t in db.session.scalars(select(CampaignTarget).where(CampaignTarget.campaign_id == campaign.id))
        if t.recipient.external_id != "DEMO-06"
    ]
    variants = [v for m in campaign.messages for v in m.variants]
    start = (now - timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    made = 0
    for person in range(supporters):
        visitor = f"demo{person:012d}"
        days = 1 if person % 3 else 2  # a third come back another day
        for day in range(days):
            moment = start + timedelta(days=rng.randrange(0, 4) + day, hours=rng.randrange(7, 22))
            count_visit(campaign.id, None, moment, visit=True, shown=True)
            for _ in range(rng.randrange(1, 4)):
                target = rng.choice(targets)
                network = rng.choice([n for n in campaign.enabled_networks if n.value != "email"])
                action = record_action(
                    campaign,
                    recipient_id=target.recipient_id,
                    variant_id=rng.choice(variants).id,
                    network=network,
                    visitor_id=visitor,
                    text="(démo)",
                    now=moment + timedelta(minutes=rng.randrange(1, 50)),
                )
                count_visit(campaign.id, None, action.created_at, visit=False, shown=True)
                if network.value != "x" and rng.random() < 0.4:
                    action.confirmed_at = action.created_at + timedelta(minutes=5)
                    count_confirmed(action)
                made += 1
    db.session.flush()
    return made


def ensure_demo_wave(campaign: Campaign, now: datetime) -> Wave | None:
    """A wave to watch: the demo's next one, or a new one opening two minutes from now for two hours."""
    if campaign.status is not CampaignStatus.LIVE:
        return None
    upcoming = db.session.scalar(
        select(Wave)
        .where(Wave.campaign_id == campaign.id, Wave.status.in_(LIVE_STATES), Wave.closes_at > now)
        .order_by(Wave.opens_at)
    )
    if upcoming is not None:
        return upcoming
    opens_at = now + timedelta(minutes=2)
    return schedule_wave(
        campaign,
        title="Vague de démonstration",
        opens_at=opens_at,
        closes_at=opens_at + timedelta(hours=2),
        message_ids=[message.id for message in campaign.messages],
        networks=campaign.enabled_networks,
        criteria={},
        reminder_text=(
            "La vague de démonstration est ouverte : deux heures pour écrire aux députés fictifs. "
            "Votre lien ci-dessous vous confie trois d'entre eux."
        ),
        now=now,
    )
