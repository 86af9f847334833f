"""The public verification page (/verify) and "is this notice genuine?" (/check, notice codes).

Issue 5, items 5 and 6: the QR targets of certificates and letters show the court's record of
service and whether a hash matches it, never personal data, and every e-mail, SMS and letter
carries a notice code that /check answers with the court and case number — nothing more.
"""

from __future__ import annotations

import email
import email.policy
import io
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import COURT, settled
from pypdf import PdfReader
from standins import Post

from delivery.ids import new_id
from delivery.sandbox.pages import SmtpSink
from delivery.storage.schema import attempts, certificates, notice_codes
from tracking.notice_codes import ALPHABET, display, normalise
from tracking.verification import verification_path

pytestmark = pytest.mark.usefixtures("worker")
CASE = "(2026)浙0106民初1234号"
ID_NUMBER = "33010619900101123X"
PHONE = "+8613800138000"
EMAIL = "zhang.san@example.com"
ADDRESS = "浙江省杭州市西湖区文三路100号"
# What must never appear on a public page: the recipient's identity, contacts and name.
PERSONAL = (ID_NUMBER, "123X", PHONE, "13800138000", "8000", EMAIL, "zhang.san", ADDRESS, "张三")


async def _served(api: Api) -> dict[str, Any]:
    """A dispatch served by e-mail to a confirmed address, with a phone and a postal address."""
    body = await api.new_dispatch_body()
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    body["recipient"]["postal_addresses"] = [
        {"lines": ADDRESS, "postcode": "310012", "source": "court_found"}
    ]
    created = await api.create(body)
    served = await api.until_state(created["id"], "served")
    await settled(api.ctx)
    return served


async def _served_hash(api: Api, dispatch_id: str) -> str:
    events = [e for e in await api.events(dispatch_id) if e.type == "dispatch_served"]
    return events[-1].hash


async def _codes(api: Api, dispatch_id: str) -> dict[str, str]:
    """The dispatch's notice codes by attempt id."""
    async with api.ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(notice_codes.c.attempt_id, notice_codes.c.code).where(
                notice_codes.c.dispatch_id == dispatch_id
            )
        )
        return {r.attempt_id: r.code for r in rows}


async def _email_code(api: Api, dispatch: dict[str, Any]) -> str:
    [attempt] = [a for a in dispatch["attempts"] if a["channel"] == "email"]
    return (await _codes(api, dispatch["id"]))[attempt["id"]]


async def _page(api: Api, path: str) -> tuple[int, str]:
    response = await api.client.get(path)
    return response.status, await response.text()


def _no_personal_data(html: str) -> None:
    for value in PERSONAL:
        assert value not in html, value


# --- /verify ---


@pytest.mark.both_databases
async def test_verify_page_for_a_served_dispatch(api: Api, smtp_sink: SmtpSink) -> None:
    served = await _served(api)
    dispatch_id = served["id"]
    head = await _served_hash(api, dispatch_id)

    status, html = await _page(api, f"/verify/{dispatch_id}?h={head}")
    assert status == 200
    assert "哈希值与当前送达记录相符" in html
    assert COURT in html and CASE in html and "民事起诉状" in html
    assert "电子邮件" in html and served["service_date"] in html
    _no_personal_data(html)

    status, en = await _page(api, f"/verify/{dispatch_id}?h={head.upper()}&lang=en")
    assert status == 200
    assert "The hash matches the current record." in en
    assert "electronic service (e-mail)" in en and served["service_date"] in en
    _no_personal_data(en)

    # A wrong hash, an unknown dispatch, a malformed id or hash, a wrong tag: one neutral page.
    wrong = await _page(api, f"/verify/{dispatch_id}?h={'0' * 64}")
    assert wrong[0] == 404 and "均不相符" in wrong[1] and CASE not in wrong[1]
    unknown = await _page(api, f"/verify/{new_id()}?h={head}")
    bad_tag = await _page(api, f"/verify/{dispatch_id}.{'0' * 20}")
    other_tag = await _page(api, verification_path(api.ctx.settings.secret_key, new_id()))
    malformed = [
        await _page(api, f"/verify/{dispatch_id}"),
        await _page(api, f"/verify/{dispatch_id}?h=xyz"),
        await _page(api, "/verify/not-an-id?h=" + head),
        await _page(api, f"/verify/{dispatch_id}.short"),
    ]
    assert unknown == bad_tag == wrong == other_tag
    assert all(page == wrong for page in malformed)


