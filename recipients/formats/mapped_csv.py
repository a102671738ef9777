"""Any CSV: the Porte-voix layout (columns named as our fields), or columns mapped by the organiser."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from channels import Network
from recipients import normalise
from recipients.formats import ROLE_CHOICES, Parsed, Problem, RowReader, TargetRow, role_of
from recipients.models import TargetRole
from recipients.reading import CsvTable, FileProblem, iter_dicts, read_csv

# The fields a column can be mapped to, with their names in the Porte-voix layout.
TARGET_FIELDS: dict[str, Any] = {
    "external_id": _l("Id (stable from one import to the next)"),
    "role": _l("Role"),
    "full_name": _l("Full name (first word = first name)"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "title": _l("Title"),
    "gender": _l("Gender"),
    "chamber": _l("Chamber"),
    "group": _l("Group or party"),
    "constituency": _l("Constituency"),
    "constituency_code": _l("Constituency code"),
    "department": _l("Department or state"),
    "committees": _l("Committees (separated by |)"),
    "x": _l("X handle"),
    "bluesky": _l("Bluesky handle"),
    "mastodon": _l("Mastodon address"),
    "email": _l("E-mail"),
    "salutation": _l("Salutation"),
}
LAYOUT = tuple(f for f in TARGET_FIELDS if f != "full_name")
LAYOUT_REQUIRED = ("external_id", "role", "last_name")
NETWORK_OF = {"x": Network.X, "bluesky": Network.BLUESKY, "mastodon": Network.MASTODON, "email": Network.EMAIL}
ATTRIBUTE_OF = {"group": "group_name", "full_name": "last_name"} | {
    key: f"handle_{key}" for key in ("x", "bluesky", "mastodon")
}
# Header words that suggest a field, for a first guess at the mapping (lower case, no accents).
GUESSES = {
    "external_id": ("id", "identifiant", "uid", "external_id", "ref"),
    "role": ("role", "fonction", "mandat"),
    "full_name": ("nom complet", "full name", "name", "nom_complet"),
    "first_name": ("prenom", "first name", "first_name", "given_name", "firstname"),
    "last_name": ("nom", "last name", "last_name", "family_name", "surname", "lastname", "nom de famille"),
    "title": ("titre", "title"),
    "gender": ("sexe", "genre", "civilite", "civ", "gender", "sex"),
    "chamber": ("chambre", "assemblee", "chamber", "house"),
    "group": ("groupe", "parti", "group", "party", "groupe politique"),
    "constituency": ("circonscription", "constituency", "district", "circo"),
    "constituency_code": ("code circonscription", "constituency_code", "code_circo"),
    "department": ("departement", "dept", "department", "state", "etat", "code departement"),
    "committees": ("commissions", "commission", "committees", "committee"),
    "x": ("twitter", "x", "@x", "compte x", "x handle"),
    "bluesky": ("bluesky", "bsky"),
    "mastodon": ("mastodon", "masto"),
    "email": ("email", "e-mail", "mail", "courriel", "adresse mail"),
    "salutation": ("salutation", "formule", "appellation"),
}


def _words(text: str) -> str:
    return normalise.slug(text).replace("-", " ")


def guess_mapping(header: list[str]) -> dict[str, str]:
    """A first mapping from the header's words (an exact name first, then a telling word such as
    "twitter" in "Compte Twitter"); each field is used once, other columns are ignored."""
    exact = {_words(word): field for field, words in GUESSES.items() for word in words}
    mapping: dict[str, str] = {column: exact.get(_words(column), "") for column in header}
    used = set(mapping.values())
    for column in header:
        if mapping[column]:
            continue
        tokens = set(_words(column).split())
        field = next(
            (f for f, words in GUESSES.items() if f not in used and any(w in tokens for w in words if len(w) > 3)),
            "",
        )
        mapping[column] = field
        used.add(field)
    doubled = [f for f in set(mapping.values()) if f and list(mapping.values()).count(f) > 1]
    for column, field in mapping.items():  # two columns with one exact name: keep the first
        if field in doubled and next(c for c, f in mapping.items() if f == field) != column:
            mapping[column] = ""
    if name_columns(mapping):  # "Nom" and "Nom complet": which is the family name is the organiser's to say
        for column, field in mapping.items():
            if field in NAME_FIELDS:
                mapping[column] = ""
    return mapping


NAME_FIELDS = ("full_name", "last_name")


def name_columns(mapping: dict[str, str]) -> list[str]:
    """The columns a guess took for the full name and for the family name, when it found both: one of them
    is the name, and only the organiser knows which (empty when there is no such doubt)."""
    found = [column for column, field in mapping.items() if field in NAME_FIELDS]
    return found if {mapping[c] for c in found} == set(NAME_FIELDS) else []


def guess_problems(header: list[str]) -> list[str]:
    """Why a guess cannot be applied without asking (the CLI asks for --mapping then)."""
    exact = {_words(word): field for field, words in GUESSES.items() for word in words}
    candidates = {column: exact.get(_words(column), "") for column in header}
    doubt = name_columns(candidates)
    if doubt:
        return [
            _(
                "the columns %(columns)s could each be the name: say which holds the family name (last_name) "
                "or the full name (full_name)",
                columns=", ".join(doubt),
            )
        ]
    return []


def header_problems(mapping: dict[str, str], header: list[str]) -> list[str]:
    """A mapping that names columns the file does not have: a typo, or another file's mapping."""
    missing = [column for column, field in mapping.items() if field and column not in header]
    if not missing:
        return []
    return [
        _(
            "column(s) %(columns)s are not in the file's header, which has: %(header)s",
            columns=", ".join(missing),
            header=", ".join(header),
        )
    ]


