"""Every change of what a campaign's supporters see bumps `Campaign.version`, the key of its page snapshot.

Two listeners on the session, so no service has to remember:
- after a flush, the campaigns whose rows (campaign, messages, variants, waves and their targets, its
  targets) changed through the unit of work, and every campaign of an organisation whose recipients
  or postcode map changed;
- before a bulk statement (`update()`, `delete()`, `insert()` through the session) on one of those
  tables, every campaign: such statements are rare (a wave opening, an import, a target sync) and
  say too little to name their campaigns. The fold's own statements opt out (`pv_folding`).

The bump runs on the session's connection, in the transaction of the change: a change rolled back
bumps nothing.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from campaign.models import Campaign, CampaignTarget, Message, Variant, Wave, WaveTarget
from recipients.models import PostcodeArea, Recipient

WATCHED = {
    cast(Table, model.__table__).name
    for model in (Campaign, Message, Variant, Wave, WaveTarget, CampaignTarget, Recipient, PostcodeArea)
}
CAMPAIGN = cast(Table, Campaign.__table__)


def _campaign_of(obj: Any) -> Any:
    """The campaign id of a changed row, or a subquery that names it."""
    if isinstance(obj, Campaign):
        return obj.id
    if isinstance(obj, Message | Wave | CampaignTarget):
        return obj.campaign_id
    if isinstance(obj, Variant):
        return select(Message.campaign_id).where(Message.id == obj.message_id).scalar_subquery()
    if isinstance(obj, WaveTarget):
        return select(Wave.campaign_id).where(Wave.id == obj.wave_id).scalar_subquery()
    return None


def _after_flush(session: Session, _context: Any) -> None:
    changed = [*session.new, *session.dirty, *session.deleted]
    campaigns: set[int] = set()
    subqueries = []
    organisations: set[int] = set()
    for obj in changed:
        if isinstance(obj, Recipient | PostcodeArea):
            organisations.add(obj.organisation_id)
            continue
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        found = _campaign_of(obj)
        if isinstance(found, int):
            campaigns.add(found)
        elif found is not None:
            subqueries.append(found)
    table = CAMPAIGN
    bump = {"version": table.c.version + 1}
    connection = session.connection()
    if campaigns:
        connection.execute(update(table).where(table.c.id.in_(campaigns)).values(bump))
    for subquery in subqueries:
        connection.execute(update(table).where(table.c.id == subquery).values(bump))
    if organisations:
        connection.execute(update(table).where(table.c.organisation_id.in_(organisations)).values(bump))


def _before_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert) or state.execution_options.get("pv_folding"):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) not in WATCHED:
        return
    campaign = CAMPAIGN
    state.session.connection().execute(update(campaign).values(version=campaign.c.version + 1))


def init_app() -> None:
    """Listen on every session (the listeners check what changed; they cost nothing elsewhere). Once."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _before_bulk)
