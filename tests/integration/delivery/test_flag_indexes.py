"""Migration 0021 (decision 0058): the indexes the queue's needs-action candidates are found by
include the columns the candidates' flags read, as the schema declares them, so a broad filter
or a surname is checked from the index alone; migrating down gives the indexes back without
them. (PostgreSQL only: SQLite has no included columns.)"""

from __future__ import annotations

import sqlalchemy as sa

from delivery.context import Context
from delivery.storage.migrate import upgrade
from delivery.storage.schema import dispatches
from delivery.storage.schema.dispatch import FLAG_COLUMNS
from integration.delivery.support import downgrade_to

INDEXES = ("ix_dispatches_id_filters", "ix_dispatches_recipient_name")
INCLUDED = sa.text(
    "SELECT c.relname, array_agg(a.attname ORDER BY k.n) FILTER (WHERE k.n > i.indnkeyatts)"
    " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
    " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
    " WHERE c.relname = ANY(:names) GROUP BY c.relname"
)


async def _included(ctx: Context) -> dict[str, set[str]]:
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(INCLUDED, {"names": list(INDEXES)})
        return {name: set(columns or ()) for name, columns in rows.all()}


def _declared() -> dict[str, set[str]]:
    return {
        index.name: set(index.dialect_options["postgresql"]["include"])
        for index in dispatches.indexes
        if index.name in INDEXES
    }


async def test_the_candidates_indexes_include_what_the_flags_read(ctx: Context) -> None:
    included = await _included(ctx)
    assert included == _declared()
    for name in INDEXES:
        assert included[name] | {"state"} >= set(FLAG_COLUMNS), name

    await downgrade_to(ctx.engine, "0020")
    try:
        assert await _included(ctx) == {name: set() for name in INDEXES}
    finally:
        await upgrade(ctx.engine)
    assert await _included(ctx) == included
