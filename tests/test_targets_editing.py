"""What organisers read and change about targets: names in menus and reports, handles edited on a target's
page, a searchable sorted preview picker, and a postcode map that is checked before it replaces anything.
"""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from accounts.models import Role
from campaign.models import CampaignTarget
from demo.seed import POSTCODES, seed_demo
from extensions import db
from recipients.importer import import_targets
from recipients.models import ImportRun, PostcodeArea, Recipient
from recipients.places import DEPARTMENTS, GROUPS, department_label, group_label
from recipients.postcodes import constituencies_for, import_postcodes
from tests.conftest import SHARED_DATA, login, needs_shared_data, recipient

DATA = SHARED_DATA


@needs_shared_data
def test_every_group_and_department_of_the_real_deputies_has_its_usual_name() -> None:
    import csv

    with (DATA / "fr/deputes-datan-2024-12-25.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["groupeAbrev"] for row in rows} <= set(GROUPS)
    codes = {row["departementCode"].upper() for row in rows}
    assert codes <= set(DEPARTMENTS)
    # The export's own case is not the usual one; ours is.
    assert {row["departementNom"] for row in rows if row["departementCode"] == "2b"} == {"Haute-corse"}
    assert (DEPARTMENTS["2B"], DEPARTMENTS["21"], DEPARTMENTS["95"]) == ("Haute-Corse", "Côte-d'Or", "Val-d'Oise")
    assert group_label("SOC") == "SOC · Socialistes et apparentés" and group_label("Groupe A") == "Groupe A"
    assert department_label("2A") == "2A · Corse-du-Sud" and department_label("99") == "99"


def test_handles_are_edited_on_the_targets_page(client, app: Flask, make_org, make_user, make_campaign) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation, targets=1, networks=["x", "bluesky"])
    with app.app_context():
        target = db.session.scalars(select(Recipient)).one()
        target_id = target.id
    login(client, make_user(organisation, Role.ORGANISER))
    page = client.get(f"/admin/targets/{target_id}?lang=en").text
    assert 'name="handle_bluesky"' in page and 'name="handle_x"' in page
    form = {"salutation": "", "is_active": "y", "handle_x": "https://x.com/Nouveau_AN", "handle_bluesky": "",
            "handle_mastodon": "@nouveau@piaille.fr", "email": "nouveau@an.example"}  # fmt: skip
    bad = client.post(f"/admin/targets/{target_id}?lang=en", data={**form, "handle_bluesky": "pas un handle!"})
    assert "Not a valid Bluesky address." in bad.text
    with app.app_context():
        assert db.session.get_one(Recipient, target_id).handle_x != "Nouveau_AN"  # nothing saved
    client.post(f"/admin/targets/{target_id}", data=form)
    with app.app_context():
        saved = db.session.get_one(Recipient, target_id)
        assert (saved.handle_x, saved.handle_bluesky, saved.handle_mastodon) == (
            "Nouveau_AN",
            None,
            "nouveau@piaille.fr",
        )
        # Campaigns follow: the target is still reachable on X (the campaign re-synced on the change).
        assert db.session.scalar(select(func.count()).select_from(CampaignTarget)) == 1
    client.post(f"/admin/targets/{target_id}", data={**form, "handle_x": "", "handle_mastodon": "", "email": ""})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CampaignTarget)) == 0  # no account left
    del campaign


@needs_shared_data
def test_a_file_of_handles_reports_targets_by_name(make_org, ctx) -> None:
    organisation_id = make_org().id
    import_targets(organisation_id, (DATA / "fr/deputes-datan-2024-12-25.csv").read_bytes(), source="datan")
    handles = {"PA1008": "alain-david.bsky.social"}
    report = import_targets(organisation_id, json.dumps({"PA1008": {"bsky": handles["PA1008"]}}).encode(),
                            file_format="politix-bluesky")  # fmt: skip
    assert report.updated == 1 and report.updated_fields == [("Alain David (PA1008)", ["handle_bluesky"])]


@needs_shared_data
def test_the_import_button_says_what_it_writes(client, app: Flask, make_org, make_user) -> None:
    organisation = make_org()
    with app.app_context():
        import_targets(organisation.id, (DATA / "fr/deputes-datan-2024-12-25.csv").read_bytes(), source="datan")
        db.session.commit()
    login(client, make_user(organisation, Role.ORGANISER))
    data = (DATA / "fr/deputes-datan-2024-12-25.csv").read_bytes().replace(b",DR,Indre,", b",DR2,Indre,")
    client.post("/admin/targets/import?lang=en", data={"file": (BytesIO(data), "datan.csv"), "file_format": "auto",
                                                      "retire": "y"}, content_type="multipart/form-data")  # fmt: skip
    with app.app_context():  # the tests' app checks the file at once
        run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    page = client.get(f"/admin/targets/imports/{run.id}?lang=en").text
    assert "Check passed" in page
    # 576 rows, one of them changes: the button counts the change, as the report does, not the rows.
    assert 'id="count-updated">1<' in page
    assert "Import: 1 change (0 new, 1 updated, 0 retired)" in page


