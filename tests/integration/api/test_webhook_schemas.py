"""Every webhook Songda sends validates against its payload schema in the OpenAPI document's
``webhooks`` section, as served at /api/v1/openapi.json (issue 14, part 6); so do the API's
answers about the same dispatches against theirs.

A Standard Webhooks receiver subscribes to everything; four dispatches between them bring
every type of the catalogue: one served by e-mail, rebutted and cancelled; one taken to public
notice and deemed served 30 days later (its notice kept once served); one whose hearing is too
close (at risk, the next step alongside); one in simplified procedure that fails. The sandbox
clock moves 30 days meanwhile, and every signature still verifies: the ``webhook-timestamp``
header is wall-clock time.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
from api_client import Api, dispatch_body
from conftest import eventually, settled
from standardwebhooks import Webhook
from webhook_receiver import Receiver, receiving

from delivery.services.sweep import sweep
from delivery.vocabulary import WebhookEventType
from integration.channels.public_notice.support import NOTE, act, advance, published_notice

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]
SUMMONS_HEARING = "2026-11-27T09:00:00+08:00"  # 4 days after the tests' start: at risk
POSTAL = {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}


class Contract:
    """The schemas of the served OpenAPI document, by component name."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def errors(self, name: str, instance: Any) -> list[str]:
        validator = jsonschema_rs.Draft202012Validator(
            {"components": self.spec["components"], "$ref": f"#/components/schemas/{name}"}
        )
        return [f"{name}: {error}" for error in validator.iter_errors(instance)]

    def webhook_schema(self, event_type: str) -> str:
        ref = self.spec["webhooks"][event_type]["post"]["requestBody"]["content"]
        return str(ref["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]


async def _served_rebutted_cancelled(api: Api, contract: Contract) -> str:
    created = await api.new_dispatch(reference="by-email")
    assert contract.errors("DispatchCreated", created) == []
    dispatch_id = created["id"]
    await api.until_state(dispatch_id, "served")
    served = await api.until(dispatch_id, lambda d: d["verification_url"] is not None)
    # The certificate's page, at the address the API gives (not built from chain_head).
    url = urlsplit(served["verification_url"])
    page = await api.client.get(f"{url.path}?{url.query}")
    assert page.status == 200, await page.text()
    assert served["chain_head"] not in url.query  # the head moved on after service
    rebutted = await act(api, dispatch_id, "record_rebuttal", reason="not_their_address")
    assert rebutted.status == 200, await rebutted.text()
    again = await rebutted.json()
    assert (again["certificate_id"], again["verification_url"]) == (None, None)
    await settled(api.ctx)
    cancelled = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/cancel", json={"reason": NOTE}, headers=api.auth
    )
    assert cancelled.status == 200, await cancelled.text()
    return str(dispatch_id)


async def _deemed_served_after_notice(api: Api) -> str:
    dispatch_id, _supervisor = await published_notice(api, reference="by-notice")
    published = (await api.dispatch(dispatch_id))["notice"]
    advance(api, timedelta(days=30))
    await sweep(api.ctx)
    served = await api.until_state(dispatch_id, "served")
    # The notice is kept once served: where it stood, when it was published and deemed.
    assert served["notice"] == published
    assert published["state"] == "published"
    assert published["deemed_served_at"] == served["served_at"]
    return dispatch_id


async def _at_risk(api: Api) -> str:
    response = await api.upload(title="传票", kind="summons")
    body = dispatch_body([(await response.json())["id"]], reference="at-risk")
    body["hearing_at"] = SUMMONS_HEARING
    body["recipient"]["postal_addresses"] = [POSTAL]
    body["recipient"]["emails"][0]["source"] = "court_found"
    return str((await api.create(body))["id"])


async def _failed(api: Api) -> str:
    body = await api.new_dispatch_body(consent=False, reference="simplified")
    body["policy"] = "cn-simplified"
    created = await api.create(body)
    await api.until_state(created["id"], "failed")
    return str(created["id"])


async def test_every_webhook_body_validates_against_its_schema(api: Api) -> None:
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    contract = Contract(spec)
    assert set(spec["webhooks"]) == set(WebhookEventType)
    async with receiving(Receiver()) as receiver:
        secret = (await api.register_webhook(receiver.url))["secret"]
        ids = [
            await _served_rebutted_cancelled(api, contract),
            await _at_risk(api),
            await _failed(api),
            await _deemed_served_after_notice(api),
        ]
        await settled(api.ctx)

        async def every_type() -> bool:
            return set(receiver.types()) >= set(WebhookEventType)

        await eventually(every_type)
        cancel_at_risk = await api.client.post(
            f"/api/v1/dispatches/{ids[1]}/cancel", json={}, headers=api.auth
        )
        assert cancel_at_risk.status == 200
        await eventually(receiver.has(WebhookEventType.DISPATCH_CANCELLED, times=2))

    problems = []
    for headers, body in receiver.calls:
        payload = Webhook(secret).verify(body, headers)  # wall-clock header: still fresh
        assert payload == json.loads(body)
        problems += contract.errors(contract.webhook_schema(payload["type"]), payload)
    for dispatch_id in ids:
        problems += contract.errors("Dispatch", await api.dispatch(dispatch_id))
    listing = await api.client.get("/api/v1/dispatches", headers=api.auth)
    problems += contract.errors("DispatchPage", await listing.json())
    assert problems == []
    assert len(receiver.calls) > len(WebhookEventType)
