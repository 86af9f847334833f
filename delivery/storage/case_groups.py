"""The cases the case system linked into groups (CPL-INT-137): SQL only.

A case belongs to at most one group of its court (the table's key is the court and the case
number); a case in no group is a group of its own (docs/decisions/0043).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.storage.schema import case_groups


@dataclass(frozen=True)
class LinkedCase:
    case_number: str
    group_id: str
    linked_at: datetime


async def group_cases(conn: AsyncConnection, court: str, group_id: str) -> list[LinkedCase]:
    """The cases of one group of ``court``, oldest link first."""
    c = case_groups.c
    rows = await conn.execute(
        sa.select(c.case_number, c.group_id, c.linked_at)
        .where(c.court == court, c.group_id == group_id)
        .order_by(c.linked_at, c.case_number)
    )
    return [LinkedCase(*row) for row in rows]


async def groups_of(
    conn: AsyncConnection, court: str, case_numbers: Sequence[str]
) -> dict[str, str]:
    """The group of each of ``case_numbers`` that is in one: case number → group id."""
    c = case_groups.c
    rows = await conn.execute(
        sa.select(c.case_number, c.group_id).where(
            c.court == court, c.case_number.in_(list(case_numbers))
        )
    )
    return {case_number: group_id for case_number, group_id in rows}


def grouped_with(court: str, case_number: str) -> sa.Select[tuple[str]]:
    """The cases of ``case_number``'s group (none when ungrouped), as a subquery another
    statement can use: on the table's key and its (court, group_id) index."""
    c = case_groups.c
    mine = sa.select(c.group_id).where(c.court == court, c.case_number == case_number)
    return sa.select(c.case_number).where(c.court == court, c.group_id == mine.scalar_subquery())


async def cases_grouped_with(conn: AsyncConnection, court: str, case_number: str) -> list[str]:
    """Every case of ``case_number``'s group (itself included); itself alone when ungrouped."""
    rows = await conn.execute(grouped_with(court, case_number))
    return sorted({case_number, *rows.scalars()})


async def link(
    conn: AsyncConnection, court: str, group_id: str, case_numbers: Sequence[str], now: datetime
) -> None:
    """Add ``case_numbers`` (in no group) to the group; a concurrent link of the same case to
    another group fails on the table's key."""
    if case_numbers:
        await conn.execute(
            case_groups.insert(),
            [
                {"court": court, "case_number": n, "group_id": group_id, "linked_at": now}
                for n in case_numbers
            ],
        )


async def unlink(conn: AsyncConnection, court: str, group_id: str, keep: Sequence[str] = ()) -> int:
    """Take every case but ``keep`` out of the group; how many were taken out."""
    c = case_groups.c
    statement = case_groups.delete().where(c.court == court, c.group_id == group_id)
    if keep:
        statement = statement.where(c.case_number.not_in(list(keep)))
    result = await conn.execute(statement)
    return int(result.rowcount)
