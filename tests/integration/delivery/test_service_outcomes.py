"""``service_outcomes``, the reports' projection of the outcome events, agrees with the chain.

Over the report test population (integration/delivery/support.py, read by test_reports.py:
services on every channel, failures, cancellations, a reversal, across months and courts), every
outcome event has exactly one projection row, whose fields are what the event's data and the
chain's ``attempt_created`` events before it say; and migration 0005, run again over the same
events, backfills the same rows.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import COURT, OTHER_COURT

from delivery.clock import ManualClock
from delivery.context import Context
from delivery.domain import OUTCOME_EVENTS
from delivery.services.api_keys import create_api_key
from delivery.storage.migrate import MIGRATIONS_DIR, upgrade
from delivery.storage.schema import events, service_outcomes
from integration.delivery.support import (
    Population,
    build_population,
    column_names,
    downgrade_to,
    keyed_population,
)

Row = dict[str, Any]


async def _projection(ctx: Context) -> list[Row]:
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(sa.select(service_outcomes).order_by(service_outcomes.c.event_id))
        return [dict(r) for r in rows.mappings()]


def _expected(chain: list[Row], court: str) -> list[Row]:
    """The projection rows of one dispatch's chain, derived from the chain alone."""
    created = next(e for e in chain if e["type"] == "dispatch_created")
    confirmed = {  # the contacts taken from a signed confirmation form, as creation names them
        c["id"] for c in json.loads(created["data"])["contacts"] if c.get("confirmation_id")
    }
    replies = {e["id"] for e in chain if e["type"] == "reply_received"}
    attempts: dict[str, dict[str, Any]] = {}  # by attempt id, in the order they were created
    rows = []
    for e in chain:
        data = json.loads(e["data"])
        if e["type"] == "attempt_created":
            attempts[e["attempt_id"]] = data
        if e["type"] not in OUTCOME_EVENTS:
            continue
        last = list(attempts.values())[-1] if attempts else None
        served = e["type"] == "dispatch_served"
        served_at = datetime.fromisoformat(data["served_at"]) if served else None
        channel = None
        if served:
            channel = data["channel"]
        elif e["type"] in ("dispatch_failed", "dispatch_cancelled") and last is not None:
            channel = last["channel"]
        rows.append(
            {
                "event_id": e["id"],
                "dispatch_id": e["dispatch_id"],
                "seq": e["seq"],
                "type": e["type"],
                "occurred_at": e["occurred_at"],
                "court": court,
                "dispatch_created_at": created["occurred_at"],
                "channel": channel,
                "served_at": served_at,
                "served_step": attempts[data["attempt_id"]]["step"] if served else None,
                "first_step": min((a["step"] for a in attempts.values()), default=None),
                "confirmed_address": served
                and attempts[data["attempt_id"]]["contact_id"] in confirmed,
                "by_reply": served and data.get("completing_event_id") in replies,
                "standing": False,
                "owner_id": None,
                "dated_at": served_at if served else e["occurred_at"],
                "time_to_service_us": (
                    (served_at - created["occurred_at"]) // timedelta(microseconds=1)
                    if served
                    else None
                ),
            }
        )
    if rows:  # the latest stands, with the owner the latest ownership event names
        owners = [e for e in chain if e["type"] in ("owner_assigned", "owner_reassigned")]
        owner = json.loads(owners[-1]["data"])["owner_id"] if owners else None
        rows[-1] = {**rows[-1], "standing": True, "owner_id": owner}
    return rows


