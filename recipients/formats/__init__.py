"""The file formats targets come in: each module turns a file's text into clean rows and problems.

A format never touches the database: it returns `Parsed`, and `recipients.importer` compares it
with what is stored. Each format says which target fields it provides; an update changes only
those, so a file of handles never blanks a name, and a roster without e-mails keeps the ones stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from channels import Network, normalise_handle
from recipients import normalise
from recipients.models import Gender, TargetRole

# Every stored field a format may provide, in the order reports list them.
FIELDS = (
    "role",
    "title",
    "chamber",
    "first_name",
    "last_name",
    "gender",
    "group_name",
    "constituency",
    "constituency_code",
    "department",
    "committees",
    "handle_x",
    "handle_bluesky",
    "handle_mastodon",
    "email",
    "salutation",
    "is_active",
)


def fields_except(*names: str) -> frozenset[str]:
    """The fields a format provides, said by what it lacks (most formats lack only a few)."""
    return frozenset(FIELDS) - set(names)


HANDLE_FIELD = {
    Network.X: "handle_x",
    Network.BLUESKY: "handle_bluesky",
    Network.MASTODON: "handle_mastodon",
    Network.EMAIL: "email",
}
MAX_LENGTH = {
    "external_id": 128,
    "title": 200,
    "chamber": 100,
    "first_name": 100,
    "last_name": 100,
    "group_name": 200,
    "constituency": 200,
    "constituency_code": 64,
    "department": 8,
    "salutation": 200,
}


MAX_PROBLEM_TEXT = 500


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file, a row or a field. Errors stop the import; warnings do not."""

    where: str  # "line 12", "record 4 (Thibault Bazin)", or "" for the whole file
    field: str
    message: str
    is_error: bool = True

    def __post_init__(self) -> None:
        # A file's own values appear in these texts: a hostile file must not make the report huge.
        object.__setattr__(self, "where", self.where[:200])
        object.__setattr__(self, "field", self.field[:100])
        object.__setattr__(self, "message", self.message[:MAX_PROBLEM_TEXT])

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "field": self.field, "message": self.message, "is_error": self.is_error}


@dataclass(slots=True)
class TargetRow:
    where: str
    external_id: str
    values: dict[str, Any]
    took_office: str = ""  # ISO date, to settle two rows that claim one seat

    @property
    def label(self) -> str:
        name = f"{self.values.get('first_name', '')} {self.values.get('last_name', '')}".strip()
        return name or self.external_id


@dataclass
class Parsed:
    rows: list[TargetRow]
    problems: list[Problem]
    fields: frozenset[str]
    enrich: bool = False  # rows add fields to targets found by id; they never create nor retire
    encoding: str = "utf-8"
    file_format: str = ""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


# What sources write where they do not know a value: the field is empty, with a warning.
UNKNOWN_VALUES = frozenset(
    {
        "non disponible",
        "non renseigné",
        "non renseignée",
        "nc",
        "n.c",
        "inconnu",
        "inconnue",
        "n/a",
        "not available",
        "unknown",
        "-",
        "--",
        "?",
    }
)


