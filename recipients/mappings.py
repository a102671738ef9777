"""Saved CSV column mappings: an organisation maps a file's columns once and reuses the mapping."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from recipients.models import ImportMapping, TargetRole


def organisation_mappings(organisation_id: int) -> list[ImportMapping]:
    return list(
        db.session.scalars(
            select(ImportMapping).where(ImportMapping.organisation_id == organisation_id).order_by(ImportMapping.name)
        )
    )


def find_mapping(organisation_id: int, header: list[str]) -> ImportMapping | None:
    """The newest saved mapping made for a file with this very header."""
    wanted = set(header)
    for saved in sorted(organisation_mappings(organisation_id), key=lambda m: m.id, reverse=True):
        if set(saved.columns) == wanted:
            return saved
    return None


def save_mapping(organisation_id: int, name: str, columns: dict[str, str], role: TargetRole | None) -> ImportMapping:
    """Create or replace the mapping called `name`. Flushes."""
    name = " ".join(name.split())[:200]
    saved = db.session.scalar(
        select(ImportMapping).where(ImportMapping.organisation_id == organisation_id, ImportMapping.name == name)
    )
    if saved is None:
        saved = ImportMapping(organisation_id=organisation_id, name=name)
        db.session.add(saved)
    saved.columns = dict(columns)
    saved.role = role
    db.session.flush()
    return saved
