"""ICP-16 contact repair through the API: a number a carrier reports the party used lately,
recorded with its evidence and the carrier's reply, re-opens the electronic step for it; a stale
one, or one without its evidence, is a 422 naming the field and records nothing. A carrier's
results come as CSV too: every row recorded, or (one row wrong) none. The staff
dispatch page has the same action as a labelled multipart form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import settled
from helpers import log_in, proof_form, staff_account
from pdf_checks import scan_pdf

from delivery.storage.schema import media_files

pytestmark = [pytest.mark.usefixtures("worker")]
NUMBER = "+8613800138000"


def _fields(api: Api, **changes: str | None) -> dict[str, str]:
    today = api.ctx.clock.now().astimezone(api.ctx.settings.zone).date()
    fields: dict[str, str | None] = {
        "action": "repair_contact",
        "note": "失联修复 / the carrier found the number",
        "kind": "phone",
        "value": NUMBER,
        "supplied_by": "中国移动浙江分公司",
        "query_reference": "ZJ-2026-0042",
        "active_on": (today - timedelta(days=20)).isoformat(),
        **changes,
    }
    return {k: v for k, v in fields.items() if v is not None}


async def _repair(api: Api, dispatch_id: str, fields: dict[str, str], reply: bool = True) -> Any:
    form = proof_form(fields, scan_pdf() if reply else None, filename="reply.pdf")
    return await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions", data=form, headers=api.auth
    )


async def _replies(api: Api, dispatch_id: str) -> list[dict[str, Any]]:
    async with api.ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(media_files).where(
                media_files.c.dispatch_id == dispatch_id,
                media_files.c.purpose == "contact_repair_reply",
            )
        )
        return [dict(r) for r in rows.mappings()]


async def _in_postal_step(api: Api) -> str:
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["postal_addresses"] = [
        {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}
    ]
    created = await api.create(body)
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    escalated = await api.client.post(
        f"/api/v1/dispatches/{created['id']}/actions",
        json={"action": "escalate", "note": "邮件无回应 / no answer by e-mail"},
        headers=api.auth,
    )
    assert escalated.status == 200, await escalated.text()
    assert (await escalated.json())["step"] == 1
    return str(created["id"])


async def test_a_repaired_number_reopens_the_electronic_step(api: Api) -> None:
    dispatch_id = await _in_postal_step(api)
    response = await _repair(api, dispatch_id, _fields(api))
    assert response.status == 200, await response.text()
    dispatch = await response.json()

    [contact] = [c for c in dispatch["recipient"]["contacts"] if c["kind"] == "phone"]
    assert contact["source"] == "court_found"
    [sms] = [a for a in dispatch["attempts"] if a["channel"] == "sms"]
    assert sms["step"] == 0 and sms["source"] == "court_found"
    [event] = [e for e in dispatch["events"] if e["type"] == "contact_added"]
    repair = event["data"]["repair"]
    assert repair["supplied_by"] == "中国移动浙江分公司"
    assert repair["query_reference"] == "ZJ-2026-0042"
    [reply] = await _replies(api, dispatch_id)
    assert repair["reply"]["sha256"] == reply["sha256"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"active_on": "2020-01-01"}, "active_on"),  # older than 3 months (ICP-16)
        ({"active_on": None}, "active_on"),
        ({"supplied_by": None}, "supplied_by"),
        ({"query_reference": ""}, "query_reference"),
        ({"kind": "postal"}, "kind"),
        ({"value": "0571-87654321"}, "value"),  # a landline
    ],
)
async def test_a_stale_or_unproven_contact_is_refused(
    api: Api, changes: dict[str, str | None], field: str
) -> None:
    created = await api.new_dispatch(source="court_found")  # open until the recipient checks
    response = await _repair(api, created["id"], _fields(api, **changes))
    assert response.status == 422, await response.text()
    problem = await response.json()
    assert [e["field"] for e in problem["errors"]] == [field]
    if field == "active_on" and changes["active_on"]:
        assert "ICP-16" in problem["errors"][0]["message"]
    assert await _replies(api, created["id"]) == []


async def test_the_reply_document_is_required(api: Api) -> None:
    created = await api.new_dispatch(source="court_found")
    response = await _repair(api, created["id"], _fields(api), reply=False)
    assert response.status == 422
    assert [e["field"] for e in (await response.json())["errors"]] == ["scan"]
    dispatch = await api.dispatch(created["id"])
    assert not [e for e in dispatch["events"] if e["type"] == "contact_added"]


async def _page(api: Api, dispatch_id: str) -> tuple[str, str]:
    user, password = await staff_account(api.ctx)
    csrf = await log_in(api.client, user.username, password)
    page = await api.client.get(f"/staff/dispatches/{dispatch_id}")
    assert page.status == 200
    return csrf, await page.text()


async def test_the_dispatch_page_records_a_repaired_contact(api: Api) -> None:
    dispatch_id = await _in_postal_step(api)
    csrf, page = await _page(api, dispatch_id)
    start = page.rindex("<form", 0, page.index('data-action="repair_contact"'))
    form = page[start : page.index("</form>", start)]
    assert 'enctype="multipart/form-data"' in form
    today = api.ctx.clock.now().astimezone(api.ctx.settings.zone).date()
    assert f'max="{today.isoformat()}"' in form
    assert "<label>查询编号 <input" in form  # the words are the catalogue's, in the page's language
    for name in ("supplied_by", "query_reference", "scan"):
        assert f'name="{name}" required' in form
    for name in ("value", "supplied_by", "query_reference", "active_on", "scan", "rows"):
        # every input sits inside its label (a11y: labelled inputs)
        before = form[: form.index(f'name="{name}"')]
        assert before.rindex("<label>") > before.rindex("</label>")

    url = f"/staff/dispatches/{dispatch_id}/actions"
    stale = proof_form({"csrf_token": csrf, **_fields(api, active_on="2020-01-01")}, scan_pdf())
    refused = await api.client.post(url, data=stale)
    assert refused.status == 422
    html = await refused.text()
    assert "ICP-16" in html and "超过 3 个月" in html  # the reason, in the page's language
    assert 'aria-invalid="true"' in html.split('name="active_on"')[1].split(">")[0]
    assert 'value="中国移动浙江分公司"' in html  # the form comes back filled in
    assert await _replies(api, dispatch_id) == []

    fields = {"csrf_token": csrf, **_fields(api)}
    done = await api.client.post(url, data=proof_form(fields, scan_pdf()), allow_redirects=False)
    assert done.status == 303, await done.text()
    dispatch = await api.dispatch(dispatch_id)
    assert [a["step"] for a in dispatch["attempts"] if a["channel"] == "sms"] == [0]
    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert "ZJ-2026-0042" in page  # the timeline names the source


def _with_rows(fields: dict[str, str], csv_text: str, encoding: str = "utf-8") -> Any:
    form = proof_form(fields, scan_pdf(), filename="reply.pdf")
    form.add_field(
        "rows", csv_text.encode(encoding), filename="results.csv", content_type="text/csv"
    )
    return form


async def test_a_carriers_csv_records_every_row_or_none(api: Api) -> None:
    dispatch_id = await _in_postal_step(api)
    today = api.ctx.clock.now().astimezone(api.ctx.settings.zone).date()
    fresh, stale = (today - timedelta(days=5)).isoformat(), "2020-01-01"
    fields = {k: v for k, v in _fields(api).items() if k not in ("kind", "value", "active_on")}
    url = f"/api/v1/dispatches/{dispatch_id}/actions"
    bad = f"kind,value,date\nphone,{NUMBER},{fresh}\nemail,old@example.cn,{stale}\n"
    refused = await api.client.post(url, data=_with_rows(fields, bad), headers=api.auth)
    assert refused.status == 422
    [error] = (await refused.json())["errors"]
    assert error["field"] == "rows[3].date" and "ICP-16" in error["message"]
    assert await _replies(api, dispatch_id) == []

    rows = [f"phone,{NUMBER},{fresh}", f"email,zhangsan@example.cn,{fresh}", ",,"]  # a blank row
    good = "\r\n".join(["kind,value,date", *rows, ""])
    done = await api.client.post(url, data=_with_rows(fields, good, "utf-8-sig"), headers=api.auth)
    assert done.status == 200, await done.text()
    dispatch = await done.json()
    repaired = [e for e in dispatch["events"] if e["type"] == "contact_added"]
    assert sorted(e["data"]["kind"] for e in repaired) == ["email", "phone"]
    assert {e["data"]["repair"]["query_reference"] for e in repaired} == {"ZJ-2026-0042"}
    reopened = {a["channel"]: a["step"] for a in dispatch["attempts"] if a["step"] == 0}
    assert reopened.get("sms") == 0
    assert len(await _replies(api, dispatch_id)) == 1  # one reply document for the file
