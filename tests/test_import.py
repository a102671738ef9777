"""CSV import of the project's own layout: all rows or none, each bad row reported, re-import is an update."""

from __future__ import annotations

import io

from click.testing import Result
from sqlalchemy import func, select

from accounts.models import Role
from extensions import db
from recipients.importer import import_targets
from recipients.models import Gender, Recipient, RecipientList, TargetRole
from tests.conftest import login

GOOD = (
    "external_id,role,last_name,first_name,gender,group,constituency,constituency_code,department,committees,"
    "x,bluesky,mastodon,email\n"
    "PA1,deputy,Martin,Héloïse,F,Groupe A,Paris (1re),7501,75,Finances|Lois,"
    "@HMartin,hmartin.bsky.social,@hm@piaille.fr,hm@assemblee-nationale.fr\n"
    'PA2,deputy,Durand,Paul,M,Groupe B,"Lyon, 2e",6902,69,,https://x.com/PDurand\r,,,\n'
).encode()


def _count(model: type) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_import_then_reimport_changes_nothing(make_org, ctx) -> None:
    organisation = make_org()
    report = import_targets(organisation.id, GOOD, source="an", list_name="Députés")
    assert (report.ok, report.created, report.updated, report.unchanged) == (True, 2, 0, 0)
    martin = db.session.scalar(select(Recipient).where(Recipient.external_id == "PA1"))
    assert (martin.handle_x, martin.handle_mastodon, martin.gender, martin.committees) == (
        "HMartin",
        "hm@piaille.fr",
        Gender.FEMALE,
        ["Finances", "Lois"],
    )
    durand = db.session.scalar(select(Recipient).where(Recipient.external_id == "PA2"))
    assert (durand.handle_x, durand.constituency, durand.role) == ("PDurand", "Lyon, 2e", TargetRole.DEPUTY)
    assert len(db.session.scalars(select(RecipientList)).one().members) == 2
    again = import_targets(organisation.id, GOOD, source="an", list_name="Députés")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = import_targets(organisation.id, GOOD.replace(b"Groupe B", b"Groupe C"), source="an")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    assert _count(Recipient) == 2


def test_semicolons_and_bom_are_read(make_org, ctx) -> None:
    data = "\ufeffexternal_id;role;last_name;x\nS1;senator;Petit;@petit\n".encode()
    report = import_targets(make_org().id, data, source="senat")
    assert report.ok and report.created == 1


def test_each_bad_row_is_reported_and_nothing_is_imported(make_org, ctx) -> None:
    data = (
        b"external_id,role,last_name,gender,x,mastodon,email\n"
        b"A1,deputy,Bon,F,@bon,,\n"
        b"A2,king,Roi,,,,\n"
        b",deputy,,X,,,\n"
        b"A4,deputy,Long,,this handle is bad,jean,not-mail\n"
        b"A1,deputy,Double,,,,\n"
    )
    report = import_targets(make_org().id, data, source="csv")
    found = {(e.line, e.column) for e in report.errors}
    assert found == {
        (3, "role"),
        (4, "external_id"),
        (4, "last_name"),
        (4, "gender"),
        (5, "x"),
        (5, "mastodon"),
        (5, "email"),
        (6, "external_id"),
    }
    assert "unknown role 'king'" in next(e.message for e in report.errors if e.column == "role")
    assert "duplicate of line 2" in next(e.message for e in report.errors if e.line == 6)
    assert _count(Recipient) == 0


def test_malformed_files_get_a_clear_word(make_org, ctx) -> None:
    organisation_id = make_org().id
    cases = {
        b"": "empty",
        b"external_id,role,last_name\n": "header but no rows",
        b"external_id,last_name\nA,B\n": "required column is missing",
        b"external_id,role,last_name,twitter\nA,deputy,B,x\n": "unknown column",
        "external_id,role,last_name\nA,deputy,Müller\n".encode("latin-1"): "not UTF-8",
        b"external_id,role,last_name\nA,deputy,B,extra\n": "more fields than the header",
    }
    for data, expected in cases.items():
        report = import_targets(organisation_id, data, source="csv")
        assert not report.ok and expected in report.errors[0].message, (data, report.errors)
    assert _count(Recipient) == 0


def test_dry_run_reports_and_writes_nothing(make_org, ctx) -> None:
    report = import_targets(make_org().id, GOOD, source="an", list_name="L", dry_run=True)
    assert report.created == 2 and _count(Recipient) == 0 and _count(RecipientList) == 0


def test_import_page(client, app, make_org, make_user) -> None:
    organisation = make_org()
    login(client, make_user(organisation))
    bad = client.post(
        "/admin/targets/import",
        data={"file": (io.BytesIO(b"external_id,role,last_name\nA,x,B\n"), "t.csv"), "source": "csv"},
        content_type="multipart/form-data",
    )
    assert "1 problem: nothing was imported." in bad.text and "unknown role" in bad.text
    good = client.post(
        "/admin/targets/import",
        data={"file": (io.BytesIO(GOOD), "t.csv"), "source": "an"},
        content_type="multipart/form-data",
    )
    assert "2 new, 0 updated, 0 unchanged." in good.text
    listing = client.get("/admin/targets/?network=mastodon").text
    assert "Martin" in listing and "Durand" not in listing


def test_import_cli(app, make_org, tmp_path) -> None:
    make_org("Collectif CLI")
    path = tmp_path / "targets.csv"
    path.write_bytes(GOOD)
    runner = app.test_cli_runner()
    result: Result = runner.invoke(
        args=["recipients", "import", str(path), "--organisation", "Collectif CLI", "--source", "an"]
    )
    assert result.exit_code == 0 and "2 rows: 2 were created" in result.output
    path.write_bytes(b"external_id,role,last_name\nA,x,B\n")
    result = runner.invoke(args=["recipients", "import", str(path), "--organisation", "Collectif CLI"])
    assert result.exit_code == 1 and "line 2, column role" in result.output and "nothing was imported" in result.output


def test_staff_cli_creates_users(app) -> None:
    runner = app.test_cli_runner()

    def create(email: str, password: str) -> Result:
        return runner.invoke(
            args=[
                "accounts",
                "create-user",
                "--email",
                email,
                "--organisation",
                "Org",
                "--role",
                "analyst",
                "--password",
                password,
            ]
        )

    assert create("Ana@Org.test", "long enough password").exit_code == 0
    again = create("ana@org.test", "long enough password")
    assert again.exit_code == 1 and "already exists" in again.output
    short = create("b@org.test", "short")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    with app.app_context():
        from accounts.services import authenticate

        user = authenticate("ana@org.test", "long enough password")
        assert user is not None and user.role is Role.ANALYST


def test_import_errors_speak_the_organisers_language(client, make_org, make_user) -> None:
    login(client, make_user(make_org()))
    client.get("/admin/targets/?lang=fr")
    data = b"external_id,role,last_name,x\nA,king,B,not a handle!\n"
    page = client.post(
        "/admin/targets/import",
        data={"file": (io.BytesIO(data), "t.csv"), "source": "csv"},
        content_type="multipart/form-data",
    )
    assert "2 problèmes : rien n’a été importé." in page.text
    assert "fonction inconnue" in page.text and "adresse X invalide" in page.text
