"""The queue's transaction plans each statement for its own filter (decision 0058): no JIT, and
no generic plan of a prepared statement (one without the parameters' values, which cannot use
the name index for a surname's prefix). The settings end with the transaction: the pooled
connection goes back as it came. (PostgreSQL only: SQLite plans every statement anew.)"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from conftest import COURT
from sqlalchemy import event

from delivery.context import Context
from delivery.services.clerk_queue import QueueFilter, queue_page
from delivery.storage.engine import one_snapshot, planned_per_filter

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


async def test_the_queue_plans_each_statement_for_its_filter(ctx: Context) -> None:
    """The queue's read transaction asks for these settings before its first query."""
    seen: list[tuple[str, Any]] = []
    isolation: set[str | None] = set()

    def executed(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen.append((statement, parameters))
        isolation.add(conn.get_execution_options().get("isolation_level"))

    engine = ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", executed)
    try:
        await queue_page(ctx, QueueFilter(courts=(COURT,)))
    finally:
        event.remove(engine, "before_cursor_execute", executed)
    statement, parameters = seen[0]
    assert "set_config" in statement
    assert {"jit", "off", "plan_cache_mode", "force_custom_plan"} <= set(parameters)
    # And all its statements read one snapshot (``engine.one_snapshot``).
    assert isolation == {"REPEATABLE READ"}


async def test_one_snapshot_is_a_repeatable_read_transaction_that_ends_with_it(
    ctx: Context,
) -> None:
    level = sa.text("SELECT current_setting('transaction_isolation')")
    async with ctx.engine.connect() as conn:
        assert await (await one_snapshot(conn)).scalar(level) == "repeatable read"
    async with ctx.engine.connect() as conn:
        assert await conn.scalar(level) == "read committed"
