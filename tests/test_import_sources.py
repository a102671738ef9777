"""Imports as the sources serve them: the NosSénateurs API's bare lists and its "non disponible" placeholders."""

from __future__ import annotations

import json

from sqlalchemy import select

from extensions import db
from recipients.formats.detect import detect
from recipients.importer import import_targets
from recipients.models import Recipient, TargetRole

# Invented senators, in the shape the NosSénateurs API serves (its own fields, its own placeholder).
SENATOR = {
    "id": 1,
    "nom": "Claire Essai",
    "nom_de_famille": "Essai",
    "prenom": "Claire",
    "sexe": "F",
    "num_deptmt": "33",
    "groupe_sigle": "RDPI",
    "id_institution": "99001x",
    "url_nossenateurs": "https://www.nossenateurs.fr/claire-essai",
    "emails": [{"email": "c.essai@senat.fr"}],
    "twitter": "non disponible",
    "mandat_debut": "2023-10-02",
}
SECOND = {
    **SENATOR,
    "id": 2,
    "nom": "Paul Test",
    "nom_de_famille": "Test",
    "prenom": "Paul",
    "sexe": "M",
    "id_institution": "99002y",
    "num_deptmt": "Non disponible",
    "emails": ["non disponible"],
}


def test_a_bare_list_of_senators_imports_as_the_wrapped_form_does(make_org, ctx) -> None:
    wrapped = json.dumps({"senateurs": [{"senateur": SENATOR}, {"senateur": SECOND}]}).encode()
    bare = json.dumps([{"senateur": SENATOR}, {"senateur": SECOND}]).encode()
    unwrapped = json.dumps([SENATOR, SECOND]).encode()
    for data in (bare, unwrapped):
        assert detect("senateurs.json", data.decode()) == "nosdeputes"
    first, second, third = make_org("A"), make_org("B"), make_org("C")
    report = import_targets(first.id, wrapped, filename="senateurs.json")
    assert report.ok and report.created == 2, [p.message for p in report.errors]
    for organisation, data in ((second, bare), (third, unwrapped)):
        other = import_targets(organisation.id, data, filename="senateurs.json")
        assert other.ok and other.created == 2, [p.message for p in other.errors]
    db.session.commit()
    senators = db.session.scalars(select(Recipient).where(Recipient.organisation_id == second.id)).all()
    assert {s.role for s in senators} == {TargetRole.SENATOR}
    assert {s.last_name: s.email for s in senators} == {"Essai": "c.essai@senat.fr", "Test": None}


def test_a_placeholder_for_an_unknown_value_is_a_warning_not_a_refusal(make_org, ctx) -> None:
    report = import_targets(make_org().id, json.dumps([SENATOR, SECOND]).encode(), filename="s.json")
    assert report.ok
    unknown = [(p.where, p.field) for p in report.warnings if "does not know" in p.message]
    assert ("record 1 (Claire Essai)", "twitter") in unknown
    assert ("record 2 (Paul Test)", "num_deptmt") in unknown and ("record 2 (Paul Test)", "emails") in unknown
    db.session.commit()
    claire = db.session.scalar(select(Recipient).where(Recipient.last_name == "Essai"))
    assert claire is not None and claire.handle_x is None


def test_a_list_of_something_else_is_not_taken_for_senators(make_org, ctx) -> None:
    data = json.dumps([{"name": "Jo"}]).encode()
    assert detect("x.json", data.decode()) == ""
    report = import_targets(make_org().id, data, file_format="nosdeputes", filename="x.json")
    assert not report.ok and "NosSénateurs export" in report.errors[0].message
