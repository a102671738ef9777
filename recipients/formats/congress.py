"""unitedstates/congress-legislators YAML, joined on `id.bioguide` with its social-media file."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from channels import Network
from recipients import normalise
from recipients.formats import Parsed, Problem, RowReader, TargetRow, fields_except
from recipients.models import TargetRole
from recipients.reading import FileProblem, read_yaml

FIELDS = fields_except("committees", "handle_x", "handle_bluesky", "handle_mastodon", "email", "salutation")
SOCIAL_FIELDS = frozenset({"handle_x", "handle_bluesky", "handle_mastodon"})
TERMS = {
    "sen": (TargetRole.SENATOR, "Senate", "Senator"),
    "rep": (TargetRole.REPRESENTATIVE, "House of Representatives", "Representative"),
}


def _entries(text: str, what: str) -> list[Any]:
    document = read_yaml(text)
    if not isinstance(document, list):
        raise FileProblem(_("%(what)s: expected a YAML list of legislators (- id: …)", what=what))
    return document


def _bioguide(entry: Any) -> str:
    ids = entry.get("id") if isinstance(entry, dict) else None
    return normalise.clean_text(ids.get("bioguide")) if isinstance(ids, dict) else ""


def _social(extra: str, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    social: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(_entries(extra, _("social-media file")), start=1):
        bioguide = _bioguide(entry)
        if not bioguide or not isinstance(entry.get("social"), dict):
            problems.append(
                Problem(_("social-media entry %(n)d", n=index), "id.bioguide", _("needs id.bioguide and social"))
            )
            continue
        social[bioguide] = entry["social"]
    return social


def parse(text: str, *, extra: str = "", **_options: Any) -> Parsed:
    problems: list[Problem] = []
    legislators = _entries(text, _("legislators file"))
    social = _social(extra, problems) if extra.strip() else {}
    rows: list[TargetRow] = []
    seen: set[str] = set()
    for index, entry in enumerate(legislators, start=1):
        bioguide = _bioguide(entry)
        name = entry.get("name") if isinstance(entry, dict) else None
        name = name if isinstance(name, dict) else {}
        full = normalise.clean_text(name.get("official_full") or f"{name.get('first', '')} {name.get('last', '')}")
        where = _("entry %(n)d (%(name)s)", n=index, name=full) if full else _("entry %(n)d", n=index)
        reader = RowReader(where, problems)
        if not bioguide:
            reader.error("id.bioguide", _("required"))
        elif bioguide in seen:
            reader.error("id.bioguide", _("duplicate id %(id)s", id=bioguide))
        seen.add(bioguide)
        terms = entry.get("terms") if isinstance(entry, dict) else None
        term = terms[-1] if isinstance(terms, list) and terms and isinstance(terms[-1], dict) else None
        if term is None or term.get("type") not in TERMS:
            reader.error("terms", _("needs a last term of type sen or rep"))
            continue
        role, chamber, title = TERMS[term["type"]]
        reader.values.update(role=role, chamber=chamber, title=title)
        reader.text("first_name", name.get("first"), column="name.first")
        reader.text("last_name", name.get("last"), column="name.last", required=True)
        bio = entry.get("bio") if isinstance(entry.get("bio"), dict) else {}
        reader.gender(bio.get("gender"), column="bio.gender")
        reader.text("group_name", term.get("party"), column="party")
        state = reader.department(term.get("state"), column="state", french=False)
        if role is TargetRole.SENATOR:
            reader.values["constituency"] = reader.values["constituency_code"] = state
        else:
            district = term.get("district")
            at_large = district in (0, "0", None)
            reader.values["constituency"] = f"{state} at-large" if at_large else f"{state}-{district}"
            reader.values["constituency_code"] = f"{state}-AL" if at_large else f"{state}-{str(district).zfill(2)}"
        reader.values["is_active"] = True
        accounts = social.get(bioguide, {})
        if extra.strip():
            reader.handle(Network.X, accounts.get("twitter"), column="social.twitter")
            reader.handle(Network.BLUESKY, accounts.get("bluesky"), column="social.bluesky")
            reader.handle(Network.MASTODON, accounts.get("mastodon"), column="social.mastodon")
        if reader.ok:
            rows.append(TargetRow(where, bioguide, reader.values))
    for bioguide in set(social) - seen:
        problems.append(
            Problem(bioguide, "id.bioguide", _("in the social-media file but not among the legislators"), False)
        )
    if not legislators:
        problems.append(Problem("", "", _("the file holds no legislators")))
    return Parsed(rows, problems, FIELDS | (SOCIAL_FIELDS if extra.strip() else frozenset()))
