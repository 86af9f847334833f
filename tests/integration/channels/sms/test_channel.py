"""The SMS channel through the real twilio client against a loopback stand-in."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import settled
from helpers import code_link, service_message, without_redis
from standins import live_twilio
from twilio.request_validator import RequestValidator

from channels.sms.adapter import segments
from channels.sms.standin import SANDBOX_STATUSES, TwilioStandIn
from delivery.api.app import create_app
from delivery.channel_api import SendOutcome
from delivery.sandbox.pages import add_routes

MESSAGE = service_message("+8613800138000")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("法" * 70, 1),
        ("法" * 71, 2),
        ("法" * 134, 2),
        ("法" * 135, 3),
    ],
)
def test_segments_are_counted_as_carriers_count_them(text: str, parts: int) -> None:
    assert segments(text) == parts


async def test_a_message_goes_through_the_twilio_client(sms_standin: Any) -> None:
    fake, channel = sms_standin
    result = await channel.send(MESSAGE)
    assert result.outcome == SendOutcome.ACCEPTED
    [sent] = fake.messages
    assert result.provider_ref == sent["sid"]
    assert (sent["to"], sent["from"]) == ("+8613800138000", "+15005550006")
    assert "http://songda.test/r/token" in sent["body"] and "杭州市西湖区人民法院" in sent["body"]
    assert sent["status_callback"] == "http://songda.test/hooks/twilio/status"


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        ((400, 21211), SendOutcome.PERMANENT),
        ((400, 21610), SendOutcome.PERMANENT),
        ((429, 20429), SendOutcome.TRANSIENT),
        ((500, 20500), SendOutcome.TRANSIENT),
        ((401, 20003), SendOutcome.UNAVAILABLE),
    ],
)
async def test_twilio_errors_are_classified(
    sms_standin: Any, failure: tuple[int, int], outcome: SendOutcome
) -> None:
    fake, channel = sms_standin
    fake.fail_with = failure
    result = await channel.send(MESSAGE)
    assert result.outcome == outcome
    assert str(failure[1]) in result.detail
    # A 5xx may come after Twilio took the message: it stays Twilio's (docs/decisions/0045).
    assert result.unknown == (failure[0] >= 500)


@pytest.mark.usefixtures("worker")
async def test_e_mail_and_sms_go_out_together(api: Api, sms_standin: Any, smtp_sink: Any) -> None:
    fake, channel = sms_standin
    api.ctx.channels["sms"] = channel
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "recipient_confirmed"}]
    created = await api.create(body)

    def both_sent(d: dict[str, Any]) -> bool:
        return [a["state"] for a in d["attempts"]] == ["sent", "sent"]

    dispatch = await api.until(created["id"], both_sent)
    assert [a["channel"] for a in dispatch["attempts"]] == ["email", "sms"]
    assert dispatch["attempts"][1]["provider_ref"] == fake.messages[0]["sid"]
    assert dispatch["state"] == "in_progress"  # an SMS serves on "delivered", not on sending


def _signed(api: Api, params: dict[str, str], token: str = "test-token") -> dict[str, str]:
    url = f"{api.ctx.settings.public_base_url}/hooks/twilio/status"
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


@pytest.mark.usefixtures("worker")
async def test_delivered_to_a_confirmed_number_serves_and_callbacks_are_verified(
    api: Api, sms_standin: Any, smtp_sink: Any
) -> None:
    """OLR-31: an SMS to a recipient-confirmed number is served when the carrier reports it
    delivered; callbacks must carry Twilio's signature; repeats and late ones change nothing."""
    fake, channel = sms_standin
    settings = api.ctx.settings
    api.ctx.settings = dataclasses.replace(
        settings, twilio=dataclasses.replace(settings.twilio, auth_token="test-token")
    )
    api.ctx.channels["sms"] = channel
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "recipient_confirmed"}]
    created = await api.create(body)
    await api.until(
        created["id"], lambda d: len(fake.messages) == 1 and d["attempts"][-1]["state"] == "sent"
    )
    await settled(api.ctx)
    sid = fake.messages[0]["sid"]
    delivered = {"MessageSid": sid, "MessageStatus": "delivered"}

    before = await api.event_types(created["id"])
    forged = await api.client.post(
        "/hooks/twilio/status", data=delivered, headers=_signed(api, delivered, token="wrong")
    )
    assert forged.status == 403
    unsigned = await api.client.post("/hooks/twilio/status", data=delivered)
    assert unsigned.status == 403
    assert await api.event_types(created["id"]) == before

    ok = await api.client.post(
        "/hooks/twilio/status", data=delivered, headers=_signed(api, delivered)
    )
    assert ok.status == 200
    served = await api.until_state(created["id"], "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "sms")
    events = await api.event_types(created["id"])
    for late in (delivered, {"MessageSid": sid, "MessageStatus": "sent"}):
        again = await api.client.post("/hooks/twilio/status", data=late, headers=_signed(api, late))
        assert again.status == 200
    assert await api.event_types(created["id"]) == events


def _latest_code(fake: TwilioStandIn) -> str:
    match = re.search(r"(\d{6})", fake.messages[-1]["body"])
    assert match, fake.messages[-1]["body"]
    return match.group(1)


async def _post_code(api: Api, path: str, code: str) -> int:
    response = await api.client.post(f"{path}/verify", data={"code": code}, allow_redirects=False)
    return response.status


@pytest.mark.usefixtures("worker")
async def test_a_one_time_code_by_sms_opens_an_e_mail_link_once(
    api: Api, sms_standin: Any, smtp_sink: Any
) -> None:
    fake, _channel = sms_standin
    dispatch_id, path = await code_link(api, sms_standin, smtp_sink)
    page = await api.client.get(path)
    assert "发送验证码" in await page.text()
    sent = await api.client.post(f"{path}/code")
    assert sent.status == 200
    assert "已发送至 **********8000" in await sent.text()
    code = _latest_code(fake)
    wrong = "000000" if code != "000000" else "111111"
    assert await _post_code(api, path, wrong) == 401
    assert await _post_code(api, path, code) == 303
    served = await api.until_state(dispatch_id, "served")
    verified = next(e for e in served["events"] if e["type"] == "identity_verified")
    assert verified["data"]["method"] == "one_time_code"
    assert code not in str(served["events"])  # only a keyed digest is recorded
    assert await _post_code(api, path, code) == 401  # used once


@pytest.mark.usefixtures("worker")
async def test_expired_codes_and_the_shared_lock_out(
    api: Api, sms_standin: Any, smtp_sink: Any
) -> None:
    fake, _channel = sms_standin
    _dispatch_id, path = await code_link(api, sms_standin, smtp_sink)
    await api.client.post(f"{path}/code")
    code = _latest_code(fake)
    api.ctx.clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
    assert await _post_code(api, path, code) == 401  # expired
    statuses = [await _post_code(api, path, "123456") for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # five failures in 15 minutes lock the link
    refused = await api.client.post(f"{path}/code")
    assert refused.status == 409  # no code while locked


@pytest.mark.usefixtures("worker")
async def test_one_time_codes_are_capped_per_link_per_day(
    api: Api, sms_standin: Any, smtp_sink: Any
) -> None:
    """Issue 12: besides one a minute, at most SONGDA_OTP_SENDS_PER_DAY codes a day per link."""
    fake, _channel = sms_standin
    _dispatch_id, path = await code_link(api, sms_standin, smtp_sink)
    per_day = api.ctx.settings.limits.otp_sends_per_day
    before = len(fake.messages)
    for _ in range(per_day):
        assert (await api.client.post(f"{path}/code")).status == 200
        api.ctx.clock.advance(timedelta(minutes=1, seconds=1))  # type: ignore[attr-defined]
    assert len(fake.messages) == before + per_day
    refused = await api.client.post(f"{path}/code")
    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600
    assert "今日的验证码发送次数已用完" in await refused.text()
    assert len(fake.messages) == before + per_day  # nothing more was sent
    api.ctx.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    assert (await api.client.post(f"{path}/code")).status == 200
    assert len(fake.messages) == before + per_day + 1


@pytest.mark.usefixtures("worker")
async def test_without_redis_no_code_is_sent_unlimited(
    api: Api, sms_standin: Any, smtp_sink: Any, aiohttp_client: Callable[..., Any]
) -> None:
    fake, _channel = sms_standin
    _dispatch_id, path = await code_link(api, sms_standin, smtp_sink)
    before = len(fake.messages)
    async with without_redis(api.ctx) as down:
        client = await aiohttp_client(create_app(down))
        refused = await client.post(f"{path}/code")
    assert refused.status == 503
    assert int(refused.headers["Retry-After"]) > 0
    assert len(fake.messages) == before


@pytest.mark.usefixtures("worker")
async def test_the_sandbox_plays_the_carrier(
    api: Api, smtp_sink: Any, aiohttp_client: Callable[..., Any]
) -> None:
    """POST /sandbox/api/sms/{sid}/status makes the stand-in send the signed callback."""

    def with_sandbox(app: Any, fake: TwilioStandIn) -> None:
        add_routes(app, smtp_sink, fake)

    async with live_twilio(api, aiohttp_client, "sandbox-token", with_sandbox):
        body = await api.new_dispatch_body(source="court_found")
        body["recipient"]["phones"] = [
            {"number": "+8613800138000", "source": "recipient_confirmed"}
        ]
        created = await api.create(body)
        await api.until(created["id"], lambda d: d["attempts"][-1]["state"] == "sent")
        listed = await (await api.client.get("/sandbox/api/messages")).json()
        [sms] = listed["sms"]
        page = await (await api.client.get("/sandbox/mailbox?lang=en")).text()
        for status, label in SANDBOX_STATUSES.items():  # a button and a command for each
            assert f"""data-body='{{"status": "{status}"}}'>{label}</button>""" in page
        assert f"{api.ctx.settings.public_base_url}/sandbox/api/sms/{sms['sid']}/status" in page
        played = await api.client.post(
            f"/sandbox/api/sms/{sms['sid']}/status", json={"status": "delivered"}
        )
        assert (await played.json()) == {"callback_status": 200}
        served = await api.until_state(created["id"], "served")
        assert served["served_by_channel"] == "sms"
