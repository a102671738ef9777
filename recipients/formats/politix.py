"""laem/politix files: Bluesky and Mastodon handles keyed by AN id, and the government's members.

The handle files enrich targets already imported (Datan or NosDéputés rows with the same AN id);
a `null` handle leaves the stored one alone. Accounts flagged dead (`deletedXAccount`,
`notFoundXAccount`) or written as `false` are not offered.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from channels import Network
from recipients import normalise
from recipients.formats import HANDLE_FIELD, Parsed, Problem, RowReader, TargetRow
from recipients.models import TargetRole
from recipients.reading import FileProblem, iter_dicts, read_csv, read_json

MINISTER_FIELDS = frozenset({"role", "first_name", "last_name", "handle_x", "handle_bluesky", "is_active"})


def _keyed_object(text: str, handle_key: str) -> dict[str, Any]:
    document = read_json(text)
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise FileProblem(_('expected an object keyed by AN id, {"PA…": {"%(key)s": …}}', key=handle_key))
    return document


def _parse_handles(text: str, handle_key: str, network: Network) -> Parsed:
    document = _keyed_object(text, handle_key)
    problems: list[Problem] = []
    rows: list[TargetRow] = []
    for key, item in document.items():
        name = f"{normalise.clean_text(item.get('prenom'))} {normalise.clean_text(item.get('nom'))}".strip()
        where = f"{key} ({name})" if name else str(key)
        if handle_key not in item:
            problems.append(Problem(where, handle_key, _("missing")))
            continue
        if item[handle_key] in (None, False, ""):
            continue
        reader = RowReader(where, problems)
        external_id = reader.an_id(key, column="id")
        if not external_id:
            continue
        reader.handle(network, item[handle_key], column=handle_key)
        if reader.ok:
            rows.append(TargetRow(where, external_id, reader.values))
    if not document:
        problems.append(Problem("", "", _("the file holds no entries")))
    return Parsed(rows, problems, frozenset({HANDLE_FIELD[network]}), enrich=True)


def parse_bluesky(text: str, **_options: Any) -> Parsed:
    return _parse_handles(text, "bsky", Network.BLUESKY)


def parse_mastodon(text: str, **_options: Any) -> Parsed:
    return _parse_handles(text, "masto", Network.MASTODON)


def _split_name(full: str) -> tuple[str, str]:
    """'Amélie de Montchalin' → ('Amélie', 'de Montchalin'): the first word is the given name."""
    first, _sep, last = full.partition(" ")
    return (first, last) if last else ("", first)


def parse_ministers(text: str, **_options: Any) -> Parsed:
    document = read_json(text)
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise FileProblem(_('expected an object keyed by name, {"Prénom Nom": {"x": …, "bsky": …}}'))
    problems: list[Problem] = []
    rows: list[TargetRow] = []
    for key, item in document.items():
        full = normalise.clean_text(key)
        reader = RowReader(full, problems)
        first, last = _split_name(full)
        reader.values["role"] = TargetRole.MINISTER
        reader.text("first_name", item.get("prenom") or first, column="prenom")
        reader.text("last_name", item.get("nom") or last, column="nom", required=True)
        reader.handle(Network.X, item.get("x"), column="x")
        if item.get("deletedXAccount") or item.get("notFoundXAccount"):
            flag = "deletedXAccount" if item.get("deletedXAccount") else "notFoundXAccount"
            if reader.values["handle_x"] or item.get("x") is False:
                reader.warn("x", _("the X account is flagged %(flag)s: not offered", flag=flag))
            reader.values["handle_x"] = None
        reader.handle(Network.BLUESKY, item.get("bsky"), column="bsky")
        reader.values["is_active"] = True
        if reader.ok:
            rows.append(TargetRow(full, normalise.slug(full), reader.values))
    if not document:
        problems.append(Problem("", "", _("the file holds no entries")))
    return Parsed(rows, problems, MINISTER_FIELDS)


def parse_ministers_csv(text: str, **_options: Any) -> Parsed:
    table = read_csv(text)
    if len(table.header) < 2 or table.header[0].lower() != "nom":
        raise FileProblem(_('line 1: expected the columns "Nom" and "@X"'))
    problems: list[Problem] = []
    rows: list[TargetRow] = []
    seen: dict[str, int] = {}
    count = 0
    for line, record, _extra in iter_dicts(table, ["nom", "x"]):
        count += 1
        where = _("line %(line)d", line=line)
        reader = RowReader(where, problems)
        full = reader.text("external_id", record.get("nom"), column="Nom", required=True)
        first, last = _split_name(full)
        reader.values["role"] = TargetRole.MINISTER
        reader.text("first_name", first)
        reader.text("last_name", last)
        reader.handle(Network.X, record.get("x"), column="@X")
        reader.values["is_active"] = True
        external_id = normalise.slug(full)
        if external_id in seen:
            reader.error("Nom", _("duplicate of line %(line)d", line=seen[external_id]))
        seen.setdefault(external_id, line)
        if reader.ok:
            rows.append(TargetRow(where, external_id, reader.values))
    if not count:
        problems.append(Problem("", "", _("the file has a header but no rows")))
    return Parsed(rows, problems, MINISTER_FIELDS - {"handle_bluesky"})
