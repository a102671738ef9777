"""Popolo JSON (EveryPolitician): persons, organizations, memberships, areas, events.

The members imported are those of the newest legislative period whose membership has not ended;
their party is the membership's `on_behalf_of_id`, their constituency its area.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from channels import Network
from recipients import normalise
from recipients.formats import Parsed, Problem, RowReader, TargetRow, fields_except
from recipients.models import TargetRole
from recipients.reading import FileProblem, read_json

FIELDS = fields_except("department", "committees", "handle_bluesky", "handle_mastodon", "salutation")


def _list(document: dict[str, Any], key: str, *, required: bool) -> list[dict[str, Any]]:
    value = document.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise FileProblem(_('a Popolo file needs a non-empty "%(key)s" list', key=key))
    return [item for item in value if isinstance(item, dict)]


def _current_period(events: list[dict[str, Any]], memberships: list[dict[str, Any]]) -> str | None:
    periods = [e for e in events if e.get("classification") == "legislative period" and e.get("id")]
    if periods:
        return str(max(periods, key=lambda e: str(e.get("start_date", "")))["id"])
    ids = {str(m["legislative_period_id"]) for m in memberships if m.get("legislative_period_id")}
    return max(ids) if ids else None


def _contact(person: dict[str, Any], kind: str) -> str:
    for detail in person.get("contact_details") or []:
        if isinstance(detail, dict) and detail.get("type") == kind and detail.get("value"):
            return str(detail["value"])
    return ""


def parse(text: str, **_options: Any) -> Parsed:
    document = read_json(text)
    if not isinstance(document, dict):
        raise FileProblem(_("expected a Popolo object with persons, organizations and memberships"))
    persons = {str(p.get("id")): p for p in _list(document, "persons", required=True)}
    memberships = _list(document, "memberships", required=True)
    organizations = {str(o.get("id")): o for o in _list(document, "organizations", required=False)}
    areas = {str(a.get("id")): a for a in _list(document, "areas", required=False)}
    period = _current_period(_list(document, "events", required=False), memberships)
    legislature = next((o for o in organizations.values() if o.get("classification") == "legislature"), None)
    chamber = normalise.clean_text(legislature.get("name")) if legislature else ""
    problems: list[Problem] = []
    rows: list[TargetRow] = []
    seen: set[str] = set()
    for index, membership in enumerate(memberships, start=1):
        if period and membership.get("legislative_period_id") != period:
            continue
        if membership.get("end_date") or (legislature and membership.get("organization_id") != legislature.get("id")):
            continue
        person_id = str(membership.get("person_id", ""))
        person = persons.get(person_id)
        where = _("membership %(n)d", n=index)
        if person is None:
            problems.append(Problem(where, "person_id", _("no person with id %(id)s", id=person_id or "?")))
            continue
        if person_id in seen:
            continue
        seen.add(person_id)
        name = normalise.clean_text(person.get("name"))
        where = f"{where} ({name})" if name else where
        reader = RowReader(where, problems)
        reader.values["role"] = TargetRole.DEPUTY
        reader.values["chamber"] = chamber
        reader.values["title"] = "MP" if chamber == "House of Commons" else ""
        given = normalise.clean_text(person.get("given_name"))
        family = normalise.clean_text(person.get("family_name"))
        if not family and given and name.startswith(given + " "):
            family = name[len(given) + 1 :]
        if not family:
            given, _sep, family = name.rpartition(" ")
        reader.text("first_name", given)
        reader.text("last_name", family, column="name", required=True)
        reader.gender(person.get("gender"))
        party = organizations.get(str(membership.get("on_behalf_of_id")), {})
        reader.text("group_name", party.get("name") or membership.get("on_behalf_of_id") or "")
        area_id = normalise.clean_text(membership.get("area_id"))
        reader.text("constituency", areas.get(area_id, {}).get("name", ""))
        reader.text("constituency_code", area_id, column="area_id")
        reader.handle(Network.X, _contact(person, "twitter"), column="contact_details.twitter")
        reader.handle(Network.EMAIL, person.get("email") or _contact(person, "email"), column="email")
        reader.values["is_active"] = True
        if reader.ok:
            rows.append(TargetRow(where, normalise.clean_text(person_id)[:128], reader.values))
    if not rows and not problems:
        problems.append(Problem("", "memberships", _("no current member in the newest legislative period")))
    return Parsed(rows, problems, FIELDS)
