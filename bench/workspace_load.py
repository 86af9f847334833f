"""Loading the seeded rows fast, for workspace_seed.py: a million dispatches are ~28 million rows.

- **Made apart**: each chunk of dispatches is made (:mod:`workspace_generator`) and written
  in ``COPY``'s text format in a worker process (:func:`made`), so the 2 cores make rows
  while PostgreSQL copies the chunk before; the seeding process only pipes the bytes.
- **Indexes after the rows**: the keys, unique constraints, foreign keys and indexes of the
  tables loaded are dropped before the ``COPY`` and made again after it
  (:func:`drop_indexes`): building a b-tree from sorted rows is far cheaper than inserting
  28 million keys one by one (most at random places: ids of events made over months), and a
  foreign key is checked by one join instead of a lookup per row. The definitions are read
  from the catalogue, so they are the migrations' own.
- **Frozen**: the tables are truncated in the transaction that copies, so ``COPY … FREEZE``
  writes the rows frozen and all-visible (the visibility map too): the ``VACUUM`` after the
  load need not write every page again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from workspace_generator import Chunk, Generator, Staff

from delivery.storage import schema

# COPY text format: tab between columns, a newline after a row, \N for NULL, and these
# characters escaped with a backslash.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


_FORMATS: dict[type, Callable[[Any], str]] = {
    str: _text,
    int: str,
    bool: lambda value: "t" if value else "f",
    datetime: datetime.isoformat,
    date: date.isoformat,
    type(None): lambda _value: "\\N",
}


@dataclass
class Encoded:
    """One chunk's rows in COPY text format per table (parents first), and their counts."""

    tables: dict[str, bytes]
    counts: dict[str, int]


def columns(table_name: str) -> list[str]:
    return [c.name for c in schema.metadata.tables[table_name].columns]


def made(chunk: Chunk, staff: Staff, now: datetime) -> Encoded:
    """The chunk's rows, made and encoded (in a worker process)."""
    rows = Generator(staff, now).chunk(chunk)
    tables = {
        table.name: encode_rows(table.name, rows.tables[table.name])
        for table in schema.metadata.sorted_tables
        if rows.tables.get(table.name)
    }
    return Encoded(tables, {name: len(found) for name, found in rows.tables.items()})


def encode_rows(table_name: str, rows: list[dict[str, Any]]) -> bytes:
    """``rows`` of the table in COPY text format (a time written once: an event's
    ``occurred_at`` is its ``recorded_at``, a step's events share its start)."""
    stamps: dict[datetime, str] = {}

    def stamp(value: datetime) -> str:
        text = stamps.get(value)
        if text is None:
            text = stamps[value] = value.isoformat()
        return text

    formats = {**_FORMATS, datetime: stamp}

    def encode(value: object) -> str:
        return formats[type(value)](value)

    names = columns(table_name)
    lines = ["\t".join(map(encode, map(row.get, names))) for row in rows]
    lines.append("")
    return "\n".join(lines).encode()


async def copy(conn: asyncpg.Connection, encoded: Encoded) -> None:
    """Copy one chunk in, frozen (the tables were truncated in this transaction)."""
    for name, data in encoded.tables.items():
        # A memoryview: asyncpg would take bytes for a file name.
        await conn.copy_to_table(name, source=memoryview(data), columns=columns(name), freeze=True)


_KEYS = """
SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE contype IN ('p', 'u', 'f')
  AND (conrelid::regclass::text = ANY($1)
       OR (contype = 'f' AND confrelid::regclass::text = ANY($1)))
"""
_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid::regclass::text = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


async def drop_indexes(conn: asyncpg.Connection, tables: list[str]) -> list[str]:
    """Drop the keys, constraints and indexes of ``tables`` (and the foreign keys that point at
    them); return the statements that make them again, keys first and foreign keys last."""
    keys = await conn.fetch(_KEYS, tables)
    indexes = await conn.fetch(_INDEXES, tables)
    foreign = [k for k in keys if k[2] == "f"]
    unique = [k for k in keys if k[2] != "f"]
    for table, name, _type, _definition in foreign + unique:
        await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        await conn.execute(f'DROP INDEX "{name}"')
    return [
        *(f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}' for t, n, _type, d in unique),
        *(definition for _name, definition in indexes),
        *(f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}' for t, n, _type, d in foreign),
    ]
