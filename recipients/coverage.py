"""Does every constituency of the postcode map lead to exactly one active deputy?"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from extensions import db
from recipients.models import Recipient, TargetRole
from recipients.postcodes import all_constituency_codes


@dataclass
class Coverage:
    constituencies: int = 0  # distinct codes in the postcode map
    resolved: int = 0  # codes with exactly one active deputy
    vacant: list[str] = field(default_factory=list)  # codes with none
    shared: dict[str, list[str]] = field(default_factory=dict)  # codes with several: their names


def constituency_coverage(organisation_id: int) -> Coverage:
    codes = all_constituency_codes(organisation_id)
    holders: dict[str, list[str]] = {}
    rows = db.session.execute(
        select(Recipient.constituency_code, Recipient.first_name, Recipient.last_name).where(
            Recipient.organisation_id == organisation_id,
            Recipient.role == TargetRole.DEPUTY,
            Recipient.is_active.is_(True),
            Recipient.constituency_code.in_(codes),
        )
    )
    for code, first, last in rows.tuples():
        holders.setdefault(code, []).append(f"{first} {last}".strip())
    return Coverage(
        constituencies=len(codes),
        resolved=sum(1 for code in codes if len(holders.get(code, [])) == 1),
        vacant=sorted(code for code in codes if code not in holders),
        shared={code: names for code, names in sorted(holders.items()) if len(names) > 1},
    )
