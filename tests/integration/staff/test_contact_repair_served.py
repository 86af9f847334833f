"""ICP-16 end to end: the e-mail address a platform found for the party re-opens the electronic
step while the post is under way; the recipient reads there after the identity check, which
serves (OLR-31, court-found: read) — and the certificate names who found the address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_client import Api
from conftest import eventually, settled
from helpers import link_path, proof_form
from pdf_checks import scan_pdf

from delivery.sandbox.pages import SmtpSink
from integration.tracking.support import issued, proof, text_of

pytestmark = [pytest.mark.usefixtures("worker")]
FOUND = "zhangsan.found@example.cn"


async def test_a_repaired_address_serves_and_the_certificate_names_its_source(
    api: Api, smtp_sink: SmtpSink
) -> None:
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["postal_addresses"] = [
        {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}
    ]
    created = await api.create(body)
    dispatch_id = created["id"]
    await api.until_attempt(dispatch_id, "sent")
    await settled(api.ctx)
    url = f"/api/v1/dispatches/{dispatch_id}/actions"
    note = {"note": "邮件无回应 / no answer by e-mail"}
    escalated = await api.client.post(url, json={"action": "escalate", **note}, headers=api.auth)
    assert escalated.status == 200 and (await escalated.json())["step"] == 1

    today = api.ctx.clock.now().astimezone(api.ctx.settings.zone).date()
    fields = {
        "action": "repair_contact",
        "note": "失联修复 / found by the platform",
        "kind": "email",
        "value": FOUND,
        "supplied_by": "某电商平台",
        "query_reference": "PLAT-7781",
        "active_on": (today - timedelta(days=30)).isoformat(),
    }
    repaired = await api.client.post(url, data=proof_form(fields, scan_pdf()), headers=api.auth)
    assert repaired.status == 200, await repaired.text()

    async def message_to_found() -> object:
        return next((m for m in smtp_sink.messages if m.to == [FOUND]), None)

    message = await eventually(message_to_found)
    await settled(api.ctx)
    path = link_path(message.text)  # type: ignore[attr-defined]
    # The recipient opens the link and passes the identity check (the last 4 of the id number).
    assert (await api.client.get(path)).status == 200
    verify = await api.client.post(f"{path}/verify", data={"last4": "123X"}, allow_redirects=False)
    assert verify.status == 303, await verify.text()
    assert (await api.client.get(path)).status == 200
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "OLR-31"
    [used] = [a for a in served["attempts"] if a["state"] == "read"]
    assert (used["channel"], used["step"], used["source"]) == ("email", 0, "court_found")

    await issued(api, dispatch_id)
    text = text_of(await (await proof(api, dispatch_id)).read())
    assert "某电商平台" in text and "PLAT-7781" in text
