"""Alibaba Cloud SMS through its official SDK against a loopback stand-in (docs/decisions/0044):
template codes, pushed and polled delivery reports, uplink replies, and the failover between it
and Twilio (docs/decisions/0045)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from alembic import command
from api_client import Api
from conftest import settled

from channels.sms.adapter import SmsChannel, SmsSettings
from channels.sms.aliyun import AliyunSmsChannel
from channels.sms.aliyun_standin import SANDBOX_TEMPLATES, AliyunStandIn
from channels.sms.standin import TwilioStandIn
from delivery.api.app import create_app
from delivery.channel_api import CodeMessage, SendOutcome
from delivery.cli import sms as sms_command
from delivery.config import DatabaseSettings
from delivery.config_sms import AliyunSettings, CourtTemplates, SmsHealth, SmsRouting
from delivery.runtime import sms_router
from delivery.services.sms_health import ProviderBoard
from delivery.services.sms_routing import SmsRouter
from delivery.services.sweep import sweep
from delivery.storage.migrate import alembic_config, upgrade
from delivery.storage.schema import sms_sends
from delivery.storage.sms_sends import recent_switches, standings

pytestmark = [pytest.mark.usefixtures("worker")]
SECRET = "aliyun-callback-secret-0123456789"
TOKEN = "twilio-token"
PHONE = "+8613800138000"
COURT = "杭州市西湖区人民法院"
TEMPLATES = CourtTemplates("西湖法院", "SMS_465001", "SMS_465002", "SMS_465003")
HEALTH = SmsHealth(
    window=timedelta(minutes=15),
    min_samples=3,
    max_error_percent=50,
    slow_receipt=timedelta(minutes=5),
    max_slow_percent=50,
    probe_after=timedelta(minutes=10),
    poll_after=timedelta(minutes=10),
)


@dataclasses.dataclass
class Providers:
    aliyun: AliyunStandIn
    twilio: TwilioStandIn
    router: SmsRouter


@pytest.fixture
async def sms(
    api: Api, smtp_sink: Any, aiohttp_client: Callable[..., Any]
) -> AsyncIterator[Providers]:
    """Both stand-ins wired to a live Songda server: mainland numbers go to Alibaba first."""
    aliyun = AliyunStandIn(clock=api.ctx.clock)
    twilio = TwilioStandIn(auth_token=TOKEN)
    servers = [TestServer(aliyun.app()), TestServer(twilio.app())]
    for server in servers:
        await server.start_server()
    songda = TestServer(create_app(api.ctx))
    await songda.start_server()
    base = str(songda.make_url("")).rstrip("/")
    settings = api.ctx.settings
    aliyun_settings = AliyunSettings(
        access_key_id="LTAI-test",
        access_key_secret="secret",
        endpoint=str(servers[0].make_url("")).rstrip("/"),
        defaults=TEMPLATES,
        callback_secret=SECRET,
        callback_sources=(ipaddress.ip_network("127.0.0.0/8"),),
        timeout=1.0,
    )
    routing = SmsRouting(health=HEALTH)
    api.ctx.settings = dataclasses.replace(
        settings,
        public_base_url=base,
        twilio=dataclasses.replace(settings.twilio, auth_token=TOKEN),
        aliyun=aliyun_settings,
        sms_routing=routing,
    )
    aliyun.callback_base = f"{base}/hooks/aliyun/{SECRET}"
    providers = {
        "aliyun": AliyunSmsChannel(aliyun_settings),
        "twilio": SmsChannel(
            SmsSettings(
                account_sid="AC" + "5a" * 16,
                auth_token=TOKEN,
                sender="+10000000000",
                status_callback_url=f"{base}/hooks/twilio/status",
                api_base_url=str(servers[1].make_url("")),
            )
        ),
    }
    router = SmsRouter(
        providers, routing, ProviderBoard(api.ctx.engine, api.ctx.clock, HEALTH), {"aliyun"}
    )
    api.ctx.channels["sms"] = router
    api.client = await aiohttp_client(songda)
    try:
        yield Providers(aliyun, twilio, router)
    finally:
        for server in servers:
            await server.close()


def _sms(dispatch: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in dispatch["attempts"] if a["channel"] == "sms")


async def _sms_dispatch(
    api: Api, source: str = "recipient_confirmed", reference: str = "case-sys-0001"
) -> str:
    body = await api.new_dispatch_body(source="court_found")
    body["reference"] = reference
    body["recipient"]["phones"] = [{"number": PHONE, "source": source}]
    created = await api.create(body)
    await api.until(created["id"], lambda d: _sms(d)["state"] in ("sent", "pending", "failed"))
    await settled(api.ctx)
    return str(created["id"])


async def _sent_event(api: Api, dispatch_id: str) -> dict[str, Any]:
    """The data of the SMS attempt's ``attempt_sent`` (the e-mail goes out too)."""
    sms_id = _sms(await api.dispatch(dispatch_id))["id"]
    events = await api.events(dispatch_id)
    return next(e.data for e in events if e.type == "attempt_sent" and e.attempt_id == sms_id)


