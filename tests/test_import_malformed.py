"""Malformed files: each gets a clear message naming the row or the field, and the database is unchanged."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from extensions import db
from recipients.importer import import_targets
from recipients.models import Recipient
from recipients.postcodes import import_postcodes
from tests.conftest import recipient

LAYOUT_HEADER = b"external_id,role,last_name,x\n"
DATAN_HEADER = b"id,civ,nom,prenom,groupeAbrev,departementNom,departementCode,circo,mail,twitter\n"


def _nosdeputes(*deputies: dict) -> bytes:
    return json.dumps({"deputes": [{"depute": d} for d in deputies]}).encode()


DEPUTY = {
    "id_an": "1",
    "nom": "Anne Exemple",
    "nom_de_famille": "Exemple",
    "prenom": "Anne",
    "sexe": "F",
    "num_deptmt": "75",
    "nom_circo": "Paris",
    "num_circo": 1,
    "groupe_sigle": "A",
    "emails": [],
    "twitter": "",
}
POPOLO_PERSON = {"id": "p1", "name": "Jo Bloggs"}
POPOLO_ORGS = [{"id": "legislature", "classification": "legislature", "name": "House of Commons"}]

# (file, format, filename, words the first error holds, where, field)
CASES = {
    "empty file": (b"", "auto", "t.csv", "the file is empty", "", ""),
    "only a BOM and blank lines": (b"\xef\xbb\xbf\r\n\r\n", "auto", "t.csv", "the file is empty", "", ""),
    "header only": (LAYOUT_HEADER, "layout", "t.csv", "header but no rows", "", ""),
    "missing required column": (b"external_id,last_name\nA,B\n", "layout", "t.csv", "missing: role", "", ""),
    "unknown column": (b"external_id,role,last_name,twitter\nA,deputy,B,x\n", "layout", "t.csv", "twitter", "", ""),
    "neither UTF-8 nor Windows-1252": (
        LAYOUT_HEADER + b"A,deputy,\x81\x8d\x8f\x90,\n",
        "layout",
        "t.csv",
        "neither UTF-8 nor Windows-1252",
        "",
        "",
    ),
    "more fields than the header": (
        LAYOUT_HEADER + b"A,deputy,B,x,extra\n",
        "layout",
        "t.csv",
        "more fields than the header",
        "line 2",
        "",
    ),
    "unclosed quote": (LAYOUT_HEADER + b'A,deputy,"B,x\n', "layout", "t.csv", "unreadable CSV", "", ""),
    "duplicate ids": (
        LAYOUT_HEADER + b"A,deputy,B,\nA,deputy,C,\n",
        "layout",
        "t.csv",
        "duplicate of line 2",
        "line 3",
        "external_id",
    ),
    "bad handle": (
        LAYOUT_HEADER + b"A,deputy,B,not a handle!\n",
        "layout",
        "t.csv",
        "not a valid X address",
        "line 2",
        "x",
    ),
    "truncated JSON": (_nosdeputes(DEPUTY)[:-30], "auto", "d.json", "not valid JSON", "", ""),
    "JSON of another shape": (b'{"members": []}', "nosdeputes", "d.json", "NosSénateurs export", "", ""),
    "JSON of no known shape": (b'{"members": []}', "auto", "d.json", "could not tell this file's format", "", ""),
    "deputy without a name": (
        _nosdeputes({**DEPUTY, "nom": "", "nom_de_famille": ""}),
        "nosdeputes",
        "d.json",
        "required",
        "record 1",
        "nom_de_famille",
    ),
    "bad department code": (
        _nosdeputes({**DEPUTY, "num_deptmt": "123"}),
        "nosdeputes",
        "d.json",
        "not a French department code",
        "record 1 (Anne Exemple)",
        "num_deptmt",
    ),
    "Datan without circo": (b"id,nom,departementCode\nPA1,B,75\n", "datan", "d.csv", "missing: circo", "", ""),
    "Datan bad AN id": (
        DATAN_HEADER + b"XX12,Mme,B,A,G,Paris,75,1,,\n",
        "datan",
        "d.csv",
        "not an Assembl\u00e9e nationale id",
        "line 2",
        "id",
    ),
    "Datan duplicate ids": (
        DATAN_HEADER + b"PA1,Mme,B,A,G,Paris,75,1,,\nPA1,M.,C,D,G,Paris,75,2,,\n",
        "datan",
        "d.csv",
        "duplicate of line 2",
        "line 3",
        "id",
    ),
    "Popolo without persons": (
        json.dumps({"memberships": [{"person_id": "p1"}]}).encode(),
        "popolo",
        "p.json",
        '"persons" list',
        "",
        "",
    ),
    "Popolo membership of nobody": (
        json.dumps(
            {
                "persons": [POPOLO_PERSON],
                "organizations": POPOLO_ORGS,
                "memberships": [{"person_id": "p9", "organization_id": "legislature"}],
            }
        ).encode(),
        "popolo",
        "p.json",
        "no person with id p9",
        "membership 1",
        "person_id",
    ),
    "YAML that is not a list": (b"legislators:\n  - id: 1\n", "congress", "l.yaml", "expected a YAML list", "", ""),
    "broken YAML": (b"- id:\n    bioguide: [A\n", "congress", "l.yaml", "not valid YAML", "", ""),
    "legislator without bioguide": (
        b"- id: {}\n  name: {first: A, last: B}\n  terms: [{type: sen, state: WA}]\n",
        "congress",
        "l.yaml",
        "required",
        "entry 1 (A B)",
        "id.bioguide",
    ),
    "handles not keyed by id": (
        b'[{"bsky": "a.bsky.social"}]',
        "politix-bluesky",
        "b.json",
        "expected an object keyed by AN id",
        "",
        "",
    ),
    "bad Bluesky handle": (
        b'{"PA1": {"nom": "B", "prenom": "A", "bsky": "not a handle"}}',
        "politix-bluesky",
        "b.json",
        "not a valid Bluesky address",
        "PA1 (A B)",
        "bsky",
    ),
    "Mastodon without instance": (
        b'{"PA1": {"nom": "B", "prenom": "A", "masto": "@alone"}}',
        "politix-mastodon",
        "m.json",
        "not a valid Mastodon address",
        "PA1 (A B)",
        "masto",
    ),
    "ministers CSV without its header": (
        b"Name;Handle\nA B;@ab\n",
        "ministers-csv",
        "m.csv",
        'expected the columns "Nom"',
        "",
        "",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_malformed_file_is_refused_whole_with_a_clear_word(case: str, make_org, ctx) -> None:
    data, file_format, filename, words, where, field = CASES[case]
    organisation_id = make_org().id
    db.session.add(recipient(organisation_id, 1, source="nosdeputes"))
    db.session.commit()
    before = [(r.id, r.last_name, r.is_active) for r in db.session.scalars(select(Recipient))]
    report = import_targets(organisation_id, data, file_format=file_format, filename=filename)
    assert not report.ok
    matching = [e for e in report.errors if words in e.message]
    assert matching, [e.message for e in report.errors]
    assert (matching[0].where, matching[0].field) == (where, field)
    db.session.rollback()
    assert [(r.id, r.last_name, r.is_active) for r in db.session.scalars(select(Recipient))] == before


def test_a_file_over_the_size_limit(make_org, ctx) -> None:
    report = import_targets(make_org().id, LAYOUT_HEADER + b"A,deputy,B,\n" * 100, max_bytes=1000)
    assert not report.ok and "the limit is 0.0 MB" in report.errors[0].message


def test_an_upload_over_the_limit_gets_413(client, app, make_org, make_user) -> None:
    from tests.conftest import login

    login(client, make_user(make_org()))
    app.config["MAX_CONTENT_LENGTH"] = 2000
    import io

    response = client.post(
        "/admin/targets/import",
        data={"file": (io.BytesIO(LAYOUT_HEADER + b"A,deputy,B,\n" * 500), "t.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413 and "larger than the limit" in response.text


def test_windows_1252_is_read_and_said(make_org, ctx) -> None:
    data = "external_id,role,last_name,first_name\nA,deputy,Müller,Zoé\n".encode("cp1252")
    report = import_targets(make_org().id, data, file_format="layout")
    assert report.ok and report.created == 1 and report.encoding == "windows-1252"
    assert "read as Windows-1252" in report.warnings[0].message
    assert db.session.scalars(select(Recipient)).one().first_name == "Zoé"


def test_utf16_from_a_spreadsheet_is_read(make_org, ctx) -> None:
    data = "external_id\trole\tlast_name\nA\tdeputy\tÉtienne\n".encode("utf-16")
    report = import_targets(make_org().id, data, file_format="layout")
    assert report.ok and db.session.scalars(select(Recipient)).one().last_name == "Étienne"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"[1, 2]", "expected an object of postcode"),
        (b'{"75001": ["75X"]}', "not a constituency code: 75X"),
        (b'{"7500#": ["7501"]}', "not a postcode"),
        (b'{"75001": []}', "expected a non-empty list"),
        (b'{"75001": ["7501"]', "not valid JSON"),
    ],
)
def test_a_malformed_postcode_map_changes_nothing(data: bytes, words: str, make_org, ctx) -> None:
    from recipients.postcodes import constituencies_for

    organisation_id = make_org().id
    assert import_postcodes(organisation_id, b'{"75001": ["7501"]}', max_bytes=10_000).ok
    report = import_postcodes(organisation_id, data, max_bytes=10_000)
    assert not report.ok and words in report.problems[0].message
    assert constituencies_for(organisation_id, "75001") == ["7501"]