async def test_the_letters_tag_address_works(api: Api, smtp_sink: SmtpSink) -> None:
    served = await _served(api)
    path = verification_path(api.ctx.settings.secret_key, served["id"])
    status, html = await _page(api, path)
    assert status == 200
    assert COURT in html and CASE in html and "民事起诉状" in html
    assert served["service_date"] in html and "matches" not in html  # no hash asked about
    _no_personal_data(html)
    status, en = await _page(api, path + "?lang=en")
    assert status == 200 and "Verification of service" in en


async def test_a_reversed_service_matches_a_superseded_certificate(
    api: Api, smtp_sink: SmtpSink
) -> None:
    served = await _served(api)
    dispatch_id = served["id"]
    head = await _served_hash(api, dispatch_id)
    rebut = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": "record_rebuttal", "reason": "not_their_address", "note": "核实"},
        headers=api.auth,
    )
    assert rebut.status == 200, await rebut.text()
    await settled(api.ctx)
    status, html = await _page(api, f"/verify/{dispatch_id}?h={head}&lang=en")
    assert status == 200
    assert "matches a superseded certificate" in html
    assert "matches the current record" not in html
    assert "Service is currently not recorded as complete." in html
    _no_personal_data(html)


async def test_certificates_chain_heads_are_matched(api: Api, smtp_sink: SmtpSink) -> None:
    """Once certificates exist, their pinned chain heads are what the QR codes carry: a current
    certificate matches the current record, a superseded one says so."""
    served = await _served(api)
    dispatch_id = served["id"]
    events = await api.events(dispatch_id)
    served_event = next(e for e in events if e.type == "dispatch_served")
    old_head, new_head = "ab" * 32, served_event.hash
    now = api.ctx.clock.now()
    common = {
        "dispatch_id": dispatch_id,
        "locale": "zh-CN",
        "sha256": "c" * 64,
        "size": 1,
        "served_at": now,
        "service_date": now.date(),
        "legal_basis": "OLR-31",
        "created_at": now,
    }
    old_id = new_id()
    # Stand-ins (a superseded head and the current one) in place of the rendered certificate.
    await api.until(
        dispatch_id, lambda d: any(e["type"] == "certificate_issued" for e in d["events"])
    )
    await settled(api.ctx)
    async with api.ctx.engine.begin() as conn:
        await conn.execute(certificates.delete().where(certificates.c.dispatch_id == dispatch_id))
        await conn.execute(
            certificates.insert(),
            [
                {
                    **common,
                    "id": old_id,
                    "chain_head": old_head,
                    "chain_seq": served_event.seq,
                    "superseded_at": now,
                    "supersedes_id": None,
                },
                {
                    **common,
                    "id": new_id(),
                    "chain_head": new_head,
                    "chain_seq": served_event.seq + 1,
                    "superseded_at": None,
                    "supersedes_id": old_id,
                },
            ],
        )
    status, current = await _page(api, f"/verify/{dispatch_id}?h={new_head}&lang=en")
    assert status == 200 and "matches the current record" in current
    status, superseded = await _page(api, f"/verify/{dispatch_id}?h={old_head}&lang=en")
    assert status == 200 and "matches a superseded certificate" in superseded


# --- Notice codes on every message and letter ---


def test_codes_are_unambiguous_and_typed_loosely() -> None:
    assert not set("01IO") & set(ALPHABET) and len(ALPHABET) == 32
    assert normalise("abcd-2345") == normalise(" ABCD 2345 ") == normalise("ＡＢＣＤ－２３４５")
    assert normalise("ABCD2345") == "ABCD2345" and display("ABCD2345") == "ABCD-2345"
    assert normalise("ABCD-234O") is None and normalise("ABC") is None


async def test_every_attempt_gets_its_own_code(api: Api, smtp_sink: SmtpSink) -> None:
    served = await _served(api)
    body = await api.new_dispatch_body(reference="second")
    second = await api.create(body)
    await api.until_state(second["id"], "served")
    codes = await _codes(api, served["id"]) | await _codes(api, second["id"])
    async with api.ctx.engine.connect() as conn:
        all_attempts = set(await conn.scalars(sa.select(attempts.c.id)))
    assert set(codes) == all_attempts  # one code per attempt
    assert len(set(codes.values())) == len(codes)  # unique
    assert all(normalise(c) == c for c in codes.values())


async def test_the_e_mail_carries_the_notice_code(api: Api, smtp_sink: SmtpSink) -> None:
    raws: list[bytes] = []
    original = smtp_sink.handle_DATA

    async def keep(server: Any, session: Any, envelope: Any) -> str:
        raws.append(envelope.original_content or envelope.content)
        return await original(server, session, envelope)

    smtp_sink.handle_DATA = keep  # type: ignore[method-assign]
    served = await _served(api)
    code = await _email_code(api, served)
    [message] = smtp_sink.messages
    assert display(code) in message.text and "http://songda.test/check" in message.text
    parsed = email.message_from_bytes(raws[0], policy=email.policy.default)
    html = parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert display(code) in html and "http://songda.test/check" in html


