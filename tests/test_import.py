"""CSV import of the project's own layout: all rows or none, each bad row reported, re-import is an update."""

from __future__ import annotations

import io

from click.testing import Result
from sqlalchemy import func, select

from accounts.models import AuditEvent, Role
from extensions import db
from recipients.importer import import_targets
from recipients.models import Gender, ImportRun, ImportState, Recipient, RecipientList, TargetRole
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
        b"external_id,role,last_name,gender,x,email\n"
        b"A1,deputy,Ok,F,@fine,ok@assemblee-nationale.fr\n"
        b"A2,king,Bad,Q,not a handle!,nope\n"
        b",deputy,,,,\n"
        b"A1,deputy,Again,,,\n"
    )
    report = import_targets(make_org().id, data, source="csv")
    found = {(e.where, e.field) for e in report.errors}
    assert found == {
        ("line 3", "role"),
        ("line 3", "gender"),
        ("line 3", "x"),
        ("line 3", "email"),
        ("line 4", "external_id"),
        ("line 4", "last_name"),
        ("line 5", "external_id"),
    }
    assert "unknown role 'king'" in next(e.message for e in report.errors if e.field == "role")
    assert "duplicate of line 2" in next(e.message for e in report.errors if e.where == "line 5")
    assert _count(Recipient) == 0


def test_dry_run_reports_and_writes_nothing(make_org, ctx) -> None:
    report = import_targets(make_org().id, GOOD, source="an", list_name="L", dry_run=True)
    assert report.created == 2 and _count(Recipient) == 0 and _count(RecipientList) == 0