def effective_mapping(header: list[str], mapping: dict[str, str] | None) -> tuple[dict[str, str], list[str]]:
    """The mapping a mapped CSV is read through, and what makes it unusable: the organiser's (checked against
    the header), or our guess when none was given (refused where it would have to choose a name column)."""
    if mapping:
        return {column: mapping.get(column, "") for column in header}, header_problems(mapping, header)
    return guess_mapping(header), guess_problems(header)


def mapping_problems(mapping: dict[str, str], role: TargetRole | None) -> list[str]:
    """What makes a mapping unusable, in words for the organiser."""
    chosen = [field for field in mapping.values() if field]
    problems = []
    unknown = sorted({f for f in chosen if f not in TARGET_FIELDS})
    if unknown:
        problems.append(_("unknown field(s): %(fields)s", fields=", ".join(unknown)))
    doubled = sorted({f for f in chosen if chosen.count(f) > 1})
    if doubled:
        problems.append(
            _(
                "one column per field: %(fields)s is chosen twice",
                fields=", ".join(str(TARGET_FIELDS[f]) for f in doubled),
            )
        )
    if "last_name" not in chosen and "full_name" not in chosen:
        problems.append(_("map a column to the last name or the full name"))
    if "role" not in chosen and role is None:
        problems.append(_("map a column to the role, or choose the role of every row"))
    return problems


