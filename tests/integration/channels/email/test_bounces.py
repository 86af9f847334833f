"""A bounce proves non-arrival (CPL-INT-135): the attempt is bounced and, when its acceptance was
the service, the service is reversed and the ladder resumes."""

from __future__ import annotations

from typing import Any

import pytest
from api_client import RECIPIENT_EMAIL, Api
from conftest import eventually, settled
from webhook_receiver import Receiver, receiving

from delivery.sandbox.pages import SmtpSink

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]
ADDRESS = {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}


async def _bounce(
    api: Api, headers: dict[str, str], message_id: str, recipient: str = RECIPIENT_EMAIL
) -> Any:
    return await api.client.post(
        "/api/v1/bounces",
        json={
            "message_id": message_id,
            "recipient": recipient,
            "diagnostic": "550 5.1.1 user unknown",
        },
        headers=headers,
    )


async def _served_message(api: Api) -> tuple[str, str]:
    """A served dispatch's id and the Message-ID of the e-mail that served it."""
    created = await api.new_dispatch()
    served = await api.until_state(created["id"], "served")
    await settled(api.ctx)
    return created["id"], served["attempts"][0]["provider_ref"]


async def test_a_bounce_reverses_service_and_the_ladder_resumes(
    api: Api, smtp_sink: SmtpSink, bounce_processor: dict[str, str]
) -> None:
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.unserved", "dispatch.escalated"])
        body = await api.new_dispatch_body()
        body["recipient"]["postal_addresses"] = [ADDRESS]
        created = await api.create(body)
        served = await api.until_state(created["id"], "served")
        await settled(api.ctx)
        message_id = served["attempts"][0]["provider_ref"]

        response = await _bounce(api, bounce_processor, message_id)
        assert response.status == 200
        assert await response.json() == {
            "dispatch_id": created["id"],
            "attempt_id": served["attempts"][0]["id"],
            "recorded": True,
            "unserved": True,
        }
        dispatch = await api.dispatch(created["id"])
        assert dispatch["state"] == "in_progress"
        assert (dispatch["served_at"], dispatch["legal_basis"], dispatch["periods"]) == (
            None,
            None,
            None,
        )
        email, post = dispatch["attempts"]
        assert email["state"] == "bounced"
        assert (post["channel"], post["step"]) == ("postal", 1)  # the ladder resumed
        types = await api.event_types(created["id"])
        assert types.index("dispatch_served") < types.index("attempt_bounced")
        assert "dispatch_unserved" in types
        await eventually(receiver.has("dispatch.unserved"))
        await eventually(receiver.has("dispatch.escalated"))

        again = await _bounce(api, bounce_processor, message_id)
        assert (await again.json())["recorded"] is False


async def test_unknown_message_and_other_courts_are_404(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    response = await _bounce(api, bounce_processor, "<nope@court.example>")
    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_only_a_key_with_the_bounces_scope_may_reverse_service(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    """Every key of the court sees Message-IDs in webhooks; only the bounce processor's key,
    which an operator granted the scope, may report a bounce."""
    dispatch_id, message_id = await _served_message(api)
    refused = await _bounce(api, api.auth, message_id)
    assert refused.status == 403
    assert refused.content_type == "application/problem+json"
    assert (await refused.json())["type"] == "urn:songda:problem:scope-required"
    assert (await api.dispatch(dispatch_id))["state"] == "served"
    assert "attempt_bounced" not in await api.event_types(dispatch_id)
    assert (await _bounce(api, bounce_processor, message_id)).status == 200


async def test_a_bounce_must_name_the_attempts_recipient(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    dispatch_id, message_id = await _served_message(api)
    missing = await api.client.post(
        "/api/v1/bounces", json={"message_id": message_id}, headers=bounce_processor
    )
    assert missing.status == 422
    assert [e["field"] for e in (await missing.json())["errors"]] == ["recipient"]
    other = await _bounce(api, bounce_processor, message_id, "li.si@example.com")
    assert other.status == 422
    assert [e["field"] for e in (await other.json())["errors"]] == ["recipient"]
    assert (await api.dispatch(dispatch_id))["state"] == "served"
    assert "attempt_bounced" not in await api.event_types(dispatch_id)
    # the address as the DSN spells it: case aside, the same mailbox
    response = await _bounce(api, bounce_processor, message_id, RECIPIENT_EMAIL.upper())
    assert response.status == 200 and (await response.json())["unserved"] is True


async def test_the_sandbox_can_bounce_a_message(sandbox_api: Api) -> None:
    api = sandbox_api
    created = await api.new_dispatch(court=api.ctx.settings.court_name)
    await api.until_state(created["id"], "served")
    await settled(api.ctx)
    response = await api.client.post("/sandbox/api/messages/1/bounce")
    assert response.status == 200
    assert (await response.json())["unserved"] is True
    # Nothing else to try before public notice: it waits for a supervisor (CPL-95).
    await api.until_state(created["id"], "notice_pending")
