"""The case system links cases into groups (first instance, appeal, retrial, enforcement:
CPL-INT-137), so that a recipient's confirmed addresses reach every case of the group.

A case is in at most one group of its court. Putting a case that is in another group into this
one is refused rather than moved: a confirmation signed in one family of cases would otherwise
start to reach another on a mistyped group id, silently; the case system takes it out of the
other group first (docs/decisions/0047).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from delivery.context import Context
from delivery.storage import case_groups as stored
from delivery.storage.engine import READ_ONLY, UniqueViolation


@dataclass(frozen=True)
class CaseGroup:
    court: str
    group_id: str
    cases: list[stored.LinkedCase]


class InAnotherGroup(Exception):
    """Some cases are in another group of the court: (position in the request, case number,
    the other group's id)."""

    def __init__(self, cases: list[tuple[int, str, str]]) -> None:
        super().__init__(", ".join(n for _, n, _ in cases))
        self.cases = cases


async def put_group(
    ctx: Context, court: str, group_id: str, case_numbers: Sequence[str], *, retried: bool = False
) -> tuple[CaseGroup, bool]:
    """Make the group hold exactly ``case_numbers`` (links already made keep their time); the
    group and whether it is new. Raises :class:`InAnotherGroup`."""
    try:
        async with ctx.engine.begin() as conn:
            current = await stored.groups_of(conn, court, case_numbers)
            elsewhere = [
                (i, n, current[n])
                for i, n in enumerate(case_numbers)
                if current.get(n, group_id) != group_id
            ]
            if elsewhere:
                raise InAnotherGroup(elsewhere)
            new_group = not await stored.group_cases(conn, court, group_id)
            await stored.unlink(conn, court, group_id, keep=case_numbers)
            added = [n for n in case_numbers if n not in current]
            await stored.link(conn, court, group_id, added, ctx.clock.now())
            cases = await stored.group_cases(conn, court, group_id)
    except UniqueViolation:
        # A concurrent request linked one of the cases first: asked again, this finds it in
        # another group (refused as above) or in this one (a twin request: nothing left to do).
        if retried:
            raise
        return await put_group(ctx, court, group_id, case_numbers, retried=True)
    return CaseGroup(court, group_id, cases), new_group


async def get_group(ctx: Context, court: str, group_id: str) -> CaseGroup | None:
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        cases = await stored.group_cases(conn, court, group_id)
    return CaseGroup(court, group_id, cases) if cases else None


async def delete_group(ctx: Context, court: str, group_id: str) -> bool:
    """Unlink every case of the group; whether it had any. Dispatches already created keep
    the addresses they took."""
    async with ctx.engine.begin() as conn:
        return await stored.unlink(conn, court, group_id) > 0
