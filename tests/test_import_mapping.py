"""The mapping step never guesses silently, roles read in French and English, and files from different
parliaments never share a default source."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from accounts.models import Role
from extensions import db
from recipients.formats import role_of
from recipients.formats.mapped_csv import effective_mapping, guess_mapping
from recipients.importer import import_targets
from recipients.models import ImportRun, Recipient, TargetRole
from tests.conftest import SHARED_DATA, login, needs_shared_data
from tests.test_import_sources import SECOND, SENATOR

DATA = SHARED_DATA
NAMES = b"Id;Nom;Nom complet;Fonction;Compte Twitter\nA1;Martin;Ana Martin;D\xc3\xa9put\xc3\xa9e;@AnaMartin\n"


def test_roles_read_in_french_and_english_in_any_case() -> None:
    for word, role in [
        ("député", TargetRole.DEPUTY),
        ("DÉPUTÉE", TargetRole.DEPUTY),
        ("Député·e", TargetRole.DEPUTY),
        ("MEP", TargetRole.MEP),
        ("Députée européenne", TargetRole.MEP),
        ("Eurodéputé", TargetRole.MEP),
        ("Sénatrice", TargetRole.SENATOR),
        ("Senator", TargetRole.SENATOR),
        ("ministre", TargetRole.MINISTER),
        ("Representative", TargetRole.REPRESENTATIVE),
    ]:
        assert role_of(word) is role, word
    assert role_of("maire") is None


def test_a_guess_between_a_full_name_and_a_family_name_asks() -> None:
    header = ["Id", "Nom", "Nom complet", "Fonction", "Compte Twitter"]
    guessed = guess_mapping(header)
    assert guessed["Nom"] == guessed["Nom complet"] == ""  # neither is taken for the other
    assert guessed["Compte Twitter"] == "x" and guessed["Id"] == "external_id"
    _used, problems = effective_mapping(header, None)
    assert problems and "Nom, Nom complet could each be the name" in problems[0]
    used, problems = effective_mapping(header, {"Nom": "last_name", "Typo": "first_name"})
    assert "Typo" in problems[0] and "not in the file's header" in problems[0]
    assert used["Nom"] == "last_name"


def test_the_cli_prints_its_mapping_and_refuses_a_bad_one(app: Flask, make_org, tmp_path: Path) -> None:
    organisation = make_org("Collectif CLI")
    path = tmp_path / "elus.csv"
    path.write_bytes(NAMES)
    runner = app.test_cli_runner()  # its output holds what the command wrote to stderr too

    def run(*args: str):
        return runner.invoke(args=["recipients", "import", str(path), "--organisation", organisation.name, *args])

    asked = run()
    assert asked.exit_code != 0 and "could each be the name" in asked.output
    assert "'Nom' → (ignored)" in asked.output and "'Compte Twitter' → x" in asked.output  # what it would apply
    for bad, words in [
        ("{not json", "--mapping is not JSON"),
        ('["Nom"]', "must be a JSON object"),
        ('{"Nom": 3}', "must be a JSON object"),
        ('{"Nom": "surname"}', "unknown field(s) surname"),
    ]:
        result = run("--mapping", bad)
        assert result.exit_code != 0 and words in result.output and "Traceback" not in result.output, result.output
    mapping = {"Id": "external_id", "Nom complet": "full_name", "Fonction": "role", "Compte Twitter": "x"}
    done = run("--mapping", json.dumps(mapping))
    assert done.exit_code == 0, done.output
    assert "'Nom' → (ignored)" in done.output and "'Nom complet' → full_name" in done.output
    with app.app_context():
        ana = db.session.scalars(select(Recipient)).one()
        assert (ana.first_name, ana.last_name, ana.role) == ("Ana", "Martin", TargetRole.DEPUTY)


def test_the_mapping_page_asks_which_column_is_the_name(client, app: Flask, make_org, make_user) -> None:
    from io import BytesIO

    organisation = make_org()
    login(client, make_user(organisation, Role.ORGANISER))
    client.post("/admin/targets/import?lang=en", data={"file": (BytesIO(NAMES), "elus.csv"), "file_format": "auto"},
                content_type="multipart/form-data")  # fmt: skip
    with app.app_context():
        run_id = db.session.scalars(select(ImportRun.id)).one()
    page = client.get(f"/admin/targets/imports/{run_id}/mapping?lang=en").text
    assert "Nom, Nom complet could each be the name" in page


@needs_shared_data
def test_a_second_parliaments_file_does_not_retire_the_firsts(make_org, ctx) -> None:
    organisation_id = make_org().id
    deputies = import_targets(organisation_id, (DATA / "fr/nosdeputes-deputes-16e.json").read_bytes())
    senators = import_targets(organisation_id, json.dumps([SENATOR, SECOND]).encode(), filename="senateurs.json")
    assert (deputies.source, senators.source) == ("nosdeputes-assemblee-nationale", "nosdeputes-senat")
    assert senators.retired == 0
    active = db.session.scalar(select(func.count()).select_from(Recipient).where(Recipient.is_active.is_(True)))
    assert active == 577 + 2
