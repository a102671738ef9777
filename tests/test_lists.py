"""Static and dynamic lists: members, counts per network, CSV export that imports back, deletion rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels import Network
from extensions import db
from recipients.importer import import_targets
from recipients.lists import ListError, add_filtered, delete_list, export_csv, members_filter, save_list
from recipients.models import Recipient, TargetRole
from recipients.services import TargetFilter, reach, select_targets
from tests.conftest import login, recipient


def _names(organisation_id: int, target_filter: TargetFilter) -> list[str]:
    query = select_targets(organisation_id, target_filter).order_by(Recipient.last_name)
    return [r.last_name for r in db.session.scalars(query)]


def _target(organisation_id: int, number: int, **overrides):
    """A test target on X and by e-mail only (unless said), with an address the importer accepts."""
    values = {"handle_bluesky": None, "handle_mastodon": None, "email": f"t{number}@assemblee-nationale.fr"}
    return recipient(organisation_id, number, **(values | overrides))


@pytest.fixture
def targets(make_org, ctx):
    organisation_id = make_org().id
    rows = [
        _target(
            organisation_id,
            1,
            last_name="Alpha",
            group_name="A",
            chamber="Sénat",
            role=TargetRole.SENATOR,
            committees=["Finances", "Lois"],
            handle_bluesky="alpha.bsky.social",
        ),
        _target(
            organisation_id,
            2,
            last_name="Bravo",
            group_name="A",
            chamber="Assemblée nationale",
            committees=["Finances publiques"],
            department="2A",
        ),
        _target(
            organisation_id,
            3,
            last_name="Charlie",
            group_name="B",
            chamber="Assemblée nationale",
            committees=["Lois"],
            handle_x=None,
            department="2A",
        ),
        _target(
            organisation_id,
            4,
            last_name="Delta",
            group_name="B",
            chamber="Assemblée nationale",
            is_active=False,
            committees=["Lois"],
        ),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return organisation_id


def test_dynamic_lists_return_the_right_members(targets) -> None:
    organisation_id = targets
    cases = {
        "Loi": (TargetFilter(committee="Lois"), ["Alpha", "Charlie"]),  # exact committee, not "Finances publiques"
        "Fin": (TargetFilter(committee="Finances"), ["Alpha"]),
        "Sen": (TargetFilter(chamber="Sénat"), ["Alpha"]),
        "Dep": (TargetFilter(roles=(TargetRole.DEPUTY,), departments=("2A",)), ["Bravo", "Charlie"]),
        "X": (TargetFilter(network=Network.X, groups=("B",)), []),
        "A or B": (TargetFilter(groups=("A", "B")), ["Alpha", "Bravo", "Charlie"]),
        "Ret": (TargetFilter(activity="inactive"), ["Delta"]),
        "All B": (TargetFilter(groups=("B",), activity="all"), ["Charlie", "Delta"]),
        "Bsky": (TargetFilter(network=Network.BLUESKY), ["Alpha"]),
    }
    for name, (criteria, expected) in cases.items():
        saved = save_list(organisation_id, None, name=name, criteria=criteria)
        assert saved.is_dynamic
        assert _names(organisation_id, members_filter(saved)) == expected, name
    # A dynamic list follows imports: a new deputy in 2A joins "Dep" by itself.
    db.session.add(_target(organisation_id, 5, last_name="Echo", department="2A"))
    db.session.flush()
    dep = save_list(organisation_id, None, name="Dep 2", criteria=cases["Dep"][0])
    assert _names(organisation_id, TargetFilter(recipient_list_id=dep.id)) == ["Bravo", "Charlie", "Echo"]
    # A campaign's own filters narrow the list further.
    assert _names(organisation_id, TargetFilter(recipient_list_id=dep.id, network=Network.X)) == ["Bravo", "Echo"]


def test_static_lists_and_counts_per_network(targets) -> None:
    organisation_id = targets
    static = save_list(organisation_id, None, name="Commission des lois")
    assert add_filtered(organisation_id, static, TargetFilter(committee="Lois")) == 2
    assert add_filtered(organisation_id, static, TargetFilter(committee="Lois")) == 0  # no duplicates
    counts = reach(organisation_id, TargetFilter(recipient_list_id=static.id))
    assert counts.total == 2
    assert counts.by_network == {Network.X: 1, Network.BLUESKY: 1, Network.MASTODON: 0, Network.EMAIL: 2}
    with pytest.raises(ListError, match="already a list named"):
        save_list(organisation_id, None, name="Commission  des lois")
    dynamic = save_list(organisation_id, None, name="Dyn", criteria=TargetFilter())
    with pytest.raises(ListError, match="follow its filters"):
        add_filtered(organisation_id, dynamic, TargetFilter())


def test_a_list_exports_as_csv_that_imports_back(targets, make_org) -> None:
    organisation_id = targets
    static = save_list(organisation_id, None, name="Export")
    add_filtered(organisation_id, static, TargetFilter(activity="all"))
    db.session.commit()
    body = export_csv(organisation_id, static)
    assert body.splitlines()[0].startswith("external_id,role,first_name,last_name")
    assert "Finances|Lois" in body and "Delta" not in body  # members who are active
    other = make_org("Autre").id
    report = import_targets(other, body.encode(), filename="export.csv")
    assert (report.file_format, report.created) == ("layout", 3), report.errors
    again = import_targets(organisation_id, body.encode(), filename="export.csv", source="test")
    assert (again.created, again.updated) == (0, 0)


def test_a_list_in_use_cannot_be_deleted(targets) -> None:
    from campaign.models import Campaign

    organisation_id = targets
    used = save_list(organisation_id, None, name="Used")
    campaign_row = Campaign(organisation_id=organisation_id, title="T", slug="t", recipient_list_id=used.id)
    db.session.add(campaign_row)
    db.session.commit()
    with pytest.raises(ListError, match="1 campaign"):
        delete_list(used)
    campaign_row.recipient_list_id = None
    db.session.commit()
    delete_list(used)
    db.session.commit()
    assert db.session.scalar(select(Recipient).where(Recipient.last_name == "Alpha")) is not None


def test_list_pages(client, app, make_org, make_user) -> None:
    organisation = make_org()
    login(client, make_user(organisation))
    with app.app_context():
        db.session.add_all(
            [
                recipient(organisation.id, 1, last_name="Alpha", group_name="A"),
                recipient(organisation.id, 2, last_name="Bravo", group_name="B"),
            ]
        )
        db.session.commit()
    created = client.post(
        "/admin/targets/lists/new",
        data={"name": "Groupe A", "is_dynamic": "y", "group": "A", "activity": "active"},
        follow_redirects=True,
    )
    assert "List saved." in created.text and "Alpha" in created.text and "Bravo" not in created.text
    static = client.post("/admin/targets/lists/new", data={"name": "À la main"}, follow_redirects=True)
    assert "This list is empty." in static.text
    with app.app_context():
        from recipients.models import RecipientList

        static_id = db.session.scalars(select(RecipientList.id).where(RecipientList.name == "À la main")).one()
    added = client.post(
        "/admin/targets/add-to-list?group=B", data={"target_list": str(static_id)}, follow_redirects=True
    )
    assert "1 target(s) added to À la main." in added.text and "Bravo" in added.text
    export = client.get(f"/admin/targets/lists/{static_id}/export.csv")
    assert export.mimetype == "text/csv" and "Bravo" in export.text and export.text.startswith("\ufeff")
    index = client.get("/admin/targets/lists/").text
    assert "Groupe A" in index and "À la main" in index
    with app.app_context():
        bravo_id = db.session.scalars(select(Recipient.id).where(Recipient.last_name == "Bravo")).one()
    client.post(f"/admin/targets/lists/{static_id}/members/{bravo_id}/remove")
    assert "This list is empty." in client.get(f"/admin/targets/lists/{static_id}").text
    assert client.post(f"/admin/targets/lists/{static_id}/delete", follow_redirects=True).status_code == 200
    assert client.get(f"/admin/targets/lists/{static_id}").status_code == 404


def test_analysts_read_lists_but_cannot_change_them(client, app, make_org, make_user) -> None:
    from accounts.models import Role

    organisation = make_org()
    with app.app_context():
        saved = save_list(organisation.id, None, name="L")
        db.session.commit()
        list_id = saved.id
    login(client, make_user(organisation, role=Role.ANALYST))
    page = client.get(f"/admin/targets/lists/{list_id}")
    assert page.status_code == 200 and "Delete this list" not in page.text
    assert client.post(f"/admin/targets/lists/{list_id}/delete").status_code == 403
    assert client.post("/admin/targets/lists/new", data={"name": "X"}).status_code == 403
