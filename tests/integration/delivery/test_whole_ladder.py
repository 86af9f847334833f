"""The whole ladder on the injected clock, as each person plays their part.

E-mail and SMS to court-found addresses go unread for 3 days; court express mail comes back from
a court-found address (not served, PM-11 needs a recipient-confirmed one); the field server finds
nobody on the policy's 3 visits; the supervisor approves public notice; when its period ends the
dispatch is deemed served — CPL-95 after 30 days, or CPL-283 after 60 for a party without
domicile in China under cn-foreign (domain.md: "Methods…", "Policy windows").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_client import Api, visit_task
from conftest import eventually, settled
from standins import POSTAL_ADDRESS, Browser, Post
from webhook_receiver import Receiver, receiving

from delivery.clock import rfc3339
from delivery.services.sweep import sweep
from delivery.staff import Role

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]
ZONE = ZoneInfo("Asia/Shanghai")
NOTICE_TEXT = (
    "张三：本院受理原告李四诉你借款合同纠纷一案，现依法向你公告送达民事判决书。"
    "自公告之日起经过公告期即视为送达。"
)


def later(api: Api, delta: timedelta) -> None:
    api.ctx.clock.advance(delta)  # type: ignore[attr-defined]


async def _electronic_goes_unread(api: Api, dispatch_id: str) -> None:
    def both_sent(d: dict[str, Any]) -> bool:
        return sorted((a["channel"], a["state"]) for a in d["attempts"]) == [
            ("email", "sent"),
            ("sms", "sent"),
        ]

    await api.until(dispatch_id, both_sent)
    await settled(api.ctx)
    later(api, timedelta(days=3))
    await sweep(api.ctx)


async def _post_comes_back(post: Post, dispatch_id: str) -> None:
    tracking = await post.posted(dispatch_id)
    later(post.api, timedelta(days=2))
    assert await post.fake.report(tracking, "returned", reason="address_wrong") == 200


async def _nobody_found(api: Api, field_server: Browser, dispatch_id: str, visits: int) -> None:
    for visit_no in range(1, visits + 1):
        task_id = await visit_task(api, dispatch_id, visit_no)
        later(api, timedelta(hours=30))  # another day, another time of day
        await field_server.log_in()
        response = await field_server.post(task_id, {"outcome": "failed", "reason": "not_found"})
        assert response.status == 303, await response.text()


async def _notice_approved(api: Api, supervisor: Browser, dispatch_id: str) -> datetime:
    """The clerk writes the notice text, the supervisor approves it (published at once)."""
    await api.until(
        dispatch_id,
        lambda d: any(a["channel"] == "public_notice" and a["provider_ref"] for a in d["attempts"]),
    )
    edited = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": "edit_notice", "note": "公告内容已核对", "body": NOTICE_TEXT},
        headers=api.auth,
    )
    assert edited.status == 200, await edited.text()
    csrf = await supervisor.log_in()
    # The supervisor reads the text and approves exactly that (its SHA-256).
    read = await supervisor.client.get(f"/api/v1/dispatches/{dispatch_id}")
    assert read.status == 200, await read.text()
    notice = (await read.json())["notice"]
    assert (notice["state"], notice["body"]) == ("draft", NOTICE_TEXT + "\n")
    approved = await supervisor.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={
            "action": "approve_notice",
            "note": "下落不明",
            "reason": "other_methods_failed",
            "text_sha256": notice["text_sha256"],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert approved.status == 200, await approved.text()
    return api.ctx.clock.now()


async def _climb(
    api: Api,
    post: Post,
    browser: Callable[..., Any],
    sms_standin: Any,
    receiver: Receiver,
    *,
    policy: str,
    abroad: bool,
) -> tuple[dict[str, Any], datetime]:
    """Take one dispatch down every step to a published notice; it, and its publication time."""
    _fake, sms = sms_standin
    api.ctx.channels["sms"] = sms
    field_server = await browser()
    supervisor = await browser(Role.SUPERVISOR, name="李法官")
    body = await api.new_dispatch_body(source="court_found", policy=policy)
    recipient = body["recipient"]
    recipient["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    recipient["postal_addresses"] = [
        {"lines": POSTAL_ADDRESS, "postcode": "310012", "source": "court_found"}
    ]
    recipient["domicile_in_china"] = not abroad
    await api.register_webhook(receiver.url)
    created = await api.create(body)
    dispatch_id = created["id"]

    await _electronic_goes_unread(api, dispatch_id)
    await _post_comes_back(post, dispatch_id)
    visits = api.ctx.policies.get(policy, created["court"]).steps[2].max_attempts
    await _nobody_found(api, field_server, dispatch_id, visits)
    await api.until_state(dispatch_id, "notice_pending")
    published = await _notice_approved(api, supervisor, dispatch_id)
    await eventually(receiver.has("dispatch.notice_published"))
    return created, published


def _the_trail(dispatch: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(a["channel"], a["state"], a["reason"]) for a in dispatch["attempts"]]


async def _deemed_served(
    api: Api, dispatch_id: str, published: datetime, period: timedelta, basis: str
) -> dict[str, Any]:
    later(api, period - timedelta(minutes=1))
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.dispatch(dispatch_id))["state"] == "notice_pending"
    later(api, timedelta(minutes=1))
    await sweep(api.ctx)
    served = await api.until_state(dispatch_id, "served")
    deemed = published + period
    assert (served["legal_basis"], served["served_by_channel"]) == (basis, "public_notice")
    assert served["served_at"] == rfc3339(deemed)
    assert served["service_date"] == deemed.astimezone(ZONE).date().isoformat()
    return served


async def test_the_whole_cn_civil_ladder_ends_in_notice_deemed_served_after_30_days(
    api: Api, post: Post, browser: Callable[..., Any], sms_standin: Any
) -> None:
    async with receiving(Receiver()) as receiver:
        created, published = await _climb(
            api, post, browser, sms_standin, receiver, policy="cn-civil", abroad=False
        )
        served = await _deemed_served(api, created["id"], published, timedelta(days=30), "CPL-95")
        await eventually(receiver.has("dispatch.served"))
    started = [e["data"]["name"] for e in served["events"] if e["type"] == "step_started"]
    assert started == ["electronic", "postal", "in_person", "public_notice"]
    assert _the_trail(served) == [
        ("email", "expired", "window_elapsed"),
        ("sms", "expired", "window_elapsed"),
        ("postal", "returned", "returned: address_wrong"),
        ("in_person", "failed", "not_found"),
        ("in_person", "failed", "not_found"),
        ("in_person", "failed", "not_found"),
        ("public_notice", "sent", None),
    ]
    for kind in ("dispatch.escalated", "dispatch.notice_awaiting_approval"):
        assert kind in receiver.types()


async def test_the_whole_cn_foreign_ladder_deems_a_party_abroad_served_after_60_days(
    api: Api, post: Post, browser: Callable[..., Any], sms_standin: Any
) -> None:
    async with receiving(Receiver()) as receiver:
        created, published = await _climb(
            api, post, browser, sms_standin, receiver, policy="cn-foreign", abroad=True
        )
        served = await _deemed_served(api, created["id"], published, timedelta(days=60), "CPL-283")
        await eventually(receiver.has("dispatch.served"))
    assert [a["channel"] for a in served["attempts"]] == [
        "email",
        "sms",
        "postal",
        "in_person",
        "in_person",
        "in_person",
        "public_notice",
    ]
