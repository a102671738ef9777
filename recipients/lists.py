"""Lists of targets shared by an organisation's campaigns: static (members) or dynamic (saved filters)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from csvout import to_csv
from extensions import db
from recipients.formats.mapped_csv import LAYOUT
from recipients.importer import add_to_static_list
from recipients.models import Recipient, RecipientList, recipient_list_member
from recipients.services import TargetFilter, select_targets
from recipients.signals import notify_targets_changed


class ListError(ValueError):
    """A list change that is refused; the message is for the organiser."""


def members_filter(target_list: RecipientList) -> TargetFilter:
    """Who a list holds: a dynamic list's own filters decide (retired targets too, if it asks for
    them); a static list shows its active members."""
    return TargetFilter(recipient_list_id=target_list.id, activity="all" if target_list.is_dynamic else "active")


def find_list(organisation_id: int, list_id: int) -> RecipientList | None:
    target_list = db.session.get(RecipientList, list_id)
    return target_list if target_list and target_list.organisation_id == organisation_id else None


def save_list(
    organisation_id: int,
    target_list: RecipientList | None,
    *,
    name: str,
    description: str = "",
    criteria: TargetFilter | None = None,
) -> RecipientList:
    """Create or rename a list; `criteria` makes (or keeps) it dynamic. Raises ListError. Flushes."""
    name = " ".join(name.split())
    if not name:
        raise ListError(_("A list needs a name."))
    taken = db.session.scalar(
        select(RecipientList.id).where(
            RecipientList.organisation_id == organisation_id,
            RecipientList.name == name,
            RecipientList.id != (target_list.id if target_list else -1),
        )
    )
    if taken:
        raise ListError(_("There is already a list named %(name)s.", name=name))
    if target_list is None:
        target_list = RecipientList(organisation_id=organisation_id, is_dynamic=criteria is not None)
        db.session.add(target_list)
    target_list.name = name
    target_list.description = description.strip()
    if target_list.is_dynamic:
        target_list.criteria = (criteria or TargetFilter()).criteria()
    db.session.flush()
    notify_targets_changed(organisation_id)
    return target_list


def add_filtered(organisation_id: int, target_list: RecipientList, target_filter: TargetFilter) -> int:
    """Add every target that passes `target_filter` to a static list; returns how many were new."""
    if target_list.is_dynamic:
        raise ListError(_("A dynamic list's members follow its filters; edit the filters instead."))
    before = member_count(target_list)
    ids = list(db.session.scalars(select_targets(organisation_id, target_filter).with_only_columns(Recipient.id)))
    add_to_static_list(organisation_id, target_list.name, ids)
    db.session.flush()
    notify_targets_changed(organisation_id)
    return member_count(target_list) - before


def remove_member(target_list: RecipientList, recipient_id: int) -> None:
    db.session.execute(
        delete(recipient_list_member).where(
            recipient_list_member.c.recipient_list_id == target_list.id,
            recipient_list_member.c.recipient_id == recipient_id,
        )
    )
    db.session.flush()
    notify_targets_changed(target_list.organisation_id)


def member_count(target_list: RecipientList) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(recipient_list_member)
            .where(recipient_list_member.c.recipient_list_id == target_list.id)
        )
        or 0
    )


def list_users(target_list: RecipientList) -> int:
    """How many rows elsewhere (campaigns) point at this list, found through the schema's foreign keys,
    so this package need not know who uses its lists."""
    total = 0
    for table in db.metadata.tables.values():
        if table.name == recipient_list_member.name:
            continue
        for key in table.foreign_keys:
            if key.column.table.name == RecipientList.__tablename__:
                total += int(
                    db.session.scalar(select(func.count()).select_from(table).where(key.parent == target_list.id)) or 0
                )
    return total


def delete_list(target_list: RecipientList) -> None:
    """Delete a list (its targets stay). Raises ListError while a campaign still aims at it."""
    users = list_users(target_list)
    if users:
        raise ListError(_("%(count)d campaign(s) aim at this list; point them elsewhere first.", count=users))
    db.session.delete(target_list)
    db.session.flush()


def export_csv(organisation_id: int, target_list: RecipientList) -> str:
    """The list's active targets in the Porte-voix layout, so the file imports back as it is (cells that a
    spreadsheet would run as formulas are written as text)."""
    query = select_targets(organisation_id, members_filter(target_list)).order_by(
        Recipient.last_name, Recipient.first_name, Recipient.id
    )
    rows = (
        [
            r.external_id,
            r.role.value,
            r.first_name,
            r.last_name,
            r.title,
            r.gender.value[0].upper() if r.gender else "",
            r.chamber,
            r.group_name,
            r.constituency,
            r.constituency_code,
            r.department,
            "|".join(r.committees or []),
            r.handle_x or "",
            r.handle_bluesky or "",
            r.handle_mastodon or "",
            r.email or "",
            r.salutation,
        ]
        for r in db.session.scalars(query)
    )
    return to_csv(rows, LAYOUT)
