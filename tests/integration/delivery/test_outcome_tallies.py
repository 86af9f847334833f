"""The outcome tallies (docs/decisions/0060, PostgreSQL): the triggers of migration 0022 log,
in the statement that writes the outcomes, how the standing outcomes of each local day and
fact change; the sweep folds the log into the cells; the reports add up both. Checked against
the standing outcome rows counted in Python — after services, failures, a reversal and a
service after it, a cancellation, reassignments before and after the outcome — in the zone
they are kept in and in another one, and after the migration on a database that already holds
outcomes.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, time
from types import SimpleNamespace
from typing import cast
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import COURT, OTHER_COURT

from delivery.clock import ManualClock
from delivery.context import Context
from delivery.domain import SERVED_EVENT
from delivery.services.api_keys import create_api_key
from delivery.services.reports import GROUPINGS, compute_groupings, parse_request, service_reports
from delivery.services.sweep import sweep
from delivery.storage.migrate import upgrade
from delivery.storage.outcome_tallies import keep_tallies_in, tallied_zone
from delivery.storage.reports import OutcomeRow, standing_outcomes
from delivery.storage.schema import outcome_tallies, outcome_tally_changes, service_outcomes
from integration.delivery.support import build_population, downgrade_to

NEW_YORK = ZoneInfo("America/New_York")
MARS = cast(ZoneInfo, SimpleNamespace(key="Mars/Olympus_Mons"))  # no server knows it
EVER = datetime(2000, 1, 1, tzinfo=UTC)
Cell = tuple[object, ...]


def _cell(row: OutcomeRow, zone: ZoneInfo) -> Cell:
    """The tally cell of a standing outcome row, as the report's facts read it."""
    return (
        row.court,
        row.outcome_date(zone),
        row.recorded_at.astimezone(zone).date(),
        row.outcome,
        row.channel or "",
        row.owner_id or "",
        row.served_step is not None and row.served_step == row.first_step,
        row.confirmed_address,
        row.by_reply,
    )


async def _expected(ctx: Context, zone: ZoneInfo) -> Counter[Cell]:
    rows, _names = await standing_outcomes(ctx.engine, EVER, None, owners=False)
    return Counter(_cell(row, zone) for row in rows)


async def _tallies(ctx: Context) -> Counter[Cell]:
    """The cells as a report adds them up — the folded counts and the changes logged since —
    every count positive (an emptied cell holds 0 and is left out)."""
    cells: Counter[Cell] = Counter()
    async with ctx.engine.connect() as conn:
        for row in (await conn.execute(sa.select(outcome_tallies))).all():
            cells[tuple(row[:-1])] += row.n
        for row in (await conn.execute(sa.select(outcome_tally_changes))).all():
            cells[tuple(row[1:-1])] += row.n
    assert all(n >= 0 for n in cells.values()), cells
    return +cells


def _a_standing_service() -> sa.ScalarSelect[str]:
    """The event id of one standing service, as a subquery."""
    o = service_outcomes.c
    return (
        sa.select(o.event_id)
        .where(o.standing, o.type == SERVED_EVENT)
        .order_by(o.event_id)
        .limit(1)
        .scalar_subquery()
    )


async def _assert_reports_count_as_the_rows(ctx: Context, zone: ZoneInfo) -> None:
    """Every grouping's report over the population's months, from the tallies, is the one
    Python makes of the standing rows."""
    request = parse_request({"from": "2025-12-01", "to": "2026-04-30"})
    start = datetime.combine(request.start, time(), zone)
    rows, names = await standing_outcomes(ctx.engine, start, None, owners=True)
    expected = compute_groupings(rows, request, zone, GROUPINGS, names)
    assert await service_reports(ctx.engine, request, zone, None, GROUPINGS) == expected


async def _logged(ctx: Context) -> int:
    """How many changes are logged and not folded yet."""
    async with ctx.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(outcome_tally_changes)))


@pytest.fixture
async def population(api: Api, ctx: Context, clock: ManualClock) -> dict[str, str]:
    """The reports' population; then a served dispatch of c1 is handed to c2 and one of c2 to
    c1: their standing outcomes change owner."""
    _key, token = await create_api_key(ctx.engine, ctx.clock, "both", [COURT, OTHER_COURT])
    both = Api(api.client, {"Authorization": f"Bearer {token}"}, ctx)
    clerks = await build_population(both, ctx, clock)
    async with ctx.engine.connect() as conn:
        served = dict(
            (
                await conn.execute(
                    sa.select(service_outcomes.c.owner_id, service_outcomes.c.dispatch_id).where(
                        service_outcomes.c.standing, service_outcomes.c.type == SERVED_EVENT
                    )
                )
            ).all()
        )
    for before, after in (("c1", "c2"), ("c2", "c1")):
        response = await both.client.post(
            f"/api/v1/dispatches/{served[clerks[before]]}/actions",
            json={"action": "reassign_owner", "note": "交接", "owner_id": clerks[after]},
            headers=both.auth,
        )
        assert response.status == 200, await response.text()
    return clerks


