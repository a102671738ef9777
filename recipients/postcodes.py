"""The postcode → constituency map behind "my deputy": import it, and look a postcode up.

The map's overseas constituencies use INSEE Z-codes (ZA01 Guadeloupe…); they are stored in the
deputies' form (97101) so a postcode leads straight to the deputy who carries that code.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, insert, select

from extensions import db
from recipients.formats import Problem
from recipients.models import PostcodeArea
from recipients.normalise import map_constituency_code
from recipients.reading import FileProblem, check_size, decode, read_json

_POSTCODE = re.compile(r"^[0-9A-Z]{3,10}$")


def normalise_postcode(value: str) -> str:
    return "".join(value.split()).upper()


def constituencies_for(organisation_id: int, postcode: str) -> list[str]:
    """The constituency codes a postcode spans in the organisation's map, sorted; empty when it is unknown."""
    return list(
        db.session.scalars(
            select(PostcodeArea.constituency_code)
            .where(
                PostcodeArea.organisation_id == organisation_id, PostcodeArea.postcode == normalise_postcode(postcode)
            )
            .order_by(PostcodeArea.constituency_code)
        )
    )


def has_postcode_data(organisation_id: int) -> bool:
    query = select(PostcodeArea.postcode).where(PostcodeArea.organisation_id == organisation_id).limit(1)
    return db.session.scalar(query) is not None


def all_constituency_codes(organisation_id: int) -> set[str]:
    query = select(PostcodeArea.constituency_code).where(PostcodeArea.organisation_id == organisation_id)
    return set(db.session.scalars(query.distinct()))


def replace_postcodes(organisation_id: int, mapping: dict[str, list[str]]) -> int:
    """Replace the organisation's postcode map with clean `mapping` (no other organisation's map is touched);
    returns the number of (postcode, constituency) rows."""
    db.session.execute(delete(PostcodeArea).where(PostcodeArea.organisation_id == organisation_id))
    rows = [
        {"organisation_id": organisation_id, "postcode": postcode, "constituency_code": code}
        for postcode, codes in mapping.items()
        for code in dict.fromkeys(codes)
    ]
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(PostcodeArea), rows[start : start + 2000])
    db.session.flush()
    return len(rows)


# An uploaded map waits, checked, in an ImportRun of this format until the organiser loads it or discards it.
POSTCODE_FORMAT = "postcode-map"
SAMPLE = 12  # postcodes named per kind of change


@dataclass
class PostcodeReport:
    postcodes: int = 0
    pairs: int = 0
    spanning: int = 0  # postcodes over several constituencies
    problems: list[Problem] = field(default_factory=list)
    # What loading it changes in the current map (the dry run says so before anything is written).
    current: int = 0  # postcodes in the map today
    added: int = 0
    removed: int = 0  # in today's map, not in the file: gone unless `keep` keeps them
    changed: int = 0  # in both, with other constituencies
    unchanged: int = 0
    keep: bool = False  # the file completes today's map instead of replacing it
    samples: dict[str, list[str]] = field(default_factory=dict)  # "added" / "removed" / "changed" → postcodes

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def changes(self) -> int:
        return self.added + self.changed + (0 if self.keep else self.removed)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [p.as_dict() for p in self.problems]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PostcodeReport:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "problems"}
        return cls(**values, problems=[Problem(**p) for p in data.get("problems", [])])


def current_map(organisation_id: int) -> dict[str, list[str]]:
    rows = db.session.execute(
        select(PostcodeArea.postcode, PostcodeArea.constituency_code).where(
            PostcodeArea.organisation_id == organisation_id
        )
    )
    found: dict[str, list[str]] = {}
    for postcode, code in rows:
        found.setdefault(postcode, []).append(code)
    return found


def parse_postcode_map(data: bytes, *, max_bytes: int) -> tuple[dict[str, list[str]], list[Problem]]:
    """{"01000": ["0101", "0104"], "97110": ["ZA01"]} → clean codes; every bad entry is reported."""
    try:
        check_size(data, max_bytes)
        document = read_json(decode(data).text)
    except FileProblem as exc:
        return {}, [Problem("", "", str(exc))]
    if not isinstance(document, dict) or not document:
        return {}, [Problem("", "", _('expected an object of postcode → constituency codes, {"75001": ["7501"]}'))]
    mapping: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for raw, codes in document.items():
        postcode = normalise_postcode(str(raw))
        if not _POSTCODE.match(postcode):
            problems.append(Problem(str(raw), "postcode", _("not a postcode")))
            continue
        if not isinstance(codes, list) or not codes:
            problems.append(Problem(postcode, "codes", _("expected a non-empty list of constituency codes")))
            continue
        clean = []
        for code in codes:
            try:
                clean.append(map_constituency_code(str(code)))
            except ValueError:
                problems.append(Problem(postcode, "codes", _("not a constituency code: %(code)s", code=str(code))))
        mapping[postcode] = clean
    return mapping, problems


def import_postcodes(
    organisation_id: int, data: bytes, *, max_bytes: int, dry_run: bool = False, keep: bool = False
) -> PostcodeReport:
    """Replace the organisation's map with the file's (or complete it, with `keep`: today's postcodes the
    file does not hold stay), all or nothing; the report says what changes. Flushes, never commits."""
    mapping, problems = parse_postcode_map(data, max_bytes=max_bytes)
    report = PostcodeReport(problems=problems, keep=keep)
    if problems:
        return report
    report.postcodes = len(mapping)
    report.pairs = sum(len(set(codes)) for codes in mapping.values())
    report.spanning = sum(1 for codes in mapping.values() if len(set(codes)) > 1)
    today = current_map(organisation_id)
    report.current = len(today)
    added = sorted(set(mapping) - set(today))
    removed = sorted(set(today) - set(mapping))
    changed = sorted(p for p in set(mapping) & set(today) if set(mapping[p]) != set(today[p]))
    report.added, report.removed, report.changed = len(added), len(removed), len(changed)
    report.unchanged = len(set(mapping) & set(today)) - len(changed)
    report.samples = {"added": added[:SAMPLE], "removed": removed[:SAMPLE], "changed": changed[:SAMPLE]}
    if not dry_run:
        replace_postcodes(organisation_id, {**today, **mapping} if keep else mapping)
    return report