class RowReader:
    """Collects one row's clean values and its problems, so every bad field of a row is reported."""

    def __init__(self, where: str, problems: list[Problem]) -> None:
        self.where = where
        self.problems = problems
        self.values: dict[str, Any] = {}
        self._errors_before = sum(1 for p in problems if p.is_error)

    @property
    def ok(self) -> bool:
        return sum(1 for p in self.problems if p.is_error) == self._errors_before

    def unknown(self, raw: object, column: str) -> bool:
        """Whether the source wrote that it does not know ("non disponible", "N/A"…): a warning, left empty."""
        text = normalise.clean_text(raw) if isinstance(raw, str) else ""
        if text.lower().strip(" .") not in UNKNOWN_VALUES:
            return False
        self.warn(column, _("the source does not know it (%(value)s): left empty", value=text))
        return True

    def error(self, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.where, field_name, message))

    def warn(self, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.where, field_name, message, is_error=False))

    def text(self, field_name: str, raw: object, *, column: str = "", required: bool = False) -> str:
        if not required and self.unknown(raw, column or field_name):
            raw = ""
        value = normalise.person_name(raw) if field_name in ("first_name", "last_name") else normalise.clean_text(raw)
        if required and not value:
            self.error(column or field_name, _("required"))
        limit = MAX_LENGTH.get(field_name)
        if limit and len(value) > limit:
            self.error(column or field_name, _("longer than %(limit)d characters", limit=limit))
        if field_name != "external_id":
            self.values[field_name] = value
        return value

    def handle(self, network: Network, raw: object, *, column: str = "") -> None:
        """Store the handle in its stored form; `None`, `false` and blanks mean no account."""
        name = HANDLE_FIELD[network]
        text = normalise.clean_text(raw) if isinstance(raw, str) else ""
        if not text or self.unknown(text, column or name):
            self.values[name] = None
            return
        try:
            self.values[name] = normalise_handle(network, text)
        except ValueError:
            self.values[name] = None
            self.error(
                column or name, _("not a valid %(network)s address: %(value)s", network=network.label, value=text)
            )

    def gender(self, raw: object, *, column: str = "gender") -> None:
        if self.unknown(raw, column):
            raw = ""
        try:
            self.values["gender"] = normalise.gender(raw)
        except ValueError:
            self.values["gender"] = None
            self.error(
                column, _("unknown gender %(value)s; expected F, M or empty", value=repr(normalise.clean_text(raw)))
            )

    def role(self, raw: object, *, column: str = "role") -> None:
        role = role_of(raw)
        if role is None:
            text = normalise.clean_text(raw)
            self.error(
                column, _("unknown role %(value)s; expected one of %(choices)s", value=repr(text), choices=ROLE_CHOICES)
            )
        else:
            self.values["role"] = role

    def an_id(self, raw: object, *, column: str) -> str:
        """An Assemblée nationale id as PA + digits; '' after an error."""
        try:
            return normalise.an_id(raw)
        except ValueError:
            self.error(column, _("not an Assemblée nationale id: %(value)s", value=normalise.clean_text(raw)))
            return ""

    def constituency_number(self, raw: object, *, column: str) -> int | None:
        if self.unknown(raw, column):
            return None
        try:
            return normalise.constituency_number(raw)
        except ValueError:
            self.error(column, _("not a constituency number: %(value)s", value=normalise.clean_text(raw)))
            return None

    def department(self, raw: object, *, column: str = "department", french: bool = True) -> str:
        """A French department code (checked), or for other countries the value as written (a US state)."""
        text = "" if self.unknown(raw, column) else normalise.clean_text(raw)
        try:
            value = normalise.department(text) if text else ""
        except ValueError:
            if french:
                self.error(column, _("not a French department code: %(value)s", value=text))
                value = ""
            else:
                value = text.upper()[: MAX_LENGTH["department"]]
        self.values["department"] = value
        return value


def gendered_title(gender: Gender | None, female: str, male: str) -> str:
    if gender is Gender.FEMALE:
        return female
    return male if gender is Gender.MALE else ""


def ordinal_fr(number: int) -> str:
    return "1re" if number == 1 else f"{number}e"


# A role as files write it, in French or English, accents, case, dashes and inclusive dots aside.
ROLE_WORDS: dict[str, TargetRole] = {role.value: role for role in TargetRole} | {
    "depute": TargetRole.DEPUTY,
    "deputee": TargetRole.DEPUTY,
    "mp": TargetRole.DEPUTY,
    "member of parliament": TargetRole.DEPUTY,
    "senateur": TargetRole.SENATOR,
    "senatrice": TargetRole.SENATOR,
    "sen": TargetRole.SENATOR,
    "ministre": TargetRole.MINISTER,
    "secretary of state": TargetRole.MINISTER,
    "secretaire d etat": TargetRole.MINISTER,
    "depute europeen": TargetRole.MEP,
    "deputee europeenne": TargetRole.MEP,
    "eurodepute": TargetRole.MEP,
    "eurodeputee": TargetRole.MEP,
    "member of the european parliament": TargetRole.MEP,
    "membre du parlement europeen": TargetRole.MEP,
    "rep": TargetRole.REPRESENTATIVE,
    "representative": TargetRole.REPRESENTATIVE,
    "representant": TargetRole.REPRESENTATIVE,
    "representante": TargetRole.REPRESENTATIVE,
    "autre": TargetRole.OTHER,
}
ROLE_CHOICES = "député, sénateur, ministre, député européen, deputy, senator, minister, MEP, representative, other"


