"""The outcome tallies: how many standing outcomes share each local day and fact
(``outcome_tallies``, docs/decisions/0060), which a report counts instead of the outcomes.

On PostgreSQL the triggers of migration 0022 log each statement's changes per cell in
``outcome_tally_changes``, in the statement that writes the outcomes, so no writer can forget
them — the unit of work, a migration, a bulk load — and in any snapshot the cells plus the log
count exactly the rows. The log is only inserted into, so writers never wait on a cell;
:func:`fold_changes` (the sweep) adds it to the cells. The dates are local dates, in the one
zone ``outcome_tally_zone`` names; until it names one, nothing is kept. :func:`keep_tallies_in`
tallies every standing outcome in the configured zone when the database is prepared
(``songda db upgrade``, ``songda run``); a report in another zone counts the rows instead
(delivery/storage/reports.py). SQLite's reports count the rows in Python: its tables stay
empty.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.storage.schema import outcome_tally_zone

log = logging.getLogger(__name__)

# The SQLSTATE of "time zone … not recognized".
INVALID_PARAMETER_VALUE = "22023"
SELECT_ZONE = sa.select(outcome_tally_zone.c.zone)
# The logged changes added to their cells (migration 0022: fold_outcome_tallies).
FOLD = sa.select(sa.func.fold_outcome_tallies())
# Every standing outcome counted anew in the zone, the outcomes' writers held meanwhile
# (migration 0022: retally_outcomes); the number of cells.
RETALLY = sa.select(sa.func.retally_outcomes(sa.bindparam("zone", type_=sa.String)))


def kept_by_the_database(engine: AsyncEngine | AsyncConnection) -> bool:
    """Whether the database keeps the tallies (PostgreSQL, with the triggers of 0022)."""
    return engine.dialect.name == "postgresql"


async def tallied_zone(conn: AsyncConnection) -> str | None:
    """The zone the tallies are kept in, None while they are not kept."""
    if not kept_by_the_database(conn):
        return None
    return await conn.scalar(SELECT_ZONE)


async def keep_tallies_in(engine: AsyncEngine, zone: ZoneInfo) -> int | None:
    """The tallies kept in ``zone`` from now on: when they are kept in another zone or not at
    all, every standing outcome is tallied anew in one transaction (writers of outcomes wait:
    a few seconds at a million dispatches); the number of cells then, else None."""
    if not kept_by_the_database(engine):
        return None
    try:
        async with engine.begin() as conn:
            if await tallied_zone(conn) == zone.key:
                return None
            cells = int(await conn.scalar(RETALLY, {"zone": zone.key}) or 0)
    except sa.exc.DBAPIError as refused:
        if getattr(refused.orig, "sqlstate", None) != INVALID_PARAMETER_VALUE:
            raise
        # Python's zone data knows the zone, the server's does not: the reports count the
        # rows (and say so) rather than the service refusing to start over them.
        log.error("outcomes not tallied: unknown time zone", extra={"zone": zone.key})
        return None
    log.info("outcomes tallied", extra={"zone": zone.key, "cells": cells})
    return cells


async def fold_changes(engine: AsyncEngine) -> None:
    """The changes logged since the last fold added to their cells (PostgreSQL; one short
    transaction): the log a report adds up stays a few seconds' worth."""
    if not kept_by_the_database(engine):
        return
    async with engine.begin() as conn:
        await conn.execute(FOLD)