def test_the_preview_picker_is_sorted_and_searchable(client, app: Flask, make_org, make_user, make_campaign) -> None:
    organisation = make_org()
    with app.app_context():
        for number, last in enumerate(["Zola", "écoffier", "Martin", "Éluard"], 11):
            db.session.add(recipient(organisation.id, number, last_name=last))
        db.session.commit()
    campaign = make_campaign(organisation, targets=0)
    login(client, make_user(organisation, Role.ORGANISER))
    page = client.get(f"/admin/campaigns/{campaign.id}/preview?lang=en").text
    picker = page.split('id="preview-targets"')[1].split("</select>")[0]
    order = [name for name in ("écoffier", "Éluard", "Martin", "Zola") if name in picker]
    assert sorted(order, key=picker.index) == ["écoffier", "Éluard", "Martin", "Zola"]  # accents aside
    assert 'data-filter-list="preview-targets"' in page


@needs_shared_data
def test_a_postcode_map_is_checked_before_it_replaces_the_demos(client, app: Flask, make_org, make_user) -> None:
    with app.app_context():
        from accounts.models import Organisation

        organisation_id = seed_demo().campaign.organisation_id
        db.session.commit()
        organisation = db.session.get_one(Organisation, organisation_id)
        db.session.expunge(organisation)
    login(client, make_user(organisation, Role.ORGANISER))
    real = (DATA / "fr/postcode-circonscription.json").read_bytes()

    checked = client.post("/admin/targets/postcodes?lang=en", data={"file": (BytesIO(real), "map.json")},
                          content_type="multipart/form-data")  # fmt: skip
    assert checked.status_code == 302 and "check=" in checked.headers["Location"]
    page = client.get(checked.headers["Location"] + "&lang=en").text
    with app.app_context():  # nothing written yet: the demo's map is whole
        assert constituencies_for(organisation_id, "99002") == ["9901", "9902"]
    assert 'id="postcodes-added">6321<' in page and 'id="postcodes-removed">5<' in page
    assert "5 postcodes of today’s map are not in the file and will be removed" in page and "99001" in page
    run_id = int(checked.headers["Location"].split("check=")[1])
    client.post(f"/admin/targets/postcodes/{run_id}", data={"discard": "1"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PostcodeArea)) == sum(map(len, POSTCODES.values()))
    # Again, keeping the demo's postcodes: the real map joins them.
    checked = client.post("/admin/targets/postcodes?lang=en", data={"file": (BytesIO(real), "map.json"), "keep": "y"},
                          content_type="multipart/form-data")  # fmt: skip
    run_id = int(checked.headers["Location"].split("check=")[1])
    page = client.get(checked.headers["Location"] + "&lang=en").text
    assert "will be removed" not in page and "Kept, not in the file" in page
    client.post(f"/admin/targets/postcodes/{run_id}")
    with app.app_context():
        assert constituencies_for(organisation_id, "99002") == ["9901", "9902"]
        assert constituencies_for(organisation_id, "97110") == ["97101"]
    again = client.post(f"/admin/targets/postcodes/{run_id}?lang=en", follow_redirects=True)
    assert "This map was loaded or discarded already." in again.text  # loaded once, not twice


def test_a_bad_map_is_refused_whole(make_org, ctx) -> None:
    organisation_id = make_org().id
    report = import_postcodes(organisation_id, b'{"75001": ["7501"], "x": []}', max_bytes=10**6)
    assert not report.ok and db.session.scalar(select(func.count()).select_from(PostcodeArea)) == 0


def test_the_postcode_cli_says_what_it_changes(app: Flask, tmp_path: Path) -> None:
    from accounts.models import Organisation

    with app.app_context():
        organisation_id = seed_demo().campaign.organisation_id
        db.session.commit()
        name = db.session.get_one(Organisation, organisation_id).name
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"75005": ["7502"], "75006": ["7502"]}))
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["recipients", "import-postcodes", str(path), "--organisation", name, "--dry-run"])
    assert checked.exit_code == 0, checked.output
    assert "Would change: 2 new, 0 with other constituencies, 5 removed (today's map had 5)." in checked.output
    assert "99002" in checked.output  # named before anything is lost
    kept = runner.invoke(args=["recipients", "import-postcodes", str(path), "--organisation", name, "--keep"])
    assert "Changed: 2 new, 0 with other constituencies, 5 kept" in kept.output
    with app.app_context():
        organisation_id = db.session.scalars(select(Organisation.id).where(Organisation.name == name)).one()
        assert constituencies_for(organisation_id, "99002") == ["9901", "9902"]
        assert constituencies_for(organisation_id, "75006") == ["7502"]