def _code(n: int) -> CodeMessage:
    return CodeMessage(PHONE, "zh-CN", COURT, code=f"{n:06d}", valid_minutes=10)


async def test_a_notice_goes_out_with_the_courts_template_and_its_report_serves(
    api: Api, sms: Providers
) -> None:
    """OLR-31: the message is the court's registered template and parameters, through the SDK;
    Alibaba's delivery report for a recipient-confirmed number serves, dated by the report."""
    dispatch_id = await _sms_dispatch(api)
    [message] = sms.aliyun.messages
    assert (message["phone"], message["sign_name"]) == ("13800138000", "西湖法院")
    assert message["template_code"] == "SMS_465001"
    assert set(message["params"]) == {"case", "code", "link"}
    assert message["params"]["case"] == (await api.dispatch(dispatch_id))["case_number"]
    assert len(message["params"]["link"]) <= 100 and "/" not in message["params"]["link"]
    assert message["out_id"] == _sms(await api.dispatch(dispatch_id))["id"]
    sent = await _sent_event(api, dispatch_id)
    assert sent["provider"] == "aliyun" and "refused_by" not in sent
    assert sms.twilio.messages == []

    api.ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert await sms.aliyun.report(message["biz_id"]) == 200
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "OLR-31" and served["served_by_channel"] == "sms"
    delivered = next(e for e in await api.events(dispatch_id) if e.type == "sms_delivered")
    assert delivered.source == "aliyun" and delivered.data["biz_id"] == message["biz_id"]


async def test_reports_with_a_wrong_secret_or_from_elsewhere_are_refused(
    api: Api, sms: Providers
) -> None:
    dispatch_id = await _sms_dispatch(api)
    [message] = sms.aliyun.messages
    before = await api.event_types(dispatch_id)
    item = [{"biz_id": message["biz_id"], "success": True, "report_time": message["send_time"]}]
    base = f"{api.ctx.settings.public_base_url}/hooks/aliyun"
    wrong = await api.client.post(f"/hooks/aliyun/{'x' * len(SECRET)}/report", json=item)
    assert wrong.status == 404
    assert wrong.headers["Content-Type"].startswith("application/problem+json")
    unknown = [{"biz_id": "123456789012345^0", "success": True}]
    assert await sms.aliyun.push("report", unknown, f"{base}/{SECRET}") == 404  # pushed again
    api.ctx.settings = dataclasses.replace(
        api.ctx.settings,
        aliyun=dataclasses.replace(
            api.ctx.settings.aliyun, callback_sources=(ipaddress.ip_network("10.0.0.0/8"),)
        ),
    )
    elsewhere = await api.client.post(f"/hooks/aliyun/{SECRET}/report", json=item)
    assert elsewhere.status == 403
    assert (await elsewhere.json())["type"].endswith("forbidden-source")
    assert await sms.aliyun.push("up", [{"phone_number": "13800138000"}], base + "/x") == 404
    assert await api.event_types(dispatch_id) == before
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"


