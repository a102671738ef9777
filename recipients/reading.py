"""Read an uploaded file's bytes as text, CSV records, JSON or YAML, with errors that name the place.

Encodings: UTF-8 with or without BOM, UTF-16 with a BOM (Excel's "Unicode text"), and
Windows-1252 (which covers Latin-1's letters) detected when the bytes are not UTF-8. A file that is
none of these is refused with the first undecodable line.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import yaml
from flask_babel import gettext as _

from safejson import MAX_JSON_DEPTH, json_depth


class FileProblem(ValueError):
    """A file that cannot be read at all; the message is for the organiser."""


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # "utf-8", "utf-16" or "windows-1252"


def check_size(data: bytes, limit: int) -> None:
    if len(data) > limit:
        raise FileProblem(
            _(
                "the file is %(size)s MB; the limit is %(limit)s MB",
                size=f"{len(data) / 1_048_576:.1f}",
                limit=f"{limit / 1_048_576:.1f}",
            )
        )


def decode(data: bytes) -> Decoded:
    """The file's text. Raises FileProblem for an empty file or an encoding we cannot tell."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise FileProblem(_("the file is empty"))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError as exc:
            raise FileProblem(_("the file starts as UTF-16 but is not valid UTF-16")) from exc
    try:
        return Decoded(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError as utf8_error:
        first_bad = utf8_error.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileProblem(
            _("line %(line)d: the file is neither UTF-8 nor Windows-1252; save it as CSV UTF-8", line=line)
        ) from exc
    # Bytes 0x80-0x9F are rare in Latin text but common in other 8-bit encodings; several in a
    # row mean the guess is wrong, and a wrong guess would import garbled names.
    if "\x81" in text or any(text.count(c) > 3 for c in "‚„†‡‰‹›"):
        line = data[:first_bad].count(b"\n") + 1
        raise FileProblem(
            _(
                "line %(line)d: the file is not UTF-8 and does not look like Windows-1252; save it as CSV UTF-8",
                line=line,
            )
        )
    return Decoded(text, "windows-1252")


def sniff_delimiter(text: str) -> str:
    """`,`, `;` or a tab: whichever the header line holds most of (a comma on a tie)."""
    first_line = text.split("\n", 1)[0]
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d])


@dataclass(frozen=True)
class CsvTable:
    """A CSV's header, and its records read on demand (a 50,000-row file is never held as lists)."""

    header: list[str]
    delimiter: str
    text: str

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line the record starts on, fields), blank lines skipped. Raises FileProblem on broken CSV."""
        reader = csv.reader(_lines(self.text), delimiter=self.delimiter, strict=True)
        try:
            next(reader, None)  # the header
            line = reader.line_num + 1
            for fields in reader:
                if any(field.strip() for field in fields):
                    yield line, fields
                line = reader.line_num + 1
        except csv.Error as exc:
            raise FileProblem(
                _("line %(line)d: unreadable CSV (%(error)s)", line=reader.line_num, error=str(exc))
            ) from exc

    def head(self, count: int) -> list[tuple[int, list[str]]]:
        return list(islice(self.records(), count))

    def with_header(self, header: list[str]) -> CsvTable:
        return CsvTable(header, self.delimiter, self.text)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # the line ends csv expects: \r\n, \r or \n


def _lines(text: str) -> Iterator[str]:
    """The text's lines, endings kept, one at a time (StringIO would copy the whole text, four
    bytes a character as soon as one is outside Latin-1)."""
    return (match.group() for match in _LINE.finditer(text))


def read_csv(text: str) -> CsvTable:
    """The header (the records are read later). Raises FileProblem for unreadable CSV or no header."""
    delimiter = sniff_delimiter(text)
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise FileProblem(_("line %(line)d: unreadable CSV (%(error)s)", line=1, error=str(exc))) from exc
    if not any(header):
        raise FileProblem(_("the file has no header line"))
    return CsvTable(header, delimiter, text)


def iter_dicts(table: CsvTable, columns: list[str]) -> Iterator[tuple[int, dict[str, str], int]]:
    """Records as {column: value}, with their line and how many fields they have beyond the header."""
    width = len(columns)
    for line, fields in table.records():
        yield line, dict(zip(columns, fields, strict=False)), max(0, len(fields) - width)


def read_json(text: str) -> Any:
    if json_depth(text) > MAX_JSON_DEPTH:
        raise FileProblem(_("nested deeper than %(depth)d levels: not a file of targets", depth=MAX_JSON_DEPTH))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(
            _(
                "line %(line)d, column %(column)d: not valid JSON (%(error)s)",
                line=exc.lineno,
                column=exc.colno,
                error=exc.msg,
            )
        ) from exc


def read_yaml(text: str) -> Any:
    """A YAML document without aliases: `*name` lets a few hundred bytes expand to gigabytes (a "billion
    laughs"), and no public data set uses them. The events are read first, at C speed, then the document."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                raise FileProblem(
                    _("line %(line)d: YAML aliases (*name) are not accepted", line=(mark.line + 1) if mark else 0)
                )
        return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise FileProblem(_("line %(line)d: not valid YAML (%(error)s)", line=line, error=exc.problem or "")) from exc
    except yaml.YAMLError as exc:
        raise FileProblem(_("not valid YAML (%(error)s)", error=str(exc))) from exc
