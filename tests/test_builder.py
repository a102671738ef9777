"""The campaign builder's rules: slugs, message checks, publishing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign.models import Campaign, CampaignStatus, Variant
from campaign.services import CampaignError, change_status, check_body, save_campaign, save_message, slugify
from campaign.targets import active_variants
from extensions import db
from tests.conftest import recipient


def test_slugify() -> None:
    assert slugify("Livre blanc : l'ESS, c'est maintenant !") == "livre-blanc-l-ess-c-est-maintenant"
    assert slugify("¿¡!") == "campaign"


def test_slug_collision_is_refused_with_a_free_suggestion(make_org, make_campaign, ctx) -> None:
    organisation = make_org()
    make_campaign(organisation, slug="livre-blanc")
    with pytest.raises(CampaignError, match="livre-blanc-2"):
        save_campaign(Campaign(organisation_id=organisation.id), title="Autre", slug="livre-blanc", cause="c")
    other = save_campaign(Campaign(organisation_id=organisation.id), title="Livre blanc", cause="c")
    assert other.slug == "livre-blanc-2"


def test_empty_message_is_refused(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org()))
    assert check_body(campaign, "   ") == ["The message is empty."]
    with pytest.raises(CampaignError, match="at least one variant"):
        save_message(campaign, None, label="Vide", bodies=["", "  "])


def test_unknown_placeholder_lists_the_known_ones(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org()))
    problems = check_body(campaign, "{hanlde} bonjour")
    assert len(problems) == 1 and "{hanlde}" in problems[0] and "{handle}, {name}, {salutation}" in problems[0]


def test_over_long_message_says_which_network_and_by_how_much(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org()))
    body = "{handle} " + "é" * 280  # "@deputeN " is 9 on X → 289 weighted; Bluesky counts "@deputeN.bsky.social "
    problems = check_body(campaign, body)
    x_problem = next(p for p in problems if "for X" in p)
    assert "by 9 characters" in x_problem and "limit 280" in x_problem
    assert not any("Mastodon" in p for p in problems)  # 500 on Mastodon
    with pytest.raises(CampaignError, match="Variant 2: Too long for X"):
        save_message(campaign, None, label="Long", bodies=["court {name}", body])
    assert db.session.scalar(select(db.func.count()).select_from(Variant)) == 2  # nothing added


def test_duplicate_variants_are_refused(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org()))
    with pytest.raises(CampaignError, match="same text"):
        save_message(campaign, None, label="Deux", bodies=["Bonjour {name}", "Bonjour {name}"])


def test_sent_variant_is_retired_not_rewritten(make_org, make_campaign, ctx) -> None:
    from campaign.actions import record_action
    from channels import Network

    campaign = db.session.merge(make_campaign(make_org(), variants=["A {name}", "B {name}"]))
    message = campaign.messages[0]
    first = message.variants[0]
    target_id = db.session.scalar(select(db.text("recipient_id FROM campaign_target LIMIT 1")))
    record_action(
        campaign, recipient_id=target_id, variant_id=first.id, network=Network.X, visitor_id="v" * 16, text="A"
    )
    save_message(campaign, message, label="Principal", bodies=["A2 {name}", "B {name}"])
    assert [v.body for v in active_variants(campaign)] == ["B {name}", "A2 {name}"]
    assert db.session.get(Variant, first.id).is_active is False  # kept for the action's history


def test_publish_refused_without_reachable_target(make_org, ctx) -> None:
    organisation = make_org()
    db.session.add(recipient(organisation.id, 1, handle_x=None, handle_bluesky=None, handle_mastodon=None, email=None))
    db.session.flush()
    campaign = save_campaign(Campaign(organisation_id=organisation.id), title="Sans cible", cause="c", networks=["x"])
    save_message(campaign, None, label="M", bodies=["Bonjour {name}"])
    with pytest.raises(CampaignError, match=r"Choose the campaign's targets"):  # none chosen: it aims at no one
        change_status(campaign, CampaignStatus.LIVE)
    campaign.target_criteria = {"roles": ["deputy"]}
    with pytest.raises(CampaignError, match=r"No target can be reached.*\(X\)"):
        change_status(campaign, CampaignStatus.LIVE)
    assert campaign.status is CampaignStatus.DRAFT


def test_publish_refused_without_message(make_org, ctx) -> None:
    organisation = make_org()
    db.session.add(recipient(organisation.id, 1))
    db.session.flush()
    campaign = save_campaign(Campaign(organisation_id=organisation.id), title="Muette", cause="c")
    with pytest.raises(CampaignError, match="Write at least one message"):
        change_status(campaign, CampaignStatus.LIVE)


def test_status_transitions(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org()))
    assert campaign.status is CampaignStatus.LIVE and campaign.published_at is not None
    change_status(campaign, CampaignStatus.PAUSED)
    change_status(campaign, CampaignStatus.LIVE)
    change_status(campaign, CampaignStatus.ENDED)
    with pytest.raises(CampaignError, match="cannot go from ended to live"):
        change_status(campaign, CampaignStatus.LIVE)