async def test_the_tallies_count_the_standing_outcomes(
    ctx: Context, population: dict[str, str]
) -> None:
    async with ctx.engine.connect() as conn:
        assert await tallied_zone(conn) == ctx.settings.zone.key
    expected = await _expected(ctx, ctx.settings.zone)
    # One standing outcome per dispatch: all 15 have one (d9 stands reversed).
    assert sum(expected.values()) == 15
    assert await _logged(ctx) > 0  # the triggers log; nothing is folded before a sweep
    assert await _tallies(ctx) == expected
    # Both reassignments moved a standing service from one clerk's cells to the other's.
    owners = Counter(cell[5] for cell in expected.elements() if cell[3] == SERVED_EVENT)
    assert set(owners) == set(population.values())
    # The sweep folds the log into the cells: the same counts, nothing left logged, and the
    # reports read from the folded cells (the emptied ones at 0 among them) what the rows say.
    await sweep(ctx)
    assert await _logged(ctx) == 0
    assert await _tallies(ctx) == expected
    await _assert_reports_count_as_the_rows(ctx, ctx.settings.zone)
    # A deleted outcome row (none is, in the service) is taken off its cell too.
    async with ctx.engine.begin() as conn:
        gone = await conn.scalar(
            sa.delete(service_outcomes)
            .where(service_outcomes.c.event_id == _a_standing_service())
            .returning(service_outcomes.c.dispatch_id)
        )
    assert gone is not None
    expected = await _expected(ctx, ctx.settings.zone)
    assert sum(expected.values()) == 14
    assert await _tallies(ctx) == expected


async def test_emptied_by_truncate_the_tallies_are_not_kept_until_tallied_anew(
    ctx: Context, population: dict[str, str]
) -> None:
    async with ctx.engine.begin() as conn:
        await conn.execute(sa.text("TRUNCATE service_outcomes"))
        assert await tallied_zone(conn) is None
    assert await _tallies(ctx) == Counter()
    # With no row to convert, a zone the server does not know is still refused up front: kept,
    # it would make every later outcome write fail in the trigger.
    assert await keep_tallies_in(ctx.engine, MARS) is None
    async with ctx.engine.connect() as conn:
        assert await tallied_zone(conn) is None
    assert await keep_tallies_in(ctx.engine, ctx.settings.zone) == 0


async def test_a_zone_the_database_does_not_know_leaves_the_rows_counted(
    ctx: Context, population: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Python's zone data and the server's may differ: the tallies are then not kept (the
    reports count the rows), and the outcomes go on being written."""
    with caplog.at_level(logging.ERROR, logger="delivery.storage.outcome_tallies"):
        assert await keep_tallies_in(ctx.engine, MARS) is None
    assert [r.message for r in caplog.records] == ["outcomes not tallied: unknown time zone"]
    async with ctx.engine.connect() as conn:
        assert await tallied_zone(conn) == ctx.settings.zone.key  # as it was
    assert await _tallies(ctx) == await _expected(ctx, ctx.settings.zone)


async def test_a_zone_not_tallied_is_counted_from_the_outcomes_until_it_is(
    ctx: Context, population: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A report in a zone the tallies are not kept in counts the rows (and says so);
    tallied in that zone, the tallies hold its dates and the report counts them."""
    request = parse_request({"from": "2025-12-31", "to": "2026-03-31"})
    start = datetime.combine(request.start, time(), NEW_YORK)
    rows, names = await standing_outcomes(ctx.engine, start, None, owners=True)
    in_new_york = compute_groupings(rows, request, NEW_YORK, GROUPINGS, names)
    with caplog.at_level(logging.WARNING, logger="delivery.storage.reports"):
        assert await service_reports(ctx.engine, request, NEW_YORK, None, GROUPINGS) == (
            in_new_york
        )
    assert [r.message for r in caplog.records] == ["report counted from the outcomes"]

    assert await keep_tallies_in(ctx.engine, NEW_YORK) == len(await _expected(ctx, NEW_YORK))
    assert await keep_tallies_in(ctx.engine, NEW_YORK) is None  # kept there already
    assert await _logged(ctx) == 0
    assert await _tallies(ctx) == await _expected(ctx, NEW_YORK)
    assert await _tallies(ctx) != await _expected(ctx, ctx.settings.zone)  # d10, d13, d15
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="delivery.storage.reports"):
        assert await service_reports(ctx.engine, request, NEW_YORK, None, GROUPINGS) == (
            in_new_york
        )
    assert caplog.records == []


async def test_migration_0022_tallies_the_outcomes_already_stored(
    ctx: Context, population: dict[str, str]
) -> None:
    """Outcomes written before 0022 are tallied when the database is prepared after it; until
    then nothing is kept, and reports count the rows."""
    expected = await _expected(ctx, ctx.settings.zone)
    await downgrade_to(ctx.engine, "0021")
    await upgrade(ctx.engine)
    async with ctx.engine.connect() as conn:
        assert await tallied_zone(conn) is None
    assert await _tallies(ctx) == Counter()
    assert await keep_tallies_in(ctx.engine, ctx.settings.zone) == len(expected)
    assert await _tallies(ctx) == expected