def _upload(client, data: bytes, name: str = "t.csv", **fields: str):
    return client.post(
        "/admin/targets/import",
        data={"file": (io.BytesIO(data), name), "file_format": "auto", "retire": "y", **fields},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def _last_run_id() -> int:
    return int(db.session.scalars(select(ImportRun.id).order_by(ImportRun.id.desc())).first() or 0)


def test_import_page_checks_then_imports(client, app, make_org, make_user) -> None:
    organisation = make_org()
    login(client, make_user(organisation))
    bad = _upload(client, b"external_id,role,last_name\nA,x,B\n")
    assert "1 problem: nothing was imported." in bad.text and "unknown role" in bad.text
    checked = _upload(client, GOOD, source="an", list_name="Commission")
    assert "Check passed. Nothing is written yet" in checked.text
    assert 'id="count-created">2<' in checked.text
    with app.app_context():
        assert _count(Recipient) == 0
        run_id = _last_run_id()
    done = client.post(f"/admin/targets/imports/{run_id}/confirm", follow_redirects=True)
    assert "Imported." in done.text and 'id="count-created">2<' in done.text
    with app.app_context():
        assert db.session.scalars(select(AuditEvent.action)).all() == ["import.run"]
    listing = client.get("/admin/targets/?network=mastodon").text
    assert "Martin" in listing and "Durand" not in listing
    with app.app_context():
        run = db.session.get(ImportRun, run_id)
        assert run.state is ImportState.DONE and run.data == b""  # the file is not kept
        assert len(db.session.scalars(select(RecipientList)).one().members) == 2
    status = client.get(f"/admin/targets/imports/{run_id}.json").get_json()
    assert status == {"state": "done", "processed": 2, "total": 2, "busy": False}
    again = client.post(f"/admin/targets/imports/{run_id}/confirm", follow_redirects=True)
    assert "cannot be started from its current state" in again.text


def test_a_discarded_check_writes_nothing(client, app, make_org, make_user) -> None:
    login(client, make_user(make_org()))
    _upload(client, GOOD)
    with app.app_context():
        run_id = _last_run_id()
    client.post(f"/admin/targets/imports/{run_id}/discard")
    client.post(f"/admin/targets/imports/{run_id}/confirm")
    with app.app_context():
        assert _count(Recipient) == 0 and db.session.get(ImportRun, run_id).state is ImportState.DISCARDED


def test_another_organisations_import_is_not_found(client, app, make_org, make_user) -> None:
    login(client, make_user(make_org("A")))
    _upload(client, GOOD)
    with app.app_context():
        run_id = _last_run_id()
    other = app.test_client()
    login(other, make_user(make_org("B")))
    assert other.get(f"/admin/targets/imports/{run_id}").status_code == 404
    assert other.post(f"/admin/targets/imports/{run_id}/confirm").status_code == 404


def test_any_csv_through_a_column_mapping(client, app, make_org, make_user) -> None:
    """A CSV of unknown layout: map its columns, preview the first rows with their errors, save the
    mapping, check; the next file with the same header gets the saved mapping."""
    login(client, make_user(make_org()))
    data = (
        b"Identifiant;Nom complet;Parti;Compte Twitter;Courriel;Circo\n"
        b"M1;Anne Exemple;Parti A;@anne_ex;anne@mairie-exemple.fr;Nord\n"
        b"M2;Bruno Essai;Parti B;pas un compte!;bruno@mairie-essai.fr;Sud\n"
    )
    page = _upload(client, data, name="maires.csv")
    assert "Map the columns" in page.text
    with app.app_context():
        run_id = _last_run_id()
    url = f"/admin/targets/imports/{run_id}/mapping"
    # The guess maps the obvious columns; without a role the page says what is missing.
    assert 'value="full_name" selected' in page.text and 'value="x" selected' in page.text
    assert "choose the role of every row" in page.text
    form = {"col-0": "external_id", "col-1": "full_name", "col-2": "group", "col-3": "x", "col-4": "email"}
    preview = client.post(url, data={**form, "col-5": "constituency", "role": "other", "action": "preview"})
    assert "Anne" in preview.text and "Exemple" in preview.text
    assert "line 3" in preview.text and "not a valid X address" in preview.text
    doubled = client.post(url, data={**form, "col-5": "group", "role": "other", "action": "check"})
    assert "is chosen twice" in doubled.text
    checked = client.post(
        url,
        data={**form, "col-5": "constituency", "role": "other", "action": "check", "save_as": "Maires"},
        follow_redirects=True,
    )
    assert "1 problem: nothing was imported." in checked.text  # the bad handle, found in the whole file
    page = _upload(client, data.replace(b"pas un compte!", b"@bruno_e"), name="maires-2.csv")
    assert "Your saved mapping “Maires” fits this file" in page.text
    with app.app_context():
        run_id = _last_run_id()
    checked = client.post(
        f"/admin/targets/imports/{run_id}/mapping",
        data={**form, "col-5": "constituency", "role": "other", "action": "check"},
        follow_redirects=True,
    )
    assert 'id="count-created">2<' in checked.text
    client.post(f"/admin/targets/imports/{run_id}/confirm")
    with app.app_context():
        anne = db.session.scalars(select(Recipient).where(Recipient.external_id == "M1")).one()
        assert (anne.first_name, anne.last_name, anne.group_name, anne.handle_x, anne.role) == (
            "Anne",
            "Exemple",
            "Parti A",
            "anne_ex",
            TargetRole.OTHER,
        )


def test_import_cli(app, make_org, tmp_path) -> None:
    make_org("Collectif CLI")
    path = tmp_path / "targets.csv"
    path.write_bytes(GOOD)
    runner = app.test_cli_runner()
    args = ["recipients", "import", str(path), "--organisation", "Collectif CLI", "--source", "an"]
    dry = runner.invoke(args=[*args, "--dry-run"])
    assert dry.exit_code == 0 and "2 rows: 2 would be created" in dry.output
    result: Result = runner.invoke(args=args)
    assert result.exit_code == 0 and "2 rows: 2 were created, 0 updated, 0 unchanged, 0 retired." in result.output
    assert "(layout, utf-8)" in result.output
    path.write_bytes(b"external_id,role,last_name\nA,x,B\n")
    result = runner.invoke(args=["recipients", "import", str(path), "--organisation", "Collectif CLI"])
    assert result.exit_code == 1 and "line 2, role: error" in result.output and "nothing was imported" in result.output
    with app.app_context():
        assert _count(Recipient) == 2


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
    page = _upload(client, data)
    assert "2 problèmes : rien n’a été importé." in page.text
    assert "fonction inconnue" in page.text and "adresse X invalide" in page.text


def test_a_stalled_import_can_be_discarded(client, app, make_org, make_user) -> None:
    """A run whose worker died (a restart) stays busy; after ten silent minutes the page says so."""
    from datetime import timedelta

    from database import utcnow

    organisation = make_org()
    login(client, make_user(organisation))
    with app.app_context():
        run = ImportRun(
            organisation_id=organisation.id, file_format="layout", source="csv", data=GOOD, state=ImportState.CHECKING
        )
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    assert "has not moved for ten minutes" not in client.get(f"/admin/targets/imports/{run_id}").text
    client.post(f"/admin/targets/imports/{run_id}/discard")
    with app.app_context():
        run = db.session.get(ImportRun, run_id)
        assert run.state is ImportState.CHECKING  # still working: not discarded
        run.updated_at = utcnow() - timedelta(minutes=11)
        db.session.commit()
    assert "has not moved for ten minutes" in client.get(f"/admin/targets/imports/{run_id}").text
    client.post(f"/admin/targets/imports/{run_id}/discard")
    with app.app_context():
        assert db.session.get(ImportRun, run_id).state is ImportState.DISCARDED


def test_a_csv_broken_past_its_header_fails_at_the_mapping_step(client, app, make_org, make_user) -> None:
    login(client, make_user(make_org()))
    page = _upload(client, b'Nom;Parti\nAnne;"A\nBruno;B\n', name="broken.csv")
    assert "1 problem: nothing was imported." in page.text and "unreadable CSV" in page.text
