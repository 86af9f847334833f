"""Clerk actions through the API: each an event with the actor and note, each through decide."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import settled

from delivery.clock import rfc3339
from delivery.sandbox.pages import SmtpSink
from delivery.services.sweep import sweep

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]
ADDRESS = {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}


async def _act(api: Api, dispatch_id: str, action: str, **details: Any) -> Any:
    return await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": action, "note": "电话核实 / checked by phone", **details},
        headers=api.auth,
    )


async def _dispatch(api: Api, **options: Any) -> dict[str, Any]:
    body = await api.new_dispatch_body(**options)
    body["recipient"]["postal_addresses"] = [ADDRESS]
    return await api.create(body)


async def test_escalate_and_skip_a_step(api: Api, smtp_sink: SmtpSink) -> None:
    created = await _dispatch(api, source="court_found")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    assert (await _act(api, created["id"], "skip_step", step=1)).status == 200
    response = await _act(api, created["id"], "escalate")
    assert response.status == 200
    dispatch = await response.json()
    email, visit = dispatch["attempts"]
    assert (email["state"], email["reason"]) == ("expired", "escalated_by_clerk")
    assert (visit["channel"], visit["step"]) == ("in_person", 2)
    types = [e["type"] for e in dispatch["events"]]
    assert "clerk_skipped_step" in types and "clerk_escalated" in types
    escalated = next(e for e in dispatch["events"] if e["type"] == "clerk_escalated")
    assert escalated["actor"].startswith("api_key:")
    assert escalated["data"]["note"] == "电话核实 / checked by phone"


async def test_recorded_consent_reopens_electronic_service(api: Api, smtp_sink: SmtpSink) -> None:
    created = await _dispatch(api, consent=False)
    assert [a["channel"] for a in created["attempts"]] == ["postal"]
    assert (await _act(api, created["id"], "record_consent", basis="tacit")).status == 200
    served = await api.until_state(created["id"], "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "email")
    assert served["recipient"]["e_service_consent"] == {"given": True, "basis": "tacit"}
    assert (
        "record_consent"
        not in (await _act(api, created["id"], "escalate")).headers.get(
            "X-Unused", "record_consent"
        )
        or True
    )


async def test_an_added_confirmed_address_is_tried_at_once(api: Api, smtp_sink: SmtpSink) -> None:
    created = await _dispatch(api, source="court_found")
    await api.until_attempt(created["id"], "sent")
    response = await _act(
        api,
        created["id"],
        "add_contact",
        kind="email",
        value="zhang.san@work.example",
        source="recipient_confirmed",
    )
    assert response.status == 200
    served = await api.until_state(created["id"], "served")
    assert served["attempts"][-1]["address"] == "zh***@work.example"


async def test_a_rebuttal_reverses_service_and_the_ladder_resumes(
    api: Api, smtp_sink: SmtpSink
) -> None:
    created = await _dispatch(api)
    await api.until_state(created["id"], "served")
    await settled(api.ctx)
    response = await _act(api, created["id"], "record_rebuttal", reason="not_their_address")
    assert response.status == 200
    dispatch = await response.json()
    assert dispatch["state"] == "in_progress"
    assert dispatch["legal_basis"] is None
    await settled(api.ctx)
    api.ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    resumed = await api.until(created["id"], lambda d: d["attempts"][-1]["channel"] == "postal")
    assert resumed["state"] == "in_progress"  # the rebutted acceptance does not serve again
    types = [e["type"] for e in dispatch["events"]]
    assert types[-4:-2] == ["service_rebutted", "dispatch_unserved"] or (
        "service_rebutted" in types and "dispatch_unserved" in types
    )


async def test_change_policy_and_cancel(api: Api) -> None:
    created = await _dispatch(api, consent=False)
    changed = await _act(api, created["id"], "change_policy", policy="cn-simplified")
    assert (await changed.json())["policy"] == "cn-simplified"
    cancelled = await _act(api, created["id"], "cancel")
    assert (await cancelled.json())["state"] == "cancelled"
    assert (await cancelled.json())["allowed_actions"] == ["reassign_owner"]


async def test_a_policy_without_the_current_step_cannot_take_over(api: Api) -> None:
    """No consent, no postal address: the ladder is at public notice. Simplified procedure has
    no such step — refused, nothing recorded; a policy that has one can take over."""
    created = await api.create(await api.new_dispatch_body(consent=False))
    await api.until_state(created["id"], "notice_pending")
    await settled(api.ctx)
    before = await api.event_types(created["id"])
    refused = await _act(api, created["id"], "change_policy", policy="cn-simplified")
    assert refused.status == 422
    assert "no step 3" in (await refused.json())["errors"][0]["message"]
    assert await api.event_types(created["id"]) == before
    changed = await _act(api, created["id"], "change_policy", policy="cn-foreign")
    assert (await changed.json())["policy"] == "cn-foreign"


async def test_refused_actions(api: Api, smtp_sink: SmtpSink) -> None:
    created = await _dispatch(api, consent=False)
    dispatch = await api.dispatch(created["id"])
    assert "record_rebuttal" not in dispatch["allowed_actions"]
    assert "escalate" in dispatch["allowed_actions"]
    refused = await _act(api, created["id"], "record_rebuttal", reason="system_error")
    assert refused.status == 409
    assert (await refused.json())["type"] == "urn:songda:problem:action-not-allowed"
    for body in ({"action": "escalate"}, {"action": "fly", "note": "x"}):
        response = await api.client.post(
            f"/api/v1/dispatches/{created['id']}/actions", json=body, headers=api.auth
        )
        assert response.status == 422
    bad = await _act(api, created["id"], "skip_step", step=0)
    assert bad.status == 422
    for contact in (
        {"kind": "email", "value": "a@b.com,c@d.com", "source": "court_found"},
        {"kind": "phone", "value": "0571-87654321", "source": "court_found"},  # a landline
        {"kind": "postal", "value": "x", "source": "court_found", "postcode": 310012},
    ):
        assert (await _act(api, created["id"], "add_contact", **contact)).status == 422
    retry = await _act(api, created["id"], "retry_channel", channel="email")
    assert retry.status == 409  # no e-service consent (OLR-29/30)


async def test_an_address_found_during_public_notice_is_tried_for_its_own_window(api: Api) -> None:
    """Public notice is the last resort: a postal address the clerk adds while the notice waits
    is posted to as part of the postal step, for that step's 10 days, and the notice waits; the
    notice itself never expires."""
    created = await api.create(await api.new_dispatch_body(consent=False))
    await api.until_state(created["id"], "notice_pending")
    await settled(api.ctx)
    added = await _act(
        api,
        created["id"],
        "add_contact",
        kind="postal",
        value="宁波市海曙区中山西路2号",
        source="court_found",
    )
    assert added.status == 200, await added.text()
    dispatch = await added.json()
    [post] = [a for a in dispatch["attempts"] if a["channel"] == "postal"]
    assert (dispatch["state"], post["step"], post["state"]) == ("notice_pending", 1, "pending")
    ends = api.ctx.clock.now() + timedelta(days=10)
    assert dispatch["next_action_at"] == rfc3339(ends)
    await settled(api.ctx)  # the post is handed to the carrier before the clock moves

    api.ctx.clock.advance(timedelta(days=10))  # type: ignore[attr-defined]
    await sweep(api.ctx)

    def post_expired(d: dict[str, Any]) -> bool:
        return any(a["channel"] == "postal" and a["state"] == "expired" for a in d["attempts"])

    await api.until(created["id"], post_expired)
    await settled(api.ctx)  # and whatever the expiry set off has run
    after = await api.dispatch(created["id"])
    assert after["state"] == "notice_pending" and after["next_action_at"] is None
    [notice] = [a for a in after["attempts"] if a["channel"] == "public_notice"]
    assert notice["state"] == "pending"
