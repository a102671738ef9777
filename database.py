"""The declarative base, shared column types and the SQLite connection settings."""

from __future__ import annotations

import enum
import os
import sqlite3
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Dialect, Enum, MetaData, event, func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


MAX_ID = 2**63 - 1  # the largest key SQLite and PostgreSQL's BIGINT hold


def parse_id(value: str | None) -> int | None:
    """A row id from a form or a URL: digits that fit in 63 bits, else None (never an overflow later)."""
    text = (value or "").strip()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


MAX_PAGE = 100_000


def page_number(value: str | None) -> int:
    """The `?page=` of a listing, clamped to 1…MAX_PAGE (an absurd page is the last page, not an overflow)."""
    number = parse_id(value)
    return min(number or 1, MAX_PAGE)


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # Enums are stored as their lowercase values in a VARCHAR: readable, and portable across
    # SQLite and PostgreSQL without ALTER TYPE migrations when a state is added.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            enum.Enum: Enum(
                enum.Enum,
                native_enum=False,
                length=32,
                values_callable=lambda members: [m.value for m in members],
                validate_strings=True,
            ),
            datetime: UTCDateTime(),
        },
    )


def engine_options(uri: str, *, threads: int) -> dict[str, Any]:
    """A pool with a connection for every thread that may hold one at once (web and delivery threads).

    Pre-ping only where a server can drop idle connections: a SQLite file cannot, and pinging it on
    every checkout cost a tenth of a delivery's time.
    """
    # Kept open, not overflow: an overflow connection is closed at every check-in, and reconnecting
    # for each delivery cost more than the delivery (a worker's threads check in after every task).
    options: dict[str, Any] = {"pool_size": max(5, threads), "max_overflow": 10}
    if not uri.startswith("sqlite"):
        options["pool_pre_ping"] = True
    return options


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL for concurrent readers beside one writer; foreign keys on; wait rather than fail on a lock."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    files = [row[2] for row in cursor.execute("PRAGMA database_list").fetchall() if row[2]]
    cursor.close()
    dbapi_connection.create_function("pv_local_date", 2, _local_date, deterministic=True)
    for path in files:  # supporters' data: readable by this user only (its journal files too)
        for name in (path, f"{path}-wal", f"{path}-shm"):
            if os.path.exists(name) and os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


def _local_date(stored: str | None, zone: str) -> str | None:
    """SQLite has no time zones: the calendar day, on `zone`'s clock, of a UTC timestamp as SQLite stores it."""
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


def local_date_sql(column: Any, zone: str, dialect: str) -> Any:
    """SQL for the calendar day of a UTCDateTime column on `zone`'s clock: PostgreSQL's timestamptz converts
    itself; SQLite's UTC text goes through our function."""
    if dialect == "sqlite":
        return func.pv_local_date(column, zone)
    return func.date(func.timezone(zone, column))


def changed(result: object) -> int:
    """How many rows an UPDATE or DELETE changed (a CursorResult's rowcount; 0 when the driver did not say)."""
    return int(getattr(result, "rowcount", 0) or 0)


def dialect_insert(session: Any, model: Any) -> Any:
    """An INSERT that knows `ON CONFLICT` (SQLite's or PostgreSQL's, by the session's database)."""
    from sqlalchemy.dialects import postgresql, sqlite

    build = sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert
    return build(model)


def increment_many(session: Any, model: Any, keys: list[str], rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Add each row's `columns` to the row with its `keys`, inserting it when missing: one statement for the
    lot (an `executemany`), so that a batch pays for one `ON CONFLICT` compilation, not one a row."""
    if not rows:
        return
    statement = dialect_insert(session, model)
    table = model.__table__
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={name: table.c[name] + statement.excluded[name] for name in columns}
    )
    session.execute(statement, rows)


def insert_missing(session: Any, model: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose `keys` are not there yet, leaving existing ones as they are (one executemany)."""
    if rows:
        session.execute(dialect_insert(session, model).on_conflict_do_nothing(index_elements=keys), rows)


def upsert(
    session: Any,
    model: Any,
    keys: dict[str, Any],
    *,
    values: dict[str, Any] | None = None,
    increments: dict[str, int] | None = None,
    sets: dict[str, Any] | None = None,
    returning: Any = None,
) -> Any:
    """Insert the row named by `keys`, or add `increments` to the one already there (and apply `sets`).

    One statement (`INSERT … ON CONFLICT DO UPDATE`, SQLite and PostgreSQL alike), so concurrent
    writers each add their own: no read-modify-write race. Without increments or sets, an existing
    row is left as it is. With `returning` (a column), returns its value in the row as written.
    """
    increments = increments or {}
    statement = dialect_insert(session, model).values(**keys, **(values or {}), **increments)
    table = model.__table__
    updates = {name: table.c[name] + amount for name, amount in increments.items()} | (sets or {})
    if updates:
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    if returning is None:
        session.execute(statement)
        return None
    return session.execute(statement.returning(returning)).scalar()
