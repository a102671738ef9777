"""Target selection by list and filters, lists, and the postcode lookup."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, delete, func, insert, select

from channels import Network
from extensions import db
from recipients.models import PostcodeArea, Recipient, RecipientList, TargetRole, recipient_list_member

HANDLE_COLUMNS = {
    Network.X: Recipient.handle_x,
    Network.BLUESKY: Recipient.handle_bluesky,
    Network.MASTODON: Recipient.handle_mastodon,
    Network.EMAIL: Recipient.email,
}


@dataclass(frozen=True)
class TargetFilter:
    """Which of an organisation's targets a campaign aims at. Empty fields do not filter."""

    recipient_list_id: int | None = None
    role: TargetRole | None = None
    group_name: str = ""
    department: str = ""
    network: Network | None = None


def select_targets(organisation_id: int, target_filter: TargetFilter) -> Select[tuple[Recipient]]:
    """The active targets of an organisation that pass the filter."""
    query = select(Recipient).where(Recipient.organisation_id == organisation_id, Recipient.is_active.is_(True))
    if target_filter.recipient_list_id is not None:
        query = query.join(recipient_list_member, recipient_list_member.c.recipient_id == Recipient.id).where(
            recipient_list_member.c.recipient_list_id == target_filter.recipient_list_id
        )
    if target_filter.role is not None:
        query = query.where(Recipient.role == target_filter.role)
    if target_filter.group_name:
        query = query.where(Recipient.group_name == target_filter.group_name)
    if target_filter.department:
        query = query.where(Recipient.department == target_filter.department)
    if target_filter.network is not None:
        column = HANDLE_COLUMNS[target_filter.network]
        query = query.where(column.is_not(None), column != "")
    return query


def reach_counts(recipients: list[Recipient]) -> dict[Network, int]:
    """How many of `recipients` can be reached on each network."""
    return {network: sum(1 for r in recipients if r.handle(network)) for network in Network}


def organisation_lists(organisation_id: int) -> list[tuple[RecipientList, int]]:
    """The organisation's lists with their member counts, by name."""
    count = (
        select(func.count())
        .select_from(recipient_list_member)
        .where(recipient_list_member.c.recipient_list_id == RecipientList.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(RecipientList, count)
        .where(RecipientList.organisation_id == organisation_id)
        .order_by(RecipientList.name)
    )
    return [(row[0], int(row[1])) for row in rows]


def distinct_values(organisation_id: int, column: str) -> list[str]:
    """The non-empty values of a text column among active targets (for filter menus)."""
    attribute = getattr(Recipient, column)
    rows = db.session.scalars(
        select(attribute)
        .where(Recipient.organisation_id == organisation_id, Recipient.is_active.is_(True), attribute != "")
        .distinct()
        .order_by(attribute)
    )
    return list(rows)


def normalise_postcode(value: str) -> str:
    return "".join(value.split()).upper()


def constituencies_for(postcode: str) -> list[str]:
    """The constituency codes a postcode spans, sorted; empty when it is unknown."""
    return list(
        db.session.scalars(
            select(PostcodeArea.constituency_code)
            .where(PostcodeArea.postcode == normalise_postcode(postcode))
            .order_by(PostcodeArea.constituency_code)
        )
    )


def has_postcode_data() -> bool:
    return db.session.scalar(select(PostcodeArea.postcode).limit(1)) is not None


def replace_postcodes(mapping: dict[str, list[str]]) -> int:
    """Replace the postcode map with `mapping`; returns the number of (postcode, constituency) rows."""
    db.session.execute(delete(PostcodeArea))
    rows = [
        {"postcode": normalise_postcode(postcode), "constituency_code": code.strip().upper()}
        for postcode, codes in mapping.items()
        for code in dict.fromkeys(codes)
    ]
    if rows:
        db.session.execute(insert(PostcodeArea), rows)
    db.session.flush()
    return len(rows)