async def test_the_sms_carries_the_notice_code(
    api: Api, sms_standin: Any, smtp_sink: SmtpSink
) -> None:
    fake, channel = sms_standin
    api.ctx.channels["sms"] = channel
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": PHONE, "source": "recipient_confirmed"}]
    created = await api.create(body)
    dispatch = await api.until(created["id"], lambda d: len(fake.messages) == 1)
    sms_attempt = next(a for a in dispatch["attempts"] if a["channel"] == "sms")
    code = (await _codes(api, created["id"]))[sms_attempt["id"]]
    text = fake.messages[0]["body"]
    assert display(code) in text and "songda.test/check" in text


async def test_the_mail_piece_carries_the_notice_code(post: Post) -> None:
    api = post.api
    dispatch_id = await post.dispatch()
    await post.posted(dispatch_id)
    [attempt] = (await api.dispatch(dispatch_id))["attempts"]
    code = (await _codes(api, dispatch_id))[attempt["id"]]
    url = f"/api/v1/dispatches/{dispatch_id}/attempts/{attempt['id']}/mail-piece.pdf"
    response = await api.client.get(url, headers=api.auth)
    assert response.status == 200
    reader = PdfReader(io.BytesIO(await response.read()))
    assert len(reader.pages) == 3
    text = "".join(page.extract_text() for page in reader.pages)
    assert display(code) in text and "http://songda.test/check" in text


# --- /check ---


async def _check(api: Api, code: str, last4: str, **extra: str) -> tuple[int, str]:
    response = await api.client.post("/check", data={"code": code, "last4": last4, **extra})
    return response.status, await response.text()


@pytest.mark.both_databases
async def test_check_answers_court_and_case_number_only(api: Api, smtp_sink: SmtpSink) -> None:
    served = await _served(api)
    code = await _email_code(api, served)

    status, form = await _page(api, "/check")
    assert status == 200 and 'action="/check"' in form and 'method="post"' in form

    for typed, last4 in [
        (display(code), "123X"),  # identity number
        (display(code).lower(), "123x"),
        (code, "8000"),  # the phone's last 4 digits
    ]:
        status, html = await _check(api, typed, last4)
        assert status == 200
        assert "该通知真实有效" in html and COURT in html and CASE in html
        _no_personal_data(html)
        assert served["service_date"] not in html and "民事起诉状" not in html

    status, en = await _check(api, code, "123X", lang="en")
    assert "This notice is genuine." in en and CASE in en

    wrong_digits = await _check(api, code, "9999")
    other = code[:-1] + ("2" if code[-1] != "2" else "3")
    unknown_code = await _check(api, other, "123X")
    malformed = await _check(api, "nonsense", "123X")
    assert wrong_digits == unknown_code == malformed
    assert wrong_digits[0] == 200 and "查无此通知" in wrong_digits[1]
    assert CASE not in wrong_digits[1]


async def test_check_is_rate_limited_per_client(api: Api, smtp_sink: SmtpSink) -> None:
    for _ in range(10):
        status, _html = await _check(api, "ABCD-2345", "0000")
        assert status == 200
    response = await api.client.post("/check", data={"code": "ABCD-2345", "last4": "0000"})
    assert response.status == 429
    assert int(response.headers["Retry-After"]) == 15 * 60
    assert "尝试次数过多" in await response.text()
    assert (await _page(api, "/check"))[0] == 200  # the form itself is not counted

    api.ctx.clock.advance(timedelta(minutes=14))  # type: ignore[attr-defined]
    assert (await _check(api, "ABCD-2345", "0000"))[0] == 429
    api.ctx.clock.advance(timedelta(minutes=1, seconds=1))  # type: ignore[attr-defined]
    assert (await _check(api, "ABCD-2345", "0000"))[0] == 200


async def test_forwarded_for_is_used_only_when_configured(api: Api, smtp_sink: SmtpSink) -> None:
    import dataclasses

    from aiohttp.test_utils import make_mocked_request

    from delivery.api.http.rate_limit import client_address

    request = make_mocked_request(
        "POST", "/check", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    )
    settings = api.ctx.settings
    assert client_address(request, settings) != "198.51.100.7"
    trusting = dataclasses.replace(settings, trust_x_forwarded_for=True)
    assert client_address(request, trusting) == "198.51.100.7"
