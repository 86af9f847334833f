"""The cn-civil ladder through the worker: electronic first, then post. No carrier is configured
in these tests, so the postal attempt waits ``channel_unavailable`` (the post itself is tested in
channels/postal/test_outcomes.py, the whole ladder in test_whole_ladder.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_client import Api, dispatch_body
from conftest import eventually, settled
from webhook_receiver import Receiver, receiving

from delivery.sandbox.pages import SmtpSink
from delivery.services.sweep import sweep

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]
ADDRESS = {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}


async def test_unread_e_mail_escalates_to_post_after_three_days(
    api: Api, smtp_sink: SmtpSink
) -> None:
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.escalated"])
        body = await api.new_dispatch_body(source="court_found")
        body["recipient"]["postal_addresses"] = [ADDRESS]
        created = await api.create(body)
        await api.until_attempt(created["id"], "sent")
        await settled(api.ctx)
        api.ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
        await sweep(api.ctx)

        def on_post(d: dict[str, object]) -> bool:
            attempts = d["attempts"]
            assert isinstance(attempts, list)
            return len(attempts) == 2 and attempts[1]["reason"] == "channel_unavailable"

        dispatch = await api.until(created["id"], on_post)
        email, post = dispatch["attempts"]
        assert (email["channel"], email["state"]) == ("email", "expired")
        assert (post["channel"], post["state"], post["step"]) == ("postal", "pending", 1)
        assert (dispatch["state"], dispatch["step"]) == ("in_progress", 1)
        await eventually(receiver.has("dispatch.escalated"))


async def test_without_consent_the_ladder_starts_at_post(api: Api) -> None:
    """OLR-29/30: no recorded consent, no electronic step."""
    body = await api.new_dispatch_body(consent=False)
    body["recipient"]["postal_addresses"] = [ADDRESS]
    created = await api.create(body)
    [post] = created["attempts"]
    assert (post["channel"], post["step"]) == ("postal", 1)
    skipped = [
        e for e in (await api.dispatch(created["id"]))["events"] if e["type"] == "step_skipped"
    ]
    assert skipped[0]["data"] == {"step": 0, "name": "electronic", "reason": "no_e_service_consent"}


async def test_simplified_procedure_fails_asking_for_ordinary_procedure(api: Api) -> None:
    """CPL-INT-140: no public notice in simplified procedure."""
    body = await api.new_dispatch_body(consent=False)
    body["policy"] = "cn-simplified"
    created = await api.create(body)
    failed = await api.until_state(created["id"], "failed")
    assert failed["state_reason"] == "requires_ordinary_procedure"


async def test_a_hearing_too_close_for_the_ladder_flags_the_dispatch_at_risk(api: Api) -> None:
    """A summons must be served 3 days before the hearing (CPL-139); e-mail alone needs up to
    3 days, so a hearing in 4 days is at risk from the start."""
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.at_risk"])
        response = await api.upload(title="传票", kind="summons")
        document_id = (await response.json())["id"]
        body = dispatch_body([document_id], source="court_found")
        body["hearing_at"] = "2026-11-27T09:00:00+08:00"
        created = await api.create(body)
        dispatch = await api.dispatch(created["id"])
        # 27 November − 3 days = 24 November, a Tuesday; service must complete by its end.
        assert dispatch["service_deadline_at"] == "2026-11-24T16:00:00.000000Z"
        flags = [e for e in dispatch["events"] if e["type"] == "dispatch_at_risk"]
        assert [f["data"]["step_ends_at"] for f in flags] == ["2026-11-26T02:00:00.000000Z"]
        await eventually(receiver.has("dispatch.at_risk"))


async def test_a_distant_hearing_is_not_at_risk(api: Api) -> None:
    body = await api.new_dispatch_body()
    body["hearing_at"] = "2027-03-01T09:00:00+08:00"
    created = await api.create(body)
    events = (await api.dispatch(created["id"]))["events"]
    assert "dispatch_at_risk" not in [e["type"] for e in events]


async def test_at_risk_runs_the_next_step_alongside(api: Api) -> None:
    """cn-civil: with the hearing too close, post starts at once beside the e-mail."""
    response = await api.upload(title="传票", kind="summons")
    body = dispatch_body([(await response.json())["id"]], source="court_found")
    body["hearing_at"] = "2026-11-27T09:00:00+08:00"
    body["recipient"]["postal_addresses"] = [ADDRESS]
    created = await api.create(body)
    assert [(a["channel"], a["step"]) for a in created["attempts"]] == [("email", 0), ("postal", 1)]
    dispatch = await api.dispatch(created["id"])
    assert dispatch["step"] == 1
    types = [e["type"] for e in dispatch["events"]]
    assert types.index("dispatch_at_risk") < types.index(
        "step_started", types.index("dispatch_at_risk")
    )
