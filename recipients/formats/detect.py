"""Tell a file's format from its name and first bytes, so organisers need not choose."""

from __future__ import annotations

from recipients.formats import datan, mapped_csv, nosdeputes
from recipients.reading import read_csv
from safejson import loads_json


def detect(filename: str, text: str) -> str:
    """The key of the format `text` is in (see `recipients.formats.registry`): CSV of unknown layout
    is "mapped-csv"; JSON of no known shape is "" (the organiser then chooses)."""
    name = filename.lower()
    head = text.lstrip()[:1]
    if name.endswith((".yaml", ".yml")) or text.lstrip().startswith(("- id:", "---")):
        return "congress"
    if head in "{[" and head:
        return _detect_json(text)
    try:
        header = read_csv(text).header  # the header only: records are read later
    except ValueError:
        return "layout"
    if datan.looks_like(header):
        return "datan"
    if mapped_csv.looks_like_layout(header):
        return "layout"
    if len(header) == 2 and header[0].lower() == "nom" and header[1].lower() in {"@x", "x", "twitter"}:
        return "ministers-csv"
    return "mapped-csv"


def _detect_json(text: str) -> str:
    try:
        document = loads_json(text)
    except ValueError:
        # Truncated or broken: guess from its start, so the parser names the broken place.
        return "popolo" if '"persons"' in text[:5000] else "nosdeputes" if '"deputes"' in text[:5000] else ""
    if isinstance(document, list):
        return "nosdeputes" if nosdeputes.chamber_of_list(document) else ""
    if isinstance(document, dict):
        if "deputes" in document or "senateurs" in document:
            return "nosdeputes"
        if "persons" in document or "memberships" in document:
            return "popolo"
        sample = next(iter(document.values()), None)
        if isinstance(sample, dict):
            if "x" in sample and ("bsky" in sample or "deletedXAccount" in sample):
                return "ministers-json"
            if "bsky" in sample:
                return "politix-bluesky"
            if "masto" in sample:
                return "politix-mastodon"
    return ""
