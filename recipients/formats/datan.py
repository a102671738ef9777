"""The Datan deputies CSV (data.gouv.fr): AN id `PA…`, civility, group, department code, constituency."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from channels import Network
from recipients import normalise
from recipients.formats import Parsed, Problem, RowReader, TargetRow, gendered_title, ordinal_fr, resolve_seat_conflicts
from recipients.formats.nosdeputes import FIELDS
from recipients.models import TargetRole
from recipients.places import department_name
from recipients.reading import FileProblem, iter_dicts, read_csv

REQUIRED = ("id", "nom", "departementCode", "circo")
COLUMNS = ("id", "civ", "nom", "prenom", "groupeAbrev", "departementNom", "departementCode", "circo", "mail", "twitter")


def looks_like(header: list[str]) -> bool:
    return {"id", "groupeAbrev", "departementCode", "circo"} <= set(header)


def parse(text: str, **_options: Any) -> Parsed:
    table = read_csv(text)
    missing = [column for column in REQUIRED if column not in table.header]
    if missing:
        raise FileProblem(_("line 1: required column(s) missing: %(columns)s", columns=", ".join(missing)))
    problems: list[Problem] = []
    rows: list[TargetRow] = []
    seen: dict[str, int] = {}
    count = 0
    for line, record, extra in iter_dicts(table, table.header):
        count += 1
        where = _("line %(line)d", line=line)
        reader = RowReader(where, problems)
        if extra:
            reader.error("", _("more fields than the header has"))
            continue
        external_id = reader.an_id(record.get("id"), column="id")
        reader.values["role"] = TargetRole.DEPUTY
        reader.values["chamber"] = "Assemblée nationale"
        reader.text("first_name", record.get("prenom"), column="prenom")
        reader.text("last_name", record.get("nom"), column="nom", required=True)
        reader.gender(record.get("civ"), column="civ")
        reader.values["title"] = gendered_title(reader.values.get("gender"), "Députée", "Député")
        reader.text("group_name", record.get("groupeAbrev"), column="groupeAbrev")
        department = reader.department(record.get("departementCode"), column="departementCode")
        number = reader.constituency_number(record.get("circo"), column="circo")
        if number is not None:
            area = department_name(department or "") or normalise.clean_text(record.get("departementNom"))
            reader.values["constituency"] = f"{area} ({ordinal_fr(number)})" if area else ""
            reader.values["constituency_code"] = normalise.constituency_code(department, number) if department else ""
        reader.handle(Network.X, record.get("twitter"), column="twitter")
        reader.handle(Network.EMAIL, record.get("mail"), column="mail")
        reader.values["is_active"] = True
        if external_id in seen:
            reader.error("id", _("duplicate of line %(line)d", line=seen[external_id]))
        elif external_id:
            seen[external_id] = line
        if reader.ok:
            rows.append(TargetRow(where, external_id, reader.values, took_office=record.get("datePriseFonction", "")))
    if not count:
        problems.append(Problem("", "", _("the file has a header but no rows")))
    resolve_seat_conflicts(rows, problems)
    return Parsed(rows, problems, FIELDS)
