"""What moved the e-service rate: the report counts the services at an address the recipient
confirmed in a signed form (CPL-INT-136/137) and those the recipient's reply completed (OLR-31,
docs/decisions/0042) — in the API, the CSV and the page, in both languages — from real
dispatches served by the worker; and migration 0014 fills the same facts for services recorded
before it.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import settled
from helpers import log_in, reply_message, signed_form, staff_account

from delivery.staff import Role
from delivery.storage.address_confirmations import ConfirmedAddress
from delivery.storage.migrate import upgrade
from delivery.storage.schema import service_outcomes
from delivery.vocabulary import ContactKind
from integration.delivery.support import column_names, downgrade_to

pytestmark = [pytest.mark.usefixtures("worker")]
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
CONFIRMED_CASE = "(2026)浙0106民初1234号"  # dispatch_body's case number
OTHER_CASE = "(2026)浙0106民初5678号"


async def _served_at_a_confirmed_address(api: Api) -> str:
    """A form signed in the case (answering an earlier dispatch), then the next dispatch."""
    earlier = await api.new_dispatch(reference="earlier", source="court_found", consent=False)
    confirmed = ConfirmedAddress(ContactKind.EMAIL, "confirmed@example.com")
    await signed_form(api, earlier["id"], CONFIRMED_CASE, [confirmed])
    created = await api.new_dispatch(reference="next", source="court_found", consent=False)
    await api.until_state(created["id"], "served")
    return str(created["id"])


async def _served_by_reply(api: Api, bounce_processor: dict[str, str]) -> str:
    body = await api.new_dispatch_body(reference="replied", source="court_found")
    body["case_number"] = OTHER_CASE
    created = await api.create(body)
    sent = await api.until(
        created["id"], lambda d: d["attempts"] and d["attempts"][0]["state"] == "sent"
    )
    await settled(api.ctx)
    api.ctx.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    response = await api.client.post(
        "/api/v1/replies",
        data=reply_message(sent["attempts"][0]["provider_ref"]),
        headers={**bounce_processor, "Content-Type": "message/rfc822"},
    )
    assert response.status == 200, await response.text()
    await api.until_state(created["id"], "served")
    return str(created["id"])


async def _served_plainly(api: Api) -> str:
    body = await api.new_dispatch_body(reference="plain")
    body["case_number"] = OTHER_CASE
    created = await api.create(body)
    await api.until_state(created["id"], "served")
    return str(created["id"])


async def _projection(api: Api) -> list[dict[str, Any]]:
    async with api.ctx.engine.connect() as conn:
        query = sa.select(service_outcomes).order_by(service_outcomes.c.event_id)
        return [dict(r) for r in (await conn.execute(query)).mappings()]


async def test_services_after_confirmation_and_by_reply_are_counted(
    api: Api, bounce_processor: dict[str, str], smtp_sink: Any
) -> None:
    confirmed = await _served_at_a_confirmed_address(api)
    replied = await _served_by_reply(api, bounce_processor)
    plain = await _served_plainly(api)
    await settled(api.ctx)
    reach = {
        r["dispatch_id"]: (r["confirmed_address"], r["by_reply"])
        for r in await _projection(api)
        if r["type"] == "dispatch_served"
    }
    assert reach == {confirmed: (True, False), replied: (False, True), plain: (False, False)}

    response = await api.client.get("/api/v1/reports/service", params=PERIOD, headers=api.auth)
    assert response.status == 200, await response.text()
    body = await response.json()
    totals = body["totals"]
    assert (totals["served"], totals["served_electronically"]) == (3, 3)
    assert (totals["served_after_confirmation"], totals["served_by_reply"]) == (1, 1)
    assert set(body["definitions"]) >= {"served_after_confirmation", "served_by_reply"}

    csv_response = await api.client.get(
        "/api/v1/reports/service.csv", params=PERIOD, headers=api.auth
    )
    header, *rows = csv.reader(io.StringIO((await csv_response.read()).decode("utf-8-sig")))
    total = dict(zip(header, rows[-1], strict=True))
    assert (total["served_after_confirmation"], total["served_by_reply"]) == ("1", "1")

    supervisor, password = await staff_account(api.ctx, Role.SUPERVISOR)
    await log_in(api.client, supervisor.username, password)
    for lang, words in (
        ("zh-CN", ("确认地址后送达", "经回复送达")),
        ("en", ("Served after address confirmation", "Served by reply")),
    ):
        page = await api.client.get("/staff/reports", params={**PERIOD, "lang": lang})
        html = await page.text()
        assert all(w in html for w in words), lang
        row = html.split('data-key="total">', 1)[1].split("</tr>", 1)[0]
        cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
        assert cells[7:9] == ["1", "1"]


async def test_migration_0014_fills_what_served_for_earlier_services(
    api: Api, bounce_processor: dict[str, str], smtp_sink: Any
) -> None:
    await _served_at_a_confirmed_address(api)
    await _served_by_reply(api, bounce_processor)
    await settled(api.ctx)
    written = await _projection(api)
    assert any(r["confirmed_address"] for r in written) and any(r["by_reply"] for r in written)
    await downgrade_to(api.ctx.engine, "0013")
    try:
        assert "by_reply" not in await column_names(api.ctx.engine, "service_outcomes")
    finally:
        await upgrade(api.ctx.engine)
    assert await _projection(api) == written