@pytest.mark.both_databases
async def test_every_outcome_event_has_its_row_and_no_other_row_exists(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    await keyed_population(api, ctx, clock)
    expected = await _expected_from_chain(ctx)
    # The population holds every kind of outcome, failures with and without an attempt.
    assert {r["type"] for r in expected} >= {
        "dispatch_served",
        "dispatch_failed",
        "dispatch_cancelled",
        "dispatch_unserved",
    }
    assert {r["channel"] for r in expected if r["type"] == "dispatch_served"} >= {"email", "sms"}
    assert await _projection(ctx) == expected


async def _expected_from_chain(ctx: Context) -> list[Row]:
    """The projection rows every dispatch's chain calls for, in event id order."""
    async with ctx.engine.connect() as conn:
        chain = [dict(r) for r in (await conn.execute(sa.select(events))).mappings()]
        courts = {d: c for d, c in await conn.execute(sa.text("SELECT id, court FROM dispatches"))}
    expected: list[Row] = []
    for dispatch_id, court in courts.items():
        own = sorted((e for e in chain if e["dispatch_id"] == dispatch_id), key=lambda e: e["seq"])
        expected += _expected(own, court)
    return sorted(expected, key=lambda r: r["event_id"])


@pytest.mark.both_databases
async def test_a_dispatch_reassigned_after_its_outcome_stands_under_its_new_owner(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    """The clerk a report counts a served dispatch under is its owner now: a reassignment after
    the outcome updates the standing row (and only it)."""
    _key, token = await create_api_key(ctx.engine, ctx.clock, "both", [COURT, OTHER_COURT])
    auth = Api(api.client, {"Authorization": f"Bearer {token}"}, ctx)
    p = Population(auth, ctx, clock, {})
    clerks = await build_population(auth, ctx, clock)
    p.clerks.update(clerks)
    before = {r["dispatch_id"]: r for r in await _projection(ctx) if r["standing"]}
    served = [d for d, r in before.items() if r["type"] == "dispatch_served" and r["owner_id"]]
    for dispatch_id in served:
        other = "c2" if before[dispatch_id]["owner_id"] == clerks["c1"] else "c1"
        await p.reassign(dispatch_id, other)
    after = await _projection(ctx)
    assert after == await _expected_from_chain(ctx)
    now = {r["dispatch_id"]: r["owner_id"] for r in after if r["standing"]}
    assert served and all(now[d] != before[d]["owner_id"] for d in served)
    assert all(r["owner_id"] is None for r in after if not r["standing"])


def _migration_0005() -> ModuleType:
    path = MIGRATIONS_DIR / "versions" / "0005_clerk_workspace.py"
    spec = importlib.util.spec_from_file_location("migration_0005", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.both_databases
async def test_the_backfill_of_migration_0005_gives_the_rows_the_unit_of_work_wrote(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    await keyed_population(api, ctx, clock)
    written = await _projection(ctx)
    assert written
    backfill_rows = _migration_0005().backfill_rows
    async with ctx.engine.connect() as conn:
        backfilled = await conn.run_sync(lambda c: list(backfill_rows(c)))
    # 0005 knew nothing of what served (0014's columns) nor of the report facts and the standing
    # row (0018's): the rest is the same.
    reach = (
        "confirmed_address",
        "by_reply",
        "standing",
        "owner_id",
        "dated_at",
        "time_to_service_us",
    )
    assert sorted(backfilled, key=lambda r: r["event_id"]) == [
        {k: v for k, v in row.items() if k not in reach} for row in written
    ]


async def test_migrating_from_0004_fills_the_projection(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    """The events recorded at revision 0004 (no projection yet) have their rows after 0005.
    (PostgreSQL only: on SQLite the downgrade cannot rebuild ``dispatches`` under the foreign
    keys of a populated database; the test above runs the same backfill there.)"""
    await keyed_population(api, ctx, clock)
    written = await _projection(ctx)
    await downgrade_to(ctx.engine, "0004")
    try:
        async with ctx.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "service_outcomes" not in tables
    finally:
        await upgrade(ctx.engine)  # back to head, for the tests after this one
    assert await _projection(ctx) == written


@pytest.mark.both_databases
async def test_migration_0018_fills_what_the_unit_of_work_writes(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    """Rows written before 0018 get the report facts, the standing mark and the owner that
    the unit of work now writes with each row (PostgreSQL computes them in SQL, SQLite in
    Python: both are checked)."""
    await keyed_population(api, ctx, clock)
    written = await _projection(ctx)
    assert any(r["standing"] and r["owner_id"] for r in written)
    await downgrade_to(ctx.engine, "0017")
    try:
        columns = await column_names(ctx.engine, "service_outcomes")
        assert "standing" not in columns and "dated_at" not in columns
    finally:
        await upgrade(ctx.engine)
    assert await _projection(ctx) == written
