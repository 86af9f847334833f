"""The address confirmation form online (送达地址确认书, CPL-INT-136), end to end: a clerk's
request through the API sends the signed link by e-mail; behind the identity check the recipient
corrects their addresses, consents and signs; wrong fields are named in their language and
nothing is saved; the signed form is a court-signed PDF in media_files whose digest is in the
chain; the addresses become recipient_confirmed contacts naming the form, consent is express,
and a dispatch in the postal step re-opens e-mail, now served when sent (OLR-31, CPL-INT-135).
A second submit records nothing more; wrong answers lock the link until it is re-issued; a
wrong, expired or re-issued link reveals nothing."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import RECIPIENT_EMAIL, Api
from conftest import settled
from helpers import CONFIRMATION_LINK_RE, confirmation_link
from pdf_checks import court_root, validate_signature
from pypdf import PdfReader
from standins import Post

from delivery.sandbox.pages import SmtpSink
from delivery.storage.schema import address_confirmations, contacts, dispatches, media_files

pytestmark = [pytest.mark.usefixtures("worker")]
NEW_EMAIL = "zhangsan.new@example.com"
VALID = {
    "phone": "13800138001",
    "email": NEW_EMAIL,
    "postal": "杭州市西湖区文三路2号",
    "postcode": "310012",
    "consent": "yes",
    "signer_name": "张三",
    "confirm": "yes",
}


async def _in_postal_step(api: Api) -> str:
    """A dispatch whose court-found e-mail went unanswered: escalated to the post."""
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["postal_addresses"] = [
        {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "court_found"}
    ]
    created = await api.create(body)
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    escalated = await _action(api, created["id"], "escalate")
    assert escalated.status == 200, await escalated.text()
    return str(created["id"])


async def _action(api: Api, dispatch_id: str, action: str) -> Any:
    return await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": action, "note": "请确认送达地址 / please confirm"},
        headers=api.auth,
    )


async def _requested(api: Api, smtp_sink: SmtpSink) -> tuple[str, str]:
    """(dispatch id, link path) of a request sent by e-mail to a dispatch in the postal step."""
    dispatch_id = await _in_postal_step(api)
    path = await confirmation_link(api, smtp_sink, dispatch_id)
    assert smtp_sink.messages[-1].subject.startswith("【杭州市西湖区人民法院】请确认")
    return dispatch_id, path


async def _verified(api: Api, path: str) -> None:
    checked = await api.client.post(f"{path}/verify", data={"last4": "123X"}, allow_redirects=False)
    assert checked.status == 303


async def _rows(api: Api, table: sa.Table, dispatch_id: str) -> list[dict[str, Any]]:
    async with api.ctx.engine.connect() as conn:
        found = await conn.execute(sa.select(table).where(table.c.dispatch_id == dispatch_id))
        return [dict(r) for r in found.mappings()]


async def test_a_recipient_confirms_online_and_the_postal_step_reopens_e_mail(
    api: Api, smtp_sink: SmtpSink
) -> None:
    dispatch_id, path = await _requested(api, smtp_sink)
    types = await api.event_types(dispatch_id)
    assert "address_confirmation_requested" in types
    [sent] = [
        e for e in await api.events(dispatch_id) if e.type == "address_confirmation_request_sent"
    ]
    assert sent.data["channel"] == "email" and sent.data["outcome"] == "accepted"

    # Before the check: the case, nothing of the addresses.
    first = await api.client.get(path)
    assert first.status == 200
    page = await first.text()
    assert "身份核验" in page and "(2026)浙0106民初1234号" in page
    assert "example" not in page and "文三路" not in page
    wrong = await api.client.post(f"{path}/verify", data={"last4": "0000"})
    assert wrong.status == 401
    assert 'aria-invalid="true"' in await wrong.text()
    await _verified(api, path)
    form = await (await api.client.get(path)).text()
    # What the court has, masked (the check is 4 characters): to recognise, not to learn.
    assert "送达地址确认书" in form and "*三路1号" in form and "zh***@example.com" in form
    assert "文三路1号" not in form and RECIPIENT_EMAIL not in form
    assert re.search(r'<input id="postal"[^>]*value=""[^>]*aria-describedby="postal-known"', form)

    rows_before = await api.table_counts()
    bad = {**VALID, "phone": "12345", "email": "not-an-address", "signer_name": ""}
    bad.pop("consent")
    bad.pop("confirm")
    refused = await api.client.post(path, data=bad)
    assert refused.status == 422
    text = await refused.text()
    for field in ("phone", "email", "consent", "signer_name", "confirm"):
        assert f'id="{field}-error"' in text, field
    assert re.search(r'<input id="phone"[^>]*aria-invalid="true"', text)
    assert "请选择是否同意电子送达" in text
    english = await (await api.client.post(path, data={**bad, "lang": "en"})).text()
    assert "choose whether you agree to electronic service" in english.lower()
    assert "type your full name to sign" in english.lower()
    assert await api.table_counts() == rows_before  # nothing half-saved
    assert await _rows(api, address_confirmations, dispatch_id) == []

    signed = await api.client.post(path, data=VALID, allow_redirects=False)
    assert signed.status == 303
    again = await api.client.post(path, data=VALID, allow_redirects=False)  # a double click
    assert again.status == 303

    [row] = await _rows(api, address_confirmations, dispatch_id)
    assert row["consent_given"] and row["signer_name"] == "张三"
    assert [c["kind"] for c in row["contacts"]] == ["phone", "email", "postal"]
    [media] = [
        m
        for m in await _rows(api, media_files, dispatch_id)
        if m["purpose"] == "address_confirmation_form"
    ]
    assert media["id"] == row["form_media_id"] and media["sha256"] == row["form_sha256"]
    pdf = api.ctx.documents.path_for(row["form_sha256"]).read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == row["form_sha256"]
    status = await validate_signature(pdf, court_root(api.ctx.settings.keys_dir))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    [confirmed] = [e for e in await api.events(dispatch_id) if e.type == "address_confirmed"]
    assert confirmed.data["form_sha256"] == row["form_sha256"]
    assert confirmed.data["addresses"] == {"phone": 1, "email": 1, "postal": 1}
    assert NEW_EMAIL not in str(confirmed.data)

    stored = await _rows(api, contacts, dispatch_id)
    from_form = [c for c in stored if c["confirmation_id"] == row["id"]]
    assert {c["kind"] for c in from_form} == {"phone", "email", "postal"}
    assert {c["source"] for c in from_form} == {"recipient_confirmed"}
    async with api.ctx.engine.connect() as conn:
        basis = await conn.scalar(
            sa.select(dispatches.c.consent_basis).where(dispatches.c.id == dispatch_id)
        )
    assert basis == "express"

    # The postal step re-opened e-mail at the confirmed address: served on sending.
    served = await api.until_state(dispatch_id, "served")
    assert served["served_by_channel"] == "email"
    assert any(NEW_EMAIL in m.to for m in smtp_sink.messages)

    done = await (await api.client.get(path)).text()
    assert row["form_sha256"] in done
    download = await api.client.get(f"{path}/form.pdf")
    assert download.status == 200 and await download.read() == pdf


async def test_a_wrong_expired_or_reissued_link_reveals_nothing(
    api: Api, smtp_sink: SmtpSink
) -> None:
    dispatch_id, path = await _requested(api, smtp_sink)
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    for bad in (tampered, "/c/not-a-link"):
        response = await api.client.get(bad)
        assert response.status == 403
        assert "(2026)浙0106民初1234号" not in await response.text()
    for _ in range(4):
        assert (await api.client.post(f"{path}/verify", data={"last4": "0000"})).status == 401
    locked = await api.client.post(f"{path}/verify", data={"last4": "0000"})
    assert locked.status == 429 and "错误次数过多" in await locked.text()
    assert int(locked.headers["Retry-After"]) > 0  # the lock ends by itself
    refused = await api.client.post(f"{path}/verify", data={"last4": "123X"})
    assert refused.status == 429  # locked: even the right answer waits
    assert (await _action(api, dispatch_id, "request_address_confirmation")).status == 409
    api.ctx.clock.advance(timedelta(minutes=2))
    assert (await _action(api, dispatch_id, "request_address_confirmation")).status == 200
    reissued = await api.client.get(path)
    assert reissued.status == 410
    api.ctx.clock.advance(timedelta(days=api.ctx.settings.link_ttl_days + 1))
    newest = CONFIRMATION_LINK_RE.findall(smtp_sink.messages[-1].text)[-1]
    assert (await api.client.get(newest)).status == 410


async def test_the_first_letter_carries_the_form_as_a_qr_code(post: Post) -> None:
    """The first letter of a dispatch issues a link of its own (no message) and prints it as a
    QR code with a line in both languages."""
    api = post.api
    dispatch_id = await post.dispatch()
    await post.posted(dispatch_id)
    [requested] = [
        e for e in await api.events(dispatch_id) if e.type == "address_confirmation_requested"
    ]
    assert requested.data["via"] == "letter" and requested.data["messages"] == []
    attempt = next(a for a in (await api.dispatch(dispatch_id))["attempts"])
    url = f"/api/v1/dispatches/{dispatch_id}/attempts/{attempt['id']}/mail-piece.pdf"
    response = await api.client.get(url, headers=api.auth)
    assert response.status == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await response.read())).pages)
    assert "送达地址确认书" in text and "Address confirmation form" in text


async def test_the_request_goes_by_sms_too(
    api: Api, smtp_sink: SmtpSink, sms_standin: tuple[Any, Any]
) -> None:
    """A recipient with a mobile number gets the link by SMS as well, without a status
    callback (the message serves nothing); each message is its own evidence."""
    fake, channel = sms_standin
    api.ctx.channels["sms"] = channel
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    created = await api.create(body)
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    path = await confirmation_link(api, smtp_sink, created["id"])
    [sms] = [m for m in fake.messages if "/c/" in m["body"]]
    assert path in sms["body"] and sms["status_callback"] == ""
    sent = [
        e for e in await api.events(created["id"]) if e.type == "address_confirmation_request_sent"
    ]
    assert sorted(e.data["channel"] for e in sent) == ["email", "sms"]
    assert all(e.data["outcome"] == "accepted" for e in sent)


async def test_a_form_refusing_e_service_withdraws_consent_and_reopens_nothing(
    api: Api, smtp_sink: SmtpSink
) -> None:
    """Refused on the form (OLR-29/30, CPL-INT-136), e-service is withdrawn on the dispatch in
    the same transaction, whatever its basis was: the e-mail already sent goes on (court-found:
    only reading serves), the SMS still waiting for its channel is cancelled, and nothing starts
    at the new address. Fields left empty keep what the court has, now confirmed."""
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    created = await api.create(body)
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    path = await confirmation_link(api, smtp_sink, created["id"])
    await _verified(api, path)
    refused = {**VALID, "consent": "no", "phone": ""}
    assert (await api.client.post(path, data=refused, allow_redirects=False)).status == 303
    await settled(api.ctx)
    [row] = await _rows(api, address_confirmations, created["id"])
    assert not row["consent_given"]
    assert (row["contacts"][0]["kind"], row["contacts"][0]["value"]) == ("phone", "+8613800138000")
    dispatch = await api.dispatch(created["id"])
    assert dispatch["recipient"]["e_service_consent"] == {"given": False, "basis": None}
    states = {a["channel"]: (a["state"], a["reason"]) for a in dispatch["attempts"]}
    assert states == {"email": ("sent", None), "sms": ("cancelled", "no_e_service_consent")}
    [*_, withdrawn] = [e for e in await api.events(created["id"]) if e.type == "consent_recorded"]
    assert withdrawn.data == {
        "given": False,
        "basis": None,
        "previous_basis": "express",
        "confirmation_id": row["id"],
    }
