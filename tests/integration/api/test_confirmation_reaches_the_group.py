"""The whole of CPL-INT-136/137 in one path: the recipient signs the address confirmation form
online in the first instance; the case system links the appeal to it; the appeal's first
dispatch to the same person is sent to the confirmed address and served on sending (OLR-31 with
CPL-INT-135), its evidence naming the signed form whose PDF is in the first dispatch's chain."""

from __future__ import annotations

import pytest
from api_client import Api
from conftest import settled
from helpers import confirmation_link

from delivery.sandbox.pages import SmtpSink
from tracking.chain import verify_chain

pytestmark = [pytest.mark.usefixtures("worker")]
FIRST = "(2026)浙0106民初1234号"  # api_client's dispatch_body
APPEAL = "(2026)浙01民终77号"
FORM = {
    "phone": "13800138001",
    "email": "zhangsan.confirmed@example.com",
    "postal": "杭州市西湖区文三路2号",
    "postcode": "310012",
    "consent": "yes",
    "signer_name": "张三",
    "confirm": "yes",
}


async def test_a_form_signed_online_serves_the_appeal_on_sending(
    api: Api, smtp_sink: SmtpSink
) -> None:
    linked = await api.client.put(
        "/api/v1/case-groups/grp-online",
        json={
            "court": api.ctx.settings.court_name,
            "cases": [{"case_number": FIRST}, {"case_number": APPEAL}],
        },
        headers=api.auth,
    )
    assert linked.status == 201, await linked.text()
    first = await api.new_dispatch(source="court_found", reference="first-instance")
    await api.until_attempt(first["id"], "sent")
    await settled(api.ctx)
    path = await confirmation_link(api, smtp_sink, first["id"])
    verified = await api.client.post(f"{path}/verify", data={"last4": "123X"})
    assert verified.status == 200
    signed = await api.client.post(path, data=FORM, allow_redirects=False)
    assert signed.status == 303
    [confirmed] = [e for e in await api.events(first["id"]) if e.type == "address_confirmed"]

    body = await api.new_dispatch_body(source="court_found", consent=False, reference="appeal")
    body["case_number"] = APPEAL
    created = await api.create(body)
    served = await api.until_state(created["id"], "served")

    [applied] = [
        e for e in await api.events(created["id"]) if e.type == "confirmed_addresses_applied"
    ]
    assert applied.data["form_sha256"] == confirmed.data["form_sha256"]
    assert applied.data["confirmed_in_case"] == FIRST
    contacts = served["recipient"]["contacts"]
    confirmed_contacts = [c for c in contacts if c["source"] == "recipient_confirmed"]
    assert {c["kind"] for c in confirmed_contacts} == {"phone", "email", "postal"}
    assert all(
        c["confirmation"]["form_sha256"] == confirmed.data["form_sha256"]
        for c in confirmed_contacts
    )
    assert served["recipient"]["e_service_consent"] == {"given": True, "basis": "express"}
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "email")
    assert any(FORM["email"] in m.to for m in smtp_sink.messages)
    assert verify_chain(await api.events(created["id"])).valid