async def test_a_large_report_batch_sent_in_chunks_is_read_whole(api: Api, sms: Providers) -> None:
    """Alibaba pushes batches; one that arrives in pieces (chunked, a slow network) is read to
    its end, not cut at what was buffered and refused as malformed JSON."""
    dispatch_id = await _sms_dispatch(api)
    [message] = sms.aliyun.messages
    sms.aliyun.settle(message["biz_id"])
    item = {
        "phone_number": message["phone"],
        "send_time": message["send_time"],
        "report_time": message["report_time"],
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": message["biz_id"],
        "out_id": message["out_id"],
    }
    body = json.dumps([item] * 400).encode()  # ~100 KB: repeats record nothing twice
    assert len(body) > 64 * 1024

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]
            await asyncio.sleep(0.002)

    pushed = await api.client.post(
        f"/hooks/aliyun/{SECRET}/report",
        data=pieces(),
        headers={"Content-Type": "application/json"},
    )
    assert pushed.status == 200, await pushed.text()
    assert await pushed.json() == {"code": 0, "msg": "received"}
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "OLR-31"
    assert (await api.event_types(dispatch_id)).count("sms_delivered") == 1


@pytest.mark.both_databases
async def test_polling_records_the_report_when_no_push_comes(api: Api, sms: Providers) -> None:
    dispatch_id = await _sms_dispatch(api)
    [message] = sms.aliyun.messages
    sms.aliyun.settle(message["biz_id"])  # the carrier answered; the push is lost
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"  # not due yet
    api.ctx.clock.advance(HEALTH.poll_after)  # type: ignore[attr-defined]
    await sweep(api.ctx)
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "OLR-31"
    # The push arriving late changes nothing.
    assert await sms.aliyun.report(message["biz_id"]) == 200
    await settled(api.ctx)
    types = await api.event_types(dispatch_id)
    assert types.count("sms_delivered") == 1


async def test_an_uplink_reply_serves_a_court_found_number(api: Api, sms: Providers) -> None:
    """OLR-31 (docs/decisions/0042): 短信上行 from the number counts as the recipient replying."""
    dispatch_id = await _sms_dispatch(api, source="court_found")
    api.ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert await sms.aliyun.reply(PHONE, "收到") == 200
    assert await sms.aliyun.reply("+8613900000000", "stranger") == 200
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "OLR-31"
    reply = next(e for e in await api.events(dispatch_id) if e.type == "reply_received")
    assert reply.source == "aliyun" and reply.data["body"] == "收到"
    assert reply.data["answers"] == "service"
    assert PHONE not in str(reply.data)  # masked


async def test_an_uplink_reply_to_an_identity_code_does_not_serve(api: Api, sms: Providers) -> None:
    """The latest message to the number was an identity-check code: the reply answers it, so it
    is kept as evidence on the notice's attempt and does not serve (OLR-31 needs the notice)."""
    dispatch_id = await _sms_dispatch(api, source="court_found")
    api.ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert (await sms.router.send_code(_code(1))).provider == "aliyun"
    api.ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert await sms.aliyun.reply(PHONE, "验证码收到") == 200
    await settled(api.ctx)
    [reply] = [e for e in await api.events(dispatch_id) if e.type == "reply_received"]
    assert (reply.source, reply.data["answers"]) == ("aliyun", "code")
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"


async def test_migration_0015_gives_earlier_service_sends_their_number_and_kind(
    api: Api, sms: Providers
) -> None:
    dispatch_id = await _sms_dispatch(api)
    assert (await sms.router.send_code(_code(1))).provider == "aliyun"
    async with api.ctx.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0014"))
    await upgrade(api.ctx.engine)
    async with api.ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(sms_sends.c.attempt_id, sms_sends.c.address, sms_sends.c.kind)
        )
        found = {(r.attempt_id is not None, r.address, r.kind) for r in rows}
    assert found == {(True, PHONE, "service"), (False, None, None)}  # a code's number: unknown
    assert _sms(await api.dispatch(dispatch_id))["state"] == "sent"


