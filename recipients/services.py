"""Target selection by list and filters, and the counts that lists and campaigns show."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, String, case, cast, func, select

from channels import Network
from extensions import db
from recipients.models import Recipient, RecipientList, TargetRole, recipient_list_member
from recipients.signals import notify_targets_changed

HANDLE_COLUMNS = {
    Network.X: Recipient.handle_x,
    Network.BLUESKY: Recipient.handle_bluesky,
    Network.MASTODON: Recipient.handle_mastodon,
    Network.EMAIL: Recipient.email,
}
ACTIVITY = ("active", "inactive", "all")


def _values(data: dict[str, Any], *keys: str) -> tuple[str, ...]:
    """A stored filter's values under the first of `keys` it has: a list, or one value (as filters were
    stored before they took several)."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, list | tuple):
            return tuple(dict.fromkeys(str(v) for v in value if v not in (None, "")))
        if value not in (None, ""):
            return (str(value),)
    return ()


@dataclass(frozen=True)
class TargetFilter:
    """Which of an organisation's targets a campaign or a dynamic list aims at. Empty fields do not filter;
    a field with several values takes a target that has any of them."""

    recipient_list_id: int | None = None
    roles: tuple[TargetRole, ...] = ()
    chamber: str = ""
    groups: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    committee: str = ""
    network: Network | None = None
    activity: str = "active"  # a campaign always asks for "active"

    def criteria(self) -> dict[str, Any]:
        """The filter as a dynamic list stores it (JSON), without the list and without empty fields."""
        data = asdict(self)
        data.pop("recipient_list_id")
        data["roles"] = [role.value for role in self.roles]
        data["groups"], data["departments"] = list(self.groups), list(self.departments)
        data["network"] = self.network.value if self.network else None
        return {key: value for key, value in data.items() if value not in (None, "", [])}

    @classmethod
    def from_criteria(cls, data: dict[str, Any]) -> TargetFilter:
        """A stored filter; values that no longer mean anything (an unknown role) are dropped."""
        network = str(data.get("network") or "")
        activity = str(data.get("activity") or "")
        return cls(
            roles=tuple(TargetRole(r) for r in _values(data, "roles", "role") if r in TargetRole._value2member_map_),
            chamber=str(data.get("chamber") or ""),
            groups=_values(data, "groups", "group_name"),
            departments=_values(data, "departments", "department"),
            committee=str(data.get("committee") or ""),
            network=Network(network) if network in Network._value2member_map_ else None,
            activity=activity if activity in ACTIVITY else "active",
        )

    @property
    def is_empty(self) -> bool:
        """Whether it takes every active target of the organisation (no list, no filter)."""
        return self.recipient_list_id is None and not self.criteria().keys() - {"activity"}


def committee_clause(name: str) -> Any:
    """`committees` (a JSON list) holds `name` exactly: the same text test on SQLite and PostgreSQL."""
    needle = json.dumps(name).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(Recipient.committees, String).like(f"%{needle}%", escape="\\")


def _apply(query: Select[tuple[Recipient]], target_filter: TargetFilter) -> Select[tuple[Recipient]]:
    if target_filter.activity == "active":
        query = query.where(Recipient.is_active.is_(True))
    elif target_filter.activity == "inactive":
        query = query.where(Recipient.is_active.is_(False))
    if target_filter.roles:
        query = query.where(Recipient.role.in_(target_filter.roles))
    if target_filter.chamber:
        query = query.where(Recipient.chamber == target_filter.chamber)
    if target_filter.groups:
        query = query.where(Recipient.group_name.in_(target_filter.groups))
    if target_filter.departments:
        query = query.where(Recipient.department.in_(target_filter.departments))
    if target_filter.committee:
        query = query.where(committee_clause(target_filter.committee))
    if target_filter.network is not None:
        handle = HANDLE_COLUMNS[target_filter.network]
        query = query.where(handle.is_not(None), handle != "")
    return query


def select_targets(organisation_id: int, target_filter: TargetFilter) -> Select[tuple[Recipient]]:
    """The organisation's targets that pass the filter (and its list: members, or a dynamic list's filters)."""
    query = select(Recipient).where(Recipient.organisation_id == organisation_id)
    if target_filter.recipient_list_id is not None:
        target_list = db.session.get(RecipientList, target_filter.recipient_list_id)
        if target_list is None or target_list.organisation_id != organisation_id:
            return query.where(Recipient.id.is_(None))
        if target_list.is_dynamic:
            query = _apply(query, TargetFilter.from_criteria(target_list.criteria or {}))
        else:
            query = query.join(recipient_list_member, recipient_list_member.c.recipient_id == Recipient.id).where(
                recipient_list_member.c.recipient_list_id == target_list.id
            )
    return _apply(query, target_filter)


@dataclass(frozen=True)
class Reach:
    """How many targets, and how many of them each network reaches."""

    total: int
    by_network: dict[Network, int]


def reach(organisation_id: int, target_filter: TargetFilter) -> Reach:
    """Counted in the database, one query, whatever the list's size."""
    base = select_targets(organisation_id, target_filter).subquery()
    counts = [func.count(case((func.coalesce(base.c[column.key], "") != "", 1))) for column in HANDLE_COLUMNS.values()]
    row = db.session.execute(select(func.count(), *counts).select_from(base)).one()
    return Reach(int(row[0]), {network: int(n) for network, n in zip(HANDLE_COLUMNS, row[1:], strict=True)})


def edit_target(
    target: Recipient, *, salutation: str, is_active: bool, handles: dict[Network, str | None] | None = None
) -> None:
    """An organiser's own salutation for a target, whether campaigns offer it, and its addresses (in their
    stored form, None for none). Flushes; campaigns re-sync when who they can reach changed."""
    target.salutation = " ".join(salutation.split())
    changed = target.is_active != is_active
    target.is_active = is_active
    for network, handle in (handles or {}).items():
        column = HANDLE_COLUMNS[network].key
        if getattr(target, column) != handle:
            setattr(target, column, handle)
            changed = True
    db.session.flush()
    if changed:
        notify_targets_changed(target.organisation_id)


def reach_counts(recipients: list[Recipient]) -> dict[Network, int]:
    """How many of `recipients` can be reached on each network."""
    return {network: sum(1 for r in recipients if r.handle(network)) for network in Network}


def lists_of(organisation_id: int) -> list[RecipientList]:
    """The organisation's lists, by name."""
    query = select(RecipientList).where(RecipientList.organisation_id == organisation_id)
    return list(db.session.scalars(query.order_by(RecipientList.name)))


def organisation_lists(organisation_id: int) -> list[tuple[RecipientList, int]]:
    """The organisation's lists with how many active targets each gives a campaign, by name."""
    return [
        (lst, reach(organisation_id, TargetFilter(recipient_list_id=lst.id)).total) for lst in lists_of(organisation_id)
    ]


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


def distinct_committees(organisation_id: int) -> list[str]:
    """The committees active targets sit on. DISTINCT over the JSON text (PostgreSQL's json has no
    equality), so the database sends each set of committees once, not once per target."""
    rows = db.session.scalars(
        select(cast(Recipient.committees, String))
        .where(Recipient.organisation_id == organisation_id, Recipient.is_active.is_(True))
        .distinct()
    )
    return sorted({name for text in rows if text for name in json.loads(text) or []})
