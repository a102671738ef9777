"""Target selection and variant rotation."""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import select

from campaign.actions import campaign_stats, record_action
from campaign.fold import fold_tallies
from campaign.models import Action, Campaign, CampaignTarget
from campaign.services import save_campaign
from campaign.targets import active_variants, next_variant, pick_target, sync_targets
from channels import Network
from extensions import db
from recipients.models import TargetRole
from tests.conftest import recipient


def _act(campaign: Campaign, recipient_id: int, variant_id: int, times: int = 1) -> None:
    for _ in range(times):
        record_action(
            campaign, recipient_id=recipient_id, variant_id=variant_id, network=Network.X, visitor_id="v" * 16, text="t"
        )
    fold_tallies()  # the counts the choice reads are folded, as the job does every second


def test_least_contacted_target_first(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=3))
    variant = active_variants(campaign)[0]
    ids = sorted(db.session.scalars(select(CampaignTarget.recipient_id)))
    _act(campaign, ids[0], variant.id, 2)
    _act(campaign, ids[1], variant.id, 1)
    assert pick_target(campaign).recipient_id == ids[2]
    _act(campaign, ids[2], variant.id, 3)
    assert pick_target(campaign).recipient_id == ids[1]


def test_ties_are_broken_at_random(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=4))
    picks = Counter(pick_target(campaign, rng=random.Random(seed)).recipient_id for seed in range(200))
    assert len(picks) == 4 and min(picks.values()) > 20


def test_excluded_targets_are_never_offered(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=3))
    ids = sorted(db.session.scalars(select(CampaignTarget.recipient_id)))
    for seed in range(50):
        assert pick_target(campaign, exclude=ids[:2], rng=random.Random(seed)).recipient_id == ids[2]
    assert pick_target(campaign, exclude=ids) is None


def test_constituency_picks_its_deputy(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=3))
    picked = pick_target(campaign, constituency_codes=["7502"])
    assert picked.recipient.constituency_code == "7502"
    assert pick_target(campaign, constituency_codes=["9999"]) is None


def test_variants_rotate_and_never_repeat_to_one_target(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=2, variants=["A {name}", "B {name}", "C {name}"]))
    variants = active_variants(campaign)
    target = db.session.scalars(select(CampaignTarget)).first()
    sent = []
    for _ in range(7):
        variant = next_variant(variants, target)
        _act(campaign, target.recipient_id, variant.id)
        db.session.refresh(target)
        sent.append(variant.body[0])
    assert all(a != b for a, b in zip(sent, sent[1:], strict=False))
    assert sorted(Counter(sent).values()) == [2, 2, 3]  # cyclic: every variant in turn


def test_single_variant_is_still_offered(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=1, variants=["Seul {name}"]))
    target = db.session.scalars(select(CampaignTarget)).one()
    assert next_variant(active_variants(campaign), target).body == "Seul {name}"


def test_counts_stay_exact_when_targets_leave_and_return(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=3))
    variant = active_variants(campaign)[0]
    first = db.session.scalars(select(CampaignTarget).order_by(CampaignTarget.recipient_id)).first()
    rid = first.recipient_id
    _act(campaign, rid, variant.id, 4)
    db.session.commit()
    save_campaign(campaign, target_criteria={"groups": ["Groupe B"]})  # target 1 is in group A: it leaves
    assert db.session.get(CampaignTarget, (campaign.id, rid)) is None
    save_campaign(campaign, target_criteria={"roles": ["deputy"]})
    assert db.session.get(CampaignTarget, (campaign.id, rid)).action_count == 4
    assert db.session.scalar(select(db.func.count()).select_from(Action)) == 4


def test_filters_and_networks_choose_the_targets(make_org, make_campaign, ctx) -> None:
    organisation = make_org()
    campaign = db.session.merge(make_campaign(organisation, targets=4))
    db.session.add(
        recipient(
            organisation.id,
            10,
            role=TargetRole.SENATOR,
            handle_x=None,
            handle_bluesky=None,
            handle_mastodon=None,
            email=None,
        )
    )
    db.session.flush()
    assert sync_targets(campaign) == 4  # the senator has no address at all
    campaign.target_criteria = {"roles": ["senator"]}
    assert sync_targets(campaign) == 0
    campaign.target_criteria = {"roles": ["senator", "deputy"]}  # several values: any of them
    assert sync_targets(campaign) == 4
    campaign.target_criteria = {"roles": ["deputy"], "network": "mastodon"}
    db.session.add(recipient(organisation.id, 11, handle_mastodon=None))
    db.session.flush()
    assert sync_targets(campaign) == 4
    campaign.target_criteria = {"roles": ["deputy"]}
    campaign.networks = ["mastodon"]
    assert sync_targets(campaign) == 4


def test_stats_count_actions_visitors_and_reach(make_org, make_campaign, ctx) -> None:
    campaign = db.session.merge(make_campaign(make_org(), targets=3))
    variant = active_variants(campaign)[0]
    ids = sorted(db.session.scalars(select(CampaignTarget.recipient_id)))
    record_action(
        campaign, recipient_id=ids[0], variant_id=variant.id, network=Network.X, visitor_id="a" * 16, text="t"
    )
    record_action(
        campaign, recipient_id=ids[0], variant_id=variant.id, network=Network.BLUESKY, visitor_id="a" * 16, text="t"
    )
    record_action(
        campaign, recipient_id=ids[1], variant_id=variant.id, network=Network.X, visitor_id="b" * 16, text="t"
    )
    assert campaign_stats(campaign).actions == 0  # not counted before the fold
    fold_tallies()
    stats = campaign_stats(campaign)
    assert (stats.actions, stats.visitors, stats.targets, stats.targets_reached) == (3, 2, 3, 2)
    assert stats.by_network[Network.X] == 2 and stats.by_network[Network.BLUESKY] == 1
    assert [count for _r, count in stats.top_targets] == [2, 1]