def parse_table(
    table: CsvTable, mapping: dict[str, str], *, role: TargetRole | None = None, limit: int | None = None
) -> Parsed:
    """Rows of `table` read through `mapping` (file column → field); the first `limit` only, for a preview."""
    problems: list[Problem] = []
    rows: list[TargetRow] = []
    seen: dict[str, int] = {}
    fields_of = {column: field for column, field in mapping.items() if field}
    column_of = {field: column for column, field in fields_of.items()}
    count = 0
    for line, record, extra in iter_dicts(table, table.header):
        count += 1
        if limit is not None and count > limit:
            break
        where = _("line %(line)d", line=line)
        reader = RowReader(where, problems)
        if extra:
            reader.error("", _("more fields than the header has"))
            continue
        value = {field: record.get(column, "") for column, field in fields_of.items()}
        for field in ("title", "chamber", "group", "constituency", "salutation"):
            if field in value:
                reader.text(ATTRIBUTE_OF.get(field, field), value[field], column=column_of[field])
        if "full_name" in value:
            first, _sep, last = normalise.clean_text(value["full_name"]).partition(" ")
            reader.text("first_name", first if last else "")
            reader.text("last_name", last or first, column=column_of["full_name"], required=True)
        if "first_name" in value:
            reader.text("first_name", value["first_name"], column=column_of["first_name"])
        if "last_name" in value:
            reader.text("last_name", value["last_name"], column=column_of["last_name"], required=True)
        if "role" in value:
            reader.role(value["role"], column=column_of["role"])
        else:
            reader.values["role"] = role
        if "gender" in value:
            reader.gender(value["gender"], column=column_of["gender"])
        if "department" in value:
            reader.department(value["department"], column=column_of["department"], french=False)
        if "constituency_code" in value:
            raw = normalise.clean_text(value["constituency_code"])
            try:
                code = normalise.map_constituency_code(raw) if raw else ""
            except ValueError:
                code = raw.upper()
            reader.text("constituency_code", code, column=column_of["constituency_code"])
        if "committees" in value:
            reader.values["committees"] = [
                normalise.clean_text(c) for c in value["committees"].split("|") if normalise.clean_text(c)
            ]
        for field, network in NETWORK_OF.items():
            if field in value:
                reader.handle(network, value[field], column=column_of[field])
        reader.values["is_active"] = True
        if "external_id" in value:
            external_id = reader.text(
                "external_id", value["external_id"], column=column_of["external_id"], required=True
            )
        else:
            external_id = normalise.slug(
                f"{reader.values.get('first_name', '')} {reader.values.get('last_name', '')} "
                f"{reader.values.get('constituency', '')}"
            )
        if external_id and external_id in seen:
            reader.error(column_of.get("external_id", ""), _("duplicate of line %(line)d", line=seen[external_id]))
        elif external_id:
            seen[external_id] = line
        if reader.ok:
            rows.append(TargetRow(where, external_id, reader.values))
    if not count:
        problems.append(Problem("", "", _("the file has a header but no rows")))
    provided = {ATTRIBUTE_OF.get(f, f) for f in fields_of.values()} - {"external_id", "full_name"}
    if "full_name" in fields_of.values():
        provided |= {"first_name", "last_name"}
    return Parsed(rows, problems, frozenset(provided | {"role", "is_active"}))


def parse_layout(text: str, **_options: Any) -> Parsed:
    """The Porte-voix layout (README: "Target CSV layout"): the header names our fields."""
    table = read_csv(text)
    header = [name.strip().lower() for name in table.header]
    missing = [column for column in LAYOUT_REQUIRED if column not in header]
    if missing:
        raise FileProblem(_("line 1: required column(s) missing: %(columns)s", columns=", ".join(missing)))
    unknown = [name for name in header if name and name not in LAYOUT]
    if unknown:
        raise FileProblem(
            _(
                "line 1: unknown column(s) %(unknown)s; the layout has: %(columns)s",
                unknown=", ".join(unknown),
                columns=", ".join(LAYOUT),
            )
        )
    table = table.with_header(header)
    return parse_table(table, {name: name for name in header if name})


def parse_mapped(
    text: str, *, mapping: dict[str, str] | None = None, role: str | None = None, **_options: Any
) -> Parsed:
    table = read_csv(text)
    chosen_role = role_of(role) if role else None
    if role and chosen_role is None:
        raise FileProblem(
            _("unknown role %(value)s; expected one of %(choices)s", value=repr(role), choices=ROLE_CHOICES)
        )
    used, problems = effective_mapping(table.header, mapping)
    problems += mapping_problems(used, chosen_role)
    if problems:
        raise FileProblem("; ".join(problems))
    return parse_table(table, used, role=chosen_role)


def looks_like_layout(header: list[str]) -> bool:
    names = {name.strip().lower() for name in header}
    return set(LAYOUT_REQUIRED) <= names and names <= set(LAYOUT) | {""}
