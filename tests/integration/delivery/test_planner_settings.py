"""The queue's transaction plans each statement for its own filter (decision 0058): no JIT, and
no generic plan of a prepared statement (one without the parameters' values, which cannot use
the name index for a surname's prefix). The settings end with the transaction: the pooled
connection goes back as it came. (PostgreSQL only: SQLite plans every statement anew.)"""

from __future__ import annotations

import sqlalchemy as sa

from delivery.context import Context
from delivery.storage.engine import planned_per_filter

SHOWN = sa.text("SELECT current_setting('jit'), current_setting('plan_cache_mode')")


async def test_each_statement_is_planned_for_its_filter_until_the_transaction_ends(
    ctx: Context,
) -> None:
    async with ctx.engine.connect() as conn:
        before = (await conn.execute(SHOWN)).one()
        await planned_per_filter(conn)
        assert tuple((await conn.execute(SHOWN)).one()) == ("off", "force_custom_plan")
        await conn.rollback()
        assert (await conn.execute(SHOWN)).one() == before
        assert tuple(before) != ("off", "force_custom_plan")
