"""A campaign aims at what its organiser chose, and changing a live one cannot hurt it: targets through a
list or filters only (an import never joins a campaign silently), the demo apart from real data, several
values per filter, ending asks first, duplicate / archive / delete a draft, old addresses redirect, one clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from accounts.models import Role
from analytics.figures import Scope, by_time
from campaign.models import Campaign, CampaignStatus, CampaignTarget, TargetChange, Wave, WaveStatus
from campaign.services import save_campaign
from campaign.tallies import ActionTally, SupporterDay, local_day, rebuild
from campaign.targets import eligible_recipients
from demo.seed import seed_demo
from extensions import db
from recipients.importer import import_targets
from recipients.models import RecipientList
from tests.conftest import login

HEADER = "external_id,role,last_name,first_name,gender,group,constituency,constituency_code,department,x,email\n"


def _csv(*rows: tuple[str, str, str]) -> bytes:
    """Deputies (id, last name, group) with an X handle each."""
    lines = [f"{i},deputy,{last},Ana,F,{group},Paris,75{n:02d},75,@{last}X,{last.lower()}@an.example"
             for n, (i, last, group) in enumerate(rows, 1)]  # fmt: skip
    return (HEADER + "\n".join(lines) + "\n").encode()


def _targets(campaign: Campaign) -> int:
    return int(
        db.session.scalar(
            select(func.count()).select_from(CampaignTarget).where(CampaignTarget.campaign_id == campaign.id)
        )
        or 0
    )


def test_an_import_changes_a_campaign_only_through_its_list_or_filters(make_org, ctx) -> None:
    organisation = make_org()
    import_targets(
        organisation.id, _csv(("PA1", "Alpha", "SOC"), ("PA2", "Bravo", "RN")), source="an", list_name="Mes deux"
    )
    mine = db.session.scalars(select(RecipientList)).one()
    on_list = save_campaign(
        Campaign(organisation_id=organisation.id), title="Liste", cause="c", recipient_list_id=mine.id
    )
    by_group = save_campaign(
        Campaign(organisation_id=organisation.id), title="SOC", cause="c", target_criteria={"groups": ["SOC"]}
    )
    nothing = save_campaign(Campaign(organisation_id=organisation.id), title="Rien", cause="c")
    db.session.commit()
    assert (_targets(on_list), _targets(by_group), _targets(nothing)) == (2, 1, 0)

    import_targets(
        organisation.id,
        _csv(("PA1", "Alpha", "SOC"), ("PA2", "Bravo", "RN"), ("PA3", "Charlie", "SOC"), ("PA4", "Delta", "RN")),
        source="an",
    )
    db.session.commit()
    # The static list did not grow, the filters took in the new SOC deputy, the campaign without a choice
    # still aims at no one (it used to take every target of the organisation).
    assert (_targets(on_list), _targets(by_group), _targets(nothing)) == (2, 2, 0)
    change = db.session.scalars(select(TargetChange)).one()
    assert (change.campaign_id, change.added, change.removed, change.names["added"]) == (
        by_group.id,
        1,
        0,
        ["Ana Charlie"],
    )


def test_the_campaign_page_says_what_an_import_changed(client, app: Flask, make_org, make_user) -> None:
    organisation = make_org()
    with app.app_context():
        import_targets(organisation.id, _csv(("PA1", "Alpha", "SOC")), source="an")
        campaign = save_campaign(
            Campaign(organisation_id=organisation.id), title="SOC", cause="c", target_criteria={"groups": ["SOC"]}
        )
        import_targets(organisation.id, _csv(("PA1", "Alpha", "SOC"), ("PA3", "Charlie", "SOC")), source="an")
        db.session.commit()
        campaign_id = campaign.id
    login(client, make_user(organisation, Role.ORGANISER))
    page = client.get(f"/admin/campaigns/{campaign_id}?lang=en").text
    assert "1 target joined (Ana Charlie)" in page
    assert "SOC · Socialistes et apparentés" in page  # the filter, in words


def test_a_new_campaign_chooses_its_targets_before_it_can_go_live(client, app: Flask, make_org, make_user) -> None:
    organisation = make_org()
    with app.app_context():
        import_targets(organisation.id, _csv(("PA1", "Alpha", "SOC"), ("PA2", "Bravo", "RN")), source="an")
        db.session.commit()
    login(client, make_user(organisation, Role.ORGANISER))
    form = client.get("/admin/campaigns/new").text
    assert 'name="recipient_list"' in form
    token = ""  # the tests' app turns CSRF off (its own tests cover it)
    answer = client.post(
        "/admin/campaigns/new",
        data={"csrf_token": token, "title": "Neuve", "cause": "Une cause.", "language": "fr", "networks": ["x"]},
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/targets")  # choose them next
    with app.app_context():
        campaign = db.session.scalars(select(Campaign)).one()
        assert eligible_recipients(campaign) == []
    page = client.get(answer.headers["Location"] + "?lang=en").text
    assert "No targets chosen yet" in page
    token = ""  # the tests' app turns CSRF off (its own tests cover it)
    refused = client.post(answer.headers["Location"] + "?lang=en", data={"csrf_token": token})
    assert "Choose a list or at least one filter" in refused.text
    # Two groups at once: the menu offers the groups present, with their names.
    assert 'value="SOC"' in page and "Socialistes et apparentés" in page and "Rassemblement National" in page
    client.post(answer.headers["Location"], data={"csrf_token": token, "group": ["SOC", "RN"]})
    with app.app_context():
        campaign = db.session.scalars(select(Campaign)).one()
        assert campaign.target_criteria == {"groups": ["SOC", "RN"]}
        assert len(eligible_recipients(campaign)) == 2


def test_the_demo_keeps_to_its_fictitious_deputies(make_org, ctx) -> None:
    demo = seed_demo().campaign
    db.session.commit()
    assert _targets(demo) == 6
    # Real deputies imported into the demo's organisation: the demo does not offer them...
    import_targets(demo.organisation_id, _csv(("PA1", "Reel", "SOC")), source="an")
    db.session.commit()
    assert _targets(demo) == 6
    # ...and a real campaign aiming at every deputy does not get the fictitious ones.
    real = save_campaign(
        Campaign(organisation_id=demo.organisation_id), title="Vraie", cause="c", target_criteria={"roles": ["deputy"]}
    )
    assert [r.last_name for r in eligible_recipients(real)] == ["Reel"]


def test_ending_asks_first_then_cancels_the_waves(client, app: Flask, make_org, make_user, make_campaign) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    with app.app_context():
        from database import utcnow
        from waves.services import schedule_wave

        now = utcnow()
        wave = schedule_wave(
            db.session.merge(campaign),
            title="Mardi",
            opens_at=now.replace(year=now.year + 1),
            closes_at=now.replace(year=now.year + 1, hour=23, minute=59),
            message_ids=[m.id for m in db.session.merge(campaign).messages],
            networks=db.session.merge(campaign).enabled_networks,
            criteria={},
            now=now,
        )
        db.session.commit()
        wave_id = wave.id
    login(client, make_user(organisation, Role.ORGANISER))
    show = client.get(f"/admin/campaigns/{campaign.id}?lang=en").text
    assert "End the campaign…" in show and f"/admin/campaigns/{campaign.id}/end" in show  # a link to a page that asks
    token = ""  # the tests' app turns CSRF off (its own tests cover it)
    # A form posted straight to the status endpoint (an old page, a stray click) does not end it.
    asked = client.post(f"/admin/campaigns/{campaign.id}/status", data={"csrf_token": token, "status": "ended"})
    assert asked.headers["Location"].endswith(f"/admin/campaigns/{campaign.id}/end")
    confirm = client.get(asked.headers["Location"] + "?lang=en").text
    assert "Ending is final" in confirm and "waves that have not ended are cancelled" not in confirm
    assert "1 wave that has not ended is cancelled" in confirm
    with app.app_context():
        assert db.session.get_one(Campaign, campaign.id).status is CampaignStatus.LIVE
    client.post(
        f"/admin/campaigns/{campaign.id}/status", data={"csrf_token": token, "status": "ended", "confirmed": "1"}
    )
    with app.app_context():
        assert db.session.get_one(Campaign, campaign.id).status is CampaignStatus.ENDED
        assert db.session.get_one(Wave, wave_id).status is WaveStatus.CANCELLED


def test_duplicate_archive_and_delete_a_draft(client, app: Flask, make_org, make_user, make_campaign) -> None:
    organisation = make_org()
    live = make_campaign(organisation)
    login(client, make_user(organisation, Role.ORGANISER))
    show = client.get(f"/admin/campaigns/{live.id}?lang=en").text
    token = ""  # the tests' app turns CSRF off (its own tests cover it)
    assert "Delete the draft" not in show  # a live campaign cannot be deleted
    copied = client.post(f"/admin/campaigns/{live.id}/duplicate", data={"csrf_token": token})
    with app.app_context():
        copy = db.session.scalars(select(Campaign).where(Campaign.id != live.id)).one()
        original = db.session.get_one(Campaign, live.id)
        assert copy.status is CampaignStatus.DRAFT and copy.slug != original.slug
        assert copy.target_criteria == original.target_criteria and _targets(copy) == _targets(original)
        assert [[v.body for v in m.variants] for m in copy.messages] == [
            [v.body for v in m.variants if v.is_active] for m in original.messages
        ]
        assert copy.messages[0].email_body == original.messages[0].email_body
        copy_id = copy.id
    assert copied.headers["Location"].endswith(f"/admin/campaigns/{copy_id}/edit")
    # Archiving a live campaign is refused; a draft goes off the main list and comes back.
    client.post(f"/admin/campaigns/{live.id}/archive", data={"csrf_token": token, "archived": "1"})
    client.post(f"/admin/campaigns/{copy_id}/archive", data={"csrf_token": token, "archived": "1"})
    listing = client.get("/admin/?lang=en").text
    assert f'/admin/campaigns/{live.id}"' in listing and f'/admin/campaigns/{copy_id}"' not in listing
    assert "1 archived campaign" in listing
    assert f'/admin/campaigns/{copy_id}"' in client.get("/admin/?archived=1").text
    # Deleting asks first, then removes the draft and its messages.
    assert "deleted for good" in client.get(f"/admin/campaigns/{copy_id}/delete?lang=en").text
    client.post(f"/admin/campaigns/{live.id}/delete", data={"csrf_token": token})
    client.post(f"/admin/campaigns/{copy_id}/delete", data={"csrf_token": token})
    with app.app_context():
        assert [c.id for c in db.session.scalars(select(Campaign))] == [live.id]


def test_an_old_address_redirects_for_good(client, app: Flask, make_org, make_user, make_campaign) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    old = campaign.slug
    with app.app_context():
        live = db.session.merge(campaign)
        save_campaign(live, slug="nouvelle-adresse")
        save_campaign(live, slug="troisieme-adresse")
        db.session.commit()
    for slug in (old, "nouvelle-adresse"):
        moved = client.get(f"/c/{slug}?lang=en")
        assert moved.status_code == 301 and moved.headers["Location"] == "/c/troisieme-adresse?lang=en"
        deeper = client.get(f"/c/{slug}/thanks")
        assert deeper.status_code == 301 and deeper.headers["Location"] == "/c/troisieme-adresse/thanks"
    assert client.post(f"/c/{old}/subscribe").status_code == 308  # a form is sent again at the new address
    assert client.get("/c/troisieme-adresse").status_code == 200
    assert client.get("/c/never-was").status_code == 404
    with app.app_context():  # an old address stays this campaign's: no other campaign can take it
        other = Campaign(organisation_id=organisation.id)
        try:
            save_campaign(other, title="Autre", cause="c", slug=old)
        except ValueError as exc:
            assert "taken" in str(exc)
        else:  # pragma: no cover
            raise AssertionError("an old address was given to another campaign")


def test_analytics_days_and_hours_are_the_organisations(app: Flask, make_org, make_campaign) -> None:
    campaign = make_campaign(make_org())
    with app.app_context():
        from campaign.actions import record_action
        from campaign.fold import fold_tallies
        from campaign.targets import active_variants

        live = db.session.merge(campaign)
        target = db.session.scalars(select(CampaignTarget)).first()
        variant = active_variants(live)[0]
        late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 December in Paris
        record_action(live, recipient_id=target.recipient_id, variant_id=variant.id, network=live.enabled_networks[0],
                      visitor_id="v" * 32, text="t", now=late)  # fmt: skip
        db.session.commit()
        fold_tallies()
        assert local_day(late).isoformat() == "2026-12-02"
        days, hours = by_time(Scope(live.id, zone=app.config["TIMEZONE"]))
        assert [d.key for d in days] == ["2026-12-02"] and hours[0].actions == 1 and hours[23].actions == 0
        assert [d.key for d in by_time(Scope(live.id, zone="UTC"))[0]] == ["2026-12-01"]
        day = db.session.scalars(select(SupporterDay.day).where(SupporterDay.wave_id == 0)).one()
        rebuild(live.id)  # the rebuild counts the same local days, on SQLite and PostgreSQL alike
        db.session.commit()
        assert db.session.scalars(select(SupporterDay.day).where(SupporterDay.wave_id == 0)).one() == day
        assert day.isoformat() == "2026-12-02"
        assert db.session.scalar(select(func.sum(ActionTally.actions))) == 1


def test_the_campaign_form_reads_times_on_the_organisations_clock(
    client: FlaskClient, app: Flask, make_org, make_user, make_campaign
) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation)
    login(client, make_user(organisation, Role.ORGANISER))
    form = client.get(f"/admin/campaigns/{campaign.id}/edit?lang=en").text
    assert "UTC" not in form and "Paris time." in form
    token = ""  # the tests' app turns CSRF off (its own tests cover it)
    data: dict[str, Any] = {
        "csrf_token": token,
        "title": campaign.title,
        "cause": "Une cause.",
        "language": "fr",
        "networks": ["x"],
        "starts_at": "2027-01-10T09:00",
    }
    client.post(f"/admin/campaigns/{campaign.id}/edit", data=data)
    with app.app_context():
        stored = db.session.get_one(Campaign, campaign.id).starts_at
        assert stored is not None and stored.astimezone(UTC).hour == 8  # 09:00 in Paris in January
    assert 'value="2027-01-10T09:00"' in client.get(f"/admin/campaigns/{campaign.id}/edit").text