async def test_a_refusal_moves_the_same_try_to_twilio(api: Api, sms: Providers) -> None:
    sms.aliyun.fail_code = "isv.AMOUNT_NOT_ENOUGH"
    dispatch_id = await _sms_dispatch(api)
    sent = await _sent_event(api, dispatch_id)
    assert sent["provider"] == "twilio"
    assert sent["refused_by"] and sent["refused_by"][0].startswith("aliyun: ")
    assert _sms(await api.dispatch(dispatch_id))["provider_ref"] == sms.twilio.messages[0]["sid"]


async def test_a_message_whose_fate_is_unknown_is_never_sent_by_another_provider(
    api: Api, sms: Providers
) -> None:
    """Alibaba took the message but its answer came too late: the attempt stays bound to it,
    is sent again there only, and Twilio never sends it."""
    sms.aliyun.hang = 3.0  # past the SDK's 1 s read timeout
    dispatch_id = await _sms_dispatch(api)
    attempt = _sms(await api.dispatch(dispatch_id))
    assert attempt["state"] == "pending" and sms.twilio.messages == []
    retry = next(e for e in await api.events(dispatch_id) if e.type == "attempt_retry_scheduled")
    assert retry.data["provider"] == "aliyun" and retry.data["outcome_unknown"] is True
    sms.aliyun.hang = 0.0
    sms.aliyun.fail_code = "isv.AMOUNT_NOT_ENOUGH"  # even a refusal now: still not Twilio
    api.ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    await settled(api.ctx)
    assert sms.twilio.messages == []
    sms.aliyun.fail_code = None
    api.ctx.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    await api.until(dispatch_id, lambda d: _sms(d)["state"] == "sent")
    assert sms.twilio.messages == [] and len(sms.aliyun.messages) == 2


async def test_a_server_error_after_the_message_was_taken_keeps_the_attempt_with_alibaba(
    api: Api, sms: Providers
) -> None:
    """A 5xx says nothing of the message: Alibaba may have passed it on before failing. So it is
    no refusal — Twilio never sends it, and the attempt stays bound to Alibaba."""
    sms.aliyun.status_after_taking = 502
    dispatch_id = await _sms_dispatch(api)
    attempt = _sms(await api.dispatch(dispatch_id))
    assert attempt["state"] == "pending" and len(sms.aliyun.messages) == 1
    assert sms.twilio.messages == []
    retry = next(e for e in await api.events(dispatch_id) if e.type == "attempt_retry_scheduled")
    assert retry.data["provider"] == "aliyun" and retry.data["outcome_unknown"] is True
    assert await sms.router.board.bound_provider(attempt["id"]) == "aliyun"
    code = await sms.router.send_code(_code(1))  # a code too: not sent again by Twilio
    assert (code.provider, code.unknown, code.refusals) == ("aliyun", True, ())
    assert sms.twilio.messages == []


