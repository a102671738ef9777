"""NosDéputés / NosSénateurs API JSON: {"deputes": [{"depute": {…}}]} or {"senateurs": [{"senateur": {…}}]},
or the bare list of records some of their endpoints serve ([{"senateur": {…}}] or [{…}]).

Members whose mandate has ended (`mandat_fin`) are not created; one already stored is retired.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from channels import Network
from recipients import normalise
from recipients.formats import (
    Parsed,
    Problem,
    RowReader,
    TargetRow,
    fields_except,
    gendered_title,
    ordinal_fr,
    resolve_seat_conflicts,
)
from recipients.models import TargetRole
from recipients.reading import FileProblem, read_json

FIELDS = fields_except("committees", "handle_bluesky", "handle_mastodon", "salutation")
CHAMBERS = {
    "deputes": ("depute", TargetRole.DEPUTY, "Assemblée nationale", ("Députée", "Député"), "assemblee-nationale.fr"),
    "senateurs": ("senateur", TargetRole.SENATOR, "Sénat", ("Sénatrice", "Sénateur"), "senat.fr"),
}


# Fields only one of the two sites serves, to tell an unwrapped record's chamber.
_MARKS = {
    "deputes": ("depute", "id_an", "url_nosdeputes", "url_an"),
    "senateurs": ("senateur", "url_nossenateurs", "id_institution", "url_institution"),
}


def chamber_of_list(records: list[Any]) -> str | None:
    """ "deputes" or "senateurs" for a bare list of NosDéputés / NosSénateurs records, None for another list."""
    for record in records[:20]:
        if isinstance(record, dict):
            for plural, marks in _MARKS.items():
                if any(mark in record for mark in marks):
                    return plural
    return None


def _records(document: Any) -> tuple[str, list[Any]]:
    """The chamber and its records, as the API serves them: wrapped ({"senateurs": [...]}) or a bare list."""
    if isinstance(document, dict):
        for key in CHAMBERS:
            if isinstance(document.get(key), list):
                return key, document[key]
    if isinstance(document, list):
        plural = chamber_of_list(document)
        if plural:
            return plural, document
    raise FileProblem(
        _('expected a NosDéputés or NosSénateurs export: a "deputes" or "senateurs" list, or a list of their records')
    )


def _email(reader: RowReader, entries: Any, domain: str) -> None:
    """The institution's address when there is one, else the first valid one."""
    addresses = [
        normalise.clean_text(e.get("email") if isinstance(e, dict) else e)
        for e in (entries if isinstance(entries, list) else [entries])
    ]
    addresses = [a for a in addresses if a]
    addresses.sort(key=lambda a: not a.lower().endswith("@" + domain))
    reader.values["email"] = None
    for address in addresses:
        reader.handle(Network.EMAIL, address, column="emails")
        if reader.values["email"]:
            return


def parse(text: str, **_options: Any) -> Parsed:
    plural, records = _records(read_json(text))
    singular, role, chamber, titles, domain = CHAMBERS[plural]
    problems: list[Problem] = []
    rows: list[TargetRow] = []
    seen: dict[str, str] = {}
    for index, record in enumerate(records, start=1):
        item = record.get(singular, record) if isinstance(record, dict) else None
        if not isinstance(item, dict):
            problems.append(Problem(_("record %(n)d", n=index), "", _("expected an object")))
            continue
        name = normalise.clean_text(item.get("nom"))
        where = _("record %(n)d (%(name)s)", n=index, name=name) if name else _("record %(n)d", n=index)
        reader = RowReader(where, problems)
        raw_id = item.get("id_an") or item.get("id_institution") or item.get("slug")
        external_id = ""
        if role is TargetRole.DEPUTY and item.get("id_an"):
            external_id = reader.an_id(item["id_an"], column="id_an")
        else:
            external_id = reader.text("external_id", raw_id, column="id_an", required=True)
        reader.values["role"] = role
        reader.values["chamber"] = chamber
        reader.text("first_name", item.get("prenom"), column="prenom")
        reader.text("last_name", item.get("nom_de_famille") or name, column="nom_de_famille", required=True)
        reader.gender(item.get("sexe"), column="sexe")
        reader.values["title"] = gendered_title(reader.values.get("gender"), *titles)
        reader.text("group_name", item.get("groupe_sigle"), column="groupe_sigle")
        department = reader.department(item.get("num_deptmt"), column="num_deptmt")
        reader.values["constituency"] = reader.values["constituency_code"] = ""
        circo = item.get("num_circo")
        if circo not in (None, ""):
            number = reader.constituency_number(circo, column="num_circo")
            if number is not None:
                area = normalise.clean_text(item.get("nom_circo"))
                reader.values["constituency"] = f"{area} ({ordinal_fr(number)})" if area else ""
                reader.values["constituency_code"] = (
                    normalise.constituency_code(department, number) if department else ""
                )
        reader.handle(Network.X, item.get("twitter"), column="twitter")
        _email(reader, item.get("emails"), domain)
        reader.values["is_active"] = not item.get("mandat_fin")
        if external_id in seen:
            reader.error("id_an", _("duplicate of %(where)s", where=seen[external_id]))
        elif external_id:
            seen[external_id] = where
        if reader.ok:
            rows.append(TargetRow(where, external_id, reader.values, took_office=str(item.get("mandat_debut") or "")))
    if not records:
        problems.append(Problem("", plural, _("the list is empty")))
    resolve_seat_conflicts(rows, problems)
    return Parsed(rows, problems, FIELDS)
