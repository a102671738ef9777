"""Each file of ../shared/data imports with the counts its README gives, clean, and a second time changes nothing."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from extensions import db
from recipients.coverage import constituency_coverage
from recipients.importer import import_targets
from recipients.models import Gender, Recipient, TargetRole
from recipients.postcodes import constituencies_for, import_postcodes
from tests.conftest import SHARED_DATA, needs_shared_data

DATA = SHARED_DATA
pytestmark = needs_shared_data
# Seats without a deputy in the Datan export of 2024-12-25 (the postcode map has 565 constituencies).
NOSDEPUTES = "nosdeputes-assemblee-nationale"  # the format serves two chambers: the default source names it
VACANCIES = ["3801", "9209"]


def _import(organisation_id: int, name: str, **kwargs):
    path = DATA / name
    return import_targets(organisation_id, path.read_bytes(), filename=path.name, **kwargs)


def _count(source: str, *conditions) -> int:
    query = select(func.count()).select_from(Recipient).where(Recipient.source == source, *conditions)
    return int(db.session.scalar(query) or 0)


def _handles(source: str) -> dict[str, int]:
    return {
        column: _count(source, Recipient.is_active.is_(True), getattr(Recipient, column).is_not(None))
        for column in ("handle_x", "handle_bluesky", "handle_mastodon", "email")
    }


def _twice(organisation_id: int, name: str, **kwargs):
    first = _import(organisation_id, name, **kwargs)
    assert first.ok, first.errors[:5]
    db.session.commit()
    again = _import(organisation_id, name, **kwargs)
    assert (again.created, again.updated, again.retired) == (0, 0, 0), again.updated_fields[:5]
    db.session.commit()
    return first


def test_datan_deputies_with_their_bluesky_and_mastodon_files(make_org, ctx) -> None:
    organisation_id = make_org().id
    report = _twice(organisation_id, "fr/deputes-datan-2024-12-25.csv")
    # 576 rows; two claim constituency 01-03: Olga Givernet came back on 2025-01-24, her substitute is kept out.
    assert (report.file_format, report.rows, report.created, report.skipped) == ("datan", 576, 575, 1)
    assert "Olga Givernet took office later (2025-01-24)" in report.warnings[0].message
    bluesky = _twice(organisation_id, "fr/deputes-bluesky.json")
    mastodon = _twice(organisation_id, "fr/deputes-mastodon.json")
    assert (bluesky.file_format, bluesky.updated, mastodon.file_format, mastodon.updated) == (
        "politix-bluesky",
        191,
        "politix-mastodon",
        22,
    )
    assert _count("datan", Recipient.is_active.is_(True)) == 575
    assert _handles("datan") == {"handle_x": 457, "handle_bluesky": 191, "handle_mastodon": 22, "email": 575}
    # The dirty rows come out clean.
    martineau = db.session.scalars(select(Recipient).where(Recipient.handle_x == "EricMartineau72")).one()
    assert martineau.last_name == "Martineau" and martineau.department == "72"
    corsica = db.session.scalars(select(Recipient).where(Recipient.constituency_code == "2A01")).one()
    assert corsica.department == "2A"
    abroad = db.session.scalars(select(Recipient).where(Recipient.constituency_code == "09906")).one()
    assert abroad.department == "099"
    simonnet = db.session.scalars(select(Recipient).where(Recipient.external_id == "PA796018")).one()
    assert simonnet.handle_bluesky == "daniellesimonnet.fr"  # a custom domain
    assert simonnet.gender is Gender.FEMALE and simonnet.title == "Députée"
    stored = db.session.scalars(select(Recipient.handle_x).where(Recipient.handle_x.is_not(None))).all()
    assert all(re.fullmatch(r"[A-Za-z0-9_]{1,15}", handle) for handle in stored)
    masto = db.session.scalars(select(Recipient.handle_mastodon).where(Recipient.handle_mastodon.is_not(None))).all()
    assert all(re.fullmatch(r"[\w.\-]+@[a-z0-9.\-]+", handle) for handle in masto)


def test_every_constituency_of_the_postcode_map_leads_to_one_deputy(make_org, ctx) -> None:
    organisation_id = make_org().id
    _twice(organisation_id, "fr/deputes-datan-2024-12-25.csv")
    report = import_postcodes(
        organisation_id, (DATA / "fr/postcode-circonscription.json").read_bytes(), max_bytes=10**7
    )
    assert (report.ok, report.postcodes, report.spanning) == (True, 6321, 967)
    db.session.commit()
    coverage = constituency_coverage(organisation_id)
    assert coverage.constituencies == 565
    assert coverage.vacant == VACANCIES and coverage.shared == {}
    assert coverage.resolved == 565 - len(VACANCIES)
    # Overseas Z-codes and Corsica lead to the codes the deputies carry.
    assert constituencies_for(organisation_id, "97110") == ["97101"]  # Pointe-à-Pitre, ZA01
    assert constituencies_for(organisation_id, "97600") == ["97601", "97602"]  # Mamoudzou spans ZM01 and ZM02
    assert constituencies_for(organisation_id, "97150") == ["97701"]  # Saint-Martin, ZX01
    assert constituencies_for(organisation_id, "20000") == ["2A01", "2A02"]  # Ajaccio spans two


def test_nosdeputes_16th_legislature(make_org, ctx) -> None:
    organisation_id = make_org().id
    report = _twice(organisation_id, "fr/nosdeputes-deputes-16e.json")
    # 599 rows, 577 current: the 22 whose mandate ended are not created.
    assert (report.file_format, report.rows, report.created, report.skipped) == ("nosdeputes", 599, 577, 22)
    assert _count(NOSDEPUTES) == 577
    handles = _handles(NOSDEPUTES)
    assert (handles["handle_x"], handles["email"]) == (561, 577)
    emails = db.session.scalars(select(Recipient.email).where(Recipient.source == NOSDEPUTES)).all()
    assert all(email.endswith("@assemblee-nationale.fr") for email in emails)  # the institution's address first
    bazin = db.session.scalars(select(Recipient).where(Recipient.external_id == "PA642847")).one()
    assert (bazin.constituency, bazin.constituency_code, bazin.group_name) == ("Meurthe-et-Moselle (4e)", "5404", "LR")
    assert _count(NOSDEPUTES, Recipient.department == "099") == 11  # NosDéputés writes 999


def test_ministers_json_then_csv(make_org, ctx) -> None:
    organisation_id = make_org().id
    report = _twice(organisation_id, "fr/ministres-handles.json")
    assert (report.file_format, report.rows, report.created) == ("ministers-json", 38, 38)
    assert "flagged notFoundXAccount" in report.warnings[0].message  # Manuel Valls: `false`, flagged
    assert _handles("ministres")["handle_x"] == 37 and _handles("ministres")["handle_bluesky"] == 9
    csv_report = _import(organisation_id, "fr/ministres-x.csv")
    assert (csv_report.file_format, csv_report.rows, csv_report.unchanged) == ("ministers-csv", 38, 38)
    borne = db.session.scalars(select(Recipient).where(Recipient.external_id == "elisabeth-borne")).one()
    assert (borne.first_name, borne.role, borne.handle_x, borne.handle_bluesky) == (
        "Élisabeth",
        TargetRole.MINISTER,
        "Elisabeth_Borne",
        "elisabeth-borne.bsky.social",
    )


def test_uk_commons_popolo(make_org, ctx) -> None:
    organisation_id = make_org().id
    report = _twice(organisation_id, "uk/uk-commons-ep-popolo-v1.0.json")
    # The newest legislative period (term/56) has 651 memberships; 649 have not ended.
    assert (report.file_format, report.rows, report.created) == ("popolo", 649, 649)
    assert _handles("popolo-house-of-commons") == {
        "handle_x": 582,
        "handle_bluesky": 0,
        "handle_mastodon": 0,
        "email": 648,
    }
    afriyie = db.session.scalars(select(Recipient).where(Recipient.handle_x == "AdamAfriyie")).one()
    assert (afriyie.first_name, afriyie.last_name, afriyie.chamber, afriyie.title) == (
        "Adam",
        "Afriyie",
        "House of Commons",
        "MP",
    )
    assert afriyie.group_name == "Conservative" and afriyie.constituency == "Windsor"


def test_us_congress_with_its_social_media_file(make_org, ctx) -> None:
    organisation_id = make_org().id
    social = (DATA / "us/legislators-social-media.yaml").read_bytes()
    report = _twice(organisation_id, "us/legislators-current.yaml", extra=social)
    assert (report.file_format, report.rows, report.created) == ("congress", 537, 537)
    assert _count("congress", Recipient.role == TargetRole.SENATOR) == 100
    assert _count("congress", Recipient.role == TargetRole.REPRESENTATIVE) == 437
    assert _handles("congress") == {"handle_x": 506, "handle_bluesky": 0, "handle_mastodon": 13, "email": 0}
    cantwell = db.session.scalars(select(Recipient).where(Recipient.external_id == "C000127")).one()
    assert (cantwell.title, cantwell.constituency, cantwell.group_name, cantwell.gender) == (
        "Senator",
        "WA",
        "Democrat",
        Gender.FEMALE,
    )
    # "@CongresswomanNorton@Mastodon.social": the instance is lower-cased, the user part kept.
    assert db.session.scalar(select(Recipient.handle_mastodon).where(Recipient.handle_mastodon.like("%Norton@%"))) == (
        "CongresswomanNorton@mastodon.social"
    )


def test_a_newer_file_reports_created_updated_and_retired(make_org, ctx) -> None:
    """A newer roster: the first deputy gone, one new, one changes group. The gone one stays, inactive."""
    organisation_id = make_org().id
    original = (DATA / "fr/deputes-datan-2024-12-25.csv").read_bytes()
    import_targets(organisation_id, original, filename="datan.csv")
    db.session.commit()
    lines = original.decode("utf-8").split("\n")
    header, rows = lines[0], [line for line in lines[1:] if line]
    changed = rows[1].replace('"Droite Républicaine",DR', '"Union des droites pour la République",UDR')
    newcomer = (
        "PA999999,17,Mme,Nouvelle,Élue,Paris,1990-01-01,34,,NI,Paris,75,19,2025-03-01,,"
        "elue@assemblee-nationale.fr,,,,1,,,,,,"
    )
    newer = "\n".join([header, changed, *rows[2:], newcomer]).encode()
    report = import_targets(organisation_id, newer, filename="datan.csv")
    assert (report.created, report.updated, report.retired) == (1, 1, 1)
    assert report.unchanged == 573
    assert report.updated_fields == [("Nicolas Forissier", ["group_name"])]
    assert report.retired_names == ["Alain David"]
    db.session.commit()
    alain = db.session.scalars(select(Recipient).where(Recipient.external_id == "PA1008")).one()
    assert not alain.is_active  # retired, kept
    assert _count("datan") == 576 and _count("datan", Recipient.is_active.is_(True)) == 575


def test_my_deputy_by_postcode_with_the_real_map(client, app, make_org, make_campaign) -> None:
    """A supporter of Pointe-à-Pitre gets the deputy of Guadeloupe's 1st; one of Ajaccio is asked which of two.

    The campaign exists before the import: the import re-syncs its targets.
    """
    organisation = make_org()
    campaign = make_campaign(organisation, targets=1)
    with app.app_context():
        assert import_targets(organisation.id, (DATA / "fr/deputes-datan-2024-12-25.csv").read_bytes()).ok
        postcodes = (DATA / "fr/postcode-circonscription.json").read_bytes()
        assert import_postcodes(organisation.id, postcodes, max_bytes=10**7).ok
        db.session.commit()
        guadeloupe = db.session.scalars(select(Recipient).where(Recipient.constituency_code == "97101")).one()
    page = client.get(f"/c/{campaign.slug}?cp=97110").text
    assert f'id="target-name">{guadeloupe.name}<' in page
    ask = client.get(f"/c/{campaign.slug}?cp=20000").text
    assert "plusieurs circonscriptions" in ask and "Corse-du-Sud (1re)" in ask and "Corse-du-Sud (2e)" in ask
    vacant = client.get(f"/c/{campaign.slug}?cp=38240").text  # Meylan: only Isère's 1st, which is vacant
    assert "ne fait pas partie des destinataires" in vacant and 'id="target-name"' in vacant