@pytest.mark.both_databases
async def test_errors_demote_the_provider_and_recovery_restores_it(
    api: Api, sms: Providers, capsys: pytest.CaptureFixture[str]
) -> None:
    """Failover as GOV.UK Notify does it: too many errors over the window → demoted, traffic
    to Twilio; after the probe delay back on trial, and restored when healthy. Each switch is
    recorded with its figures."""
    router, clock = sms.router, api.ctx.clock
    sms.aliyun.fail_code = "isv.AMOUNT_NOT_ENOUGH"  # a definite refusal: the same try moves on
    for n in range(3):
        result = await router.send_code(_code(n))
        assert result.provider == "twilio" and result.outcome == SendOutcome.ACCEPTED
    asked = len(sms.aliyun.messages)
    result = await router.send_code(_code(9))
    assert result.provider == "twilio" and not result.refusals  # Alibaba not even asked
    [demoted] = await recent_switches(api.ctx.engine)
    moved = (demoted.provider, demoted.from_state, demoted.to_state)
    assert moved == ("aliyun", "active", "demoted")
    assert demoted.reason.startswith("errors") and demoted.figures["errors"] == 3
    assert asked == 0
    health = await (await api.client.get("/healthz")).json()
    assert health["sms_providers"] == {"aliyun": "demoted", "twilio": "active"}
    # A dispatch now: its SMS goes straight to Twilio, and its events say so.
    dispatch_id = await _sms_dispatch(api)
    sent = await _sent_event(api, dispatch_id)
    assert sent["provider"] == "twilio" and "refused_by" not in sent
    assert len(sms.aliyun.messages) == 0

    sms.aliyun.fail_code = None  # Alibaba recovers
    clock.advance(HEALTH.probe_after)  # type: ignore[attr-defined]
    for n in range(3):
        assert (await router.send_code(_code(n))).provider == "aliyun"
        clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    await router.send_code(_code(9))
    # (Twilio's messages got no receipts meanwhile: it is demoted for slowness in turn.)
    switches = [s for s in await recent_switches(api.ctx.engine) if s.provider == "aliyun"]
    assert [(s.from_state, s.to_state) for s in reversed(switches)] == [
        ("active", "demoted"),
        ("demoted", "probing"),
        ("probing", "active"),
    ]
    assert (await standings(api.ctx.engine))["aliyun"][0] == "active"
    # The operator's listing.
    settings = api.ctx.settings
    operator = DatabaseSettings(
        settings.data_dir, settings.database_url, "Asia/Shanghai", None, None, False
    )
    assert await asyncio.to_thread(sms_command.run, operator) == 0  # `songda sms-providers`
    listed = capsys.readouterr().out
    assert "aliyun: active since" in listed and "probing → active  healthy again" in listed
    assert "active → demoted  errors: 3 of 3 sends" in listed


async def test_slow_receipts_demote_the_provider(api: Api, sms: Providers) -> None:
    """Only service messages await a receipt: codes with none do not make Alibaba slow, three
    notices of service with none do."""
    router, clock = sms.router, api.ctx.clock
    for n in range(3):
        assert (await router.send_code(_code(n))).provider == "aliyun"
    clock.advance(HEALTH.slow_receipt + timedelta(seconds=1))  # type: ignore[attr-defined]
    assert (await router.send_code(_code(9))).provider == "aliyun"
    assert await recent_switches(api.ctx.engine) == []
    for n in range(3):
        await _sms_dispatch(api, reference=f"case-sys-{n}")
    assert len(sms.aliyun.messages) == 7
    clock.advance(HEALTH.slow_receipt + timedelta(seconds=1))  # type: ignore[attr-defined]
    assert (await router.send_code(_code(10))).provider == "twilio"
    [switch] = await recent_switches(api.ctx.engine)
    assert switch.reason.startswith("slow receipts")
    assert (switch.figures["checked"], switch.figures["slow"]) == (3, 3)


async def test_reports_on_codes_and_confirmation_requests_are_acknowledged(
    api: Api, sms: Providers
) -> None:
    """A report on a message with no attempt is Songda's, though it concerns no dispatch: it is
    noted and acknowledged, not refused (Alibaba would push the whole batch again for ever)."""
    dispatch_id = await _sms_dispatch(api)
    before = await api.event_types(dispatch_id)
    assert (await sms.router.send_code(_code(1))).provider == "aliyun"
    service, code = sms.aliyun.messages
    api.ctx.clock.advance(timedelta(seconds=30))  # type: ignore[attr-defined]
    assert await sms.aliyun.report(code["biz_id"]) == 200
    async with api.ctx.engine.connect() as conn:
        noted = await conn.scalar(
            sa.select(sms_sends.c.receipt_at).where(sms_sends.c.provider_ref == code["biz_id"])
        )
    assert noted == api.ctx.clock.now()
    assert await api.event_types(dispatch_id) == before  # nothing on any dispatch
    # In the same batch as a service message's report: all acknowledged, the service recorded.
    sms.aliyun.settle(service["biz_id"])
    items = [
        {"biz_id": m["biz_id"], "success": True, "report_time": service["report_time"]}
        for m in (code, service)
    ]
    assert await sms.aliyun.push("report", items) == 200
    assert (await api.until_state(dispatch_id, "served"))["legal_basis"] == "OLR-31"