def role_of(raw: object) -> TargetRole | None:
    """`Députée`, `DÉPUTÉ·E`, `MEP`, `Senator` → the role; None for a word we do not know."""
    text = normalise.slug(normalise.clean_text(raw).replace("·e", "").replace("·", "")).replace("-", " ")
    return ROLE_WORDS.get(text)


def resolve_seat_conflicts(rows: list[TargetRow], problems: list[Problem]) -> None:
    """Two active rows on one constituency: the one who took office last holds it (a substitute who
    handed the seat back, a by-election). The other is kept out, with a warning naming both."""
    holders: dict[str, TargetRow] = {}
    for row in rows:
        code = row.values.get("constituency_code")
        if not code or not row.values.get("is_active", True):
            continue
        other = holders.get(code)
        if other is None:
            holders[code] = row
            continue
        newer, older = (row, other) if row.took_office >= other.took_office else (other, row)
        holders[code] = newer
        older.values["is_active"] = False
        problems.append(
            Problem(
                older.where,
                "constituency_code",
                _(
                    "%(older)s and %(newer)s (%(where)s) both hold constituency %(code)s; "
                    "%(newer)s took office later (%(date)s) and is kept",
                    older=older.label,
                    newer=newer.label,
                    where=newer.where,
                    code=code,
                    date=newer.took_office or "?",
                ),
                is_error=False,
            )
        )


@dataclass(frozen=True)
class FileFormat:
    key: str
    label: Any  # a lazy string
    default_source: str
    parse: Callable[..., Parsed]
    enrich: bool = False
    needs_mapping: bool = False
    # Files of this format come from many parliaments (Popolo, NosDéputés or NosSénateurs, any CSV): the
    # default source names the chamber, so a second parliament's file never retires the first's targets.
    per_chamber: bool = False

    def source_for(self, parsed: Parsed) -> str:
        """The source a file's targets are matched on when the organiser names none."""
        chambers = {str(row.values.get("chamber") or "") for row in parsed.rows}
        if self.per_chamber and len(chambers) == 1 and (chamber := normalise.slug(chambers.pop())):
            return f"{self.default_source}-{chamber}"[:64]
        return self.default_source


@lru_cache(maxsize=1)
def registry() -> dict[str, FileFormat]:
    from recipients.formats import congress, datan, mapped_csv, nosdeputes, politix, popolo

    formats = [
        FileFormat("layout", _l("Porte-voix CSV layout"), "csv", mapped_csv.parse_layout, per_chamber=True),
        FileFormat(
            "nosdeputes", _l("NosDéputés / NosSénateurs JSON"), "nosdeputes", nosdeputes.parse, per_chamber=True
        ),
        FileFormat("datan", _l("Datan deputies CSV"), "datan", datan.parse),
        FileFormat(
            "politix-bluesky", _l("Bluesky handles by AN id (politix)"), "datan", politix.parse_bluesky, enrich=True
        ),
        FileFormat(
            "politix-mastodon",
            _l("Mastodon accounts by AN id (politix)"),
            "datan",
            politix.parse_mastodon,
            enrich=True,
        ),
        FileFormat("ministers-json", _l("Ministers with handles (politix JSON)"), "ministres", politix.parse_ministers),
        FileFormat("ministers-csv", _l("Ministers' X handles (politix CSV)"), "ministres", politix.parse_ministers_csv),
        FileFormat("popolo", _l("Popolo JSON (EveryPolitician)"), "popolo", popolo.parse, per_chamber=True),
        FileFormat(
            "congress",
            _l("US congress-legislators YAML"),
            "congress",
            congress.parse,
        ),
        FileFormat(
            "mapped-csv",
            _l("Any other CSV (map its columns)"),
            "csv",
            mapped_csv.parse_mapped,
            needs_mapping=True,
            per_chamber=True,
        ),
    ]
    return {f.key: f for f in formats}