async def test_twilio_only_numbers_never_reach_alibaba(api: Api, sms: Providers) -> None:
    result = await sms.router.send_code(dataclasses.replace(_code(1), address="+14155550100"))
    assert result.provider == "twilio" and sms.aliyun.messages == []


async def test_the_sandbox_can_send_through_the_alibaba_stand_in(
    api: Api, smtp_sink: Any, aiohttp_client: Callable[..., Any]
) -> None:
    """`songda run --sandbox` with SONGDA_SMS_ROUTES sending mainland numbers to Alibaba: the
    stand-in points the SDK at itself, and its carrier reports delivery on its own."""
    songda = TestServer(create_app(api.ctx))
    await songda.start_server()
    base = str(songda.make_url("")).rstrip("/")
    standin = AliyunStandIn.for_sandbox(api.ctx.clock)
    api.ctx.settings = await standin.serve(
        dataclasses.replace(api.ctx.settings, public_base_url=base, sms_routing=SmsRouting())
    )
    router = sms_router(api.ctx.settings, ProviderBoard(api.ctx.engine, api.ctx.clock, HEALTH))
    assert router is not None and set(router.providers) == {"aliyun"}
    api.ctx.channels["sms"] = router
    api.client = await aiohttp_client(songda)
    try:
        dispatch_id = await _sms_dispatch(api)
        served = await api.until_state(dispatch_id, "served")
        assert served["legal_basis"] == "OLR-31"
        assert standin.messages[0]["template_code"] == SANDBOX_TEMPLATES.service_template
    finally:
        await standin.stop()


async def test_a_refused_connection_is_a_definite_failure(api: Api, sms: Providers) -> None:
    """Nothing reached Alibaba (its port is closed): the same try goes to Twilio at once."""
    settings = dataclasses.replace(api.ctx.settings.aliyun, endpoint="http://127.0.0.1:9")
    sms.router.providers["aliyun"] = AliyunSmsChannel(settings)
    result = await sms.router.send_code(_code(1))
    assert result.provider == "twilio" and result.outcome == SendOutcome.ACCEPTED
    assert result.refusals[0].startswith("aliyun: ") and "Connect call failed" in result.refusals[0]


async def test_the_address_confirmation_request_uses_its_own_template(
    api: Api, sms: Providers, smtp_sink: Any
) -> None:
    """Alibaba takes no free text: the request to confirm one's addresses (CPL-INT-136) is the
    court's confirmation template, with the case and the link's token as parameters."""
    dispatch_id = await _sms_dispatch(api, source="court_found")
    asked = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": "request_address_confirmation", "note": "请确认送达地址"},
        headers=api.auth,
    )
    assert asked.status == 200, await asked.text()
    path = smtp_sink.messages[-1].text.split("/c/")[1].split()[0]
    [request] = [m for m in sms.aliyun.messages if m["template_code"] == "SMS_465003"]
    assert request["phone"] == "13800138000"
    assert request["params"] == {
        "case": (await api.dispatch(dispatch_id))["case_number"],
        "link": path,
    }
    sent = [
        e.data
        for e in await api.events(dispatch_id)
        if e.type == "address_confirmation_request_sent" and e.data["channel"] == "sms"
    ]
    assert [s["outcome"] for s in sent] == ["accepted"]
