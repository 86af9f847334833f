"""The HTTP surface, pinned: the OpenAPI document and the README's walk-through, answer by answer.

Every answer the walk gets (status, content type, headers, body) is recorded and compared with
tests/integration/api/golden_walkthrough.json, so that moving code around can show it changed
nothing a case system or a recipient sees. Only what is random per run is replaced, each distinct
value by a numbered placeholder in order of first appearance (equal values stay equal); times
come from the manual clock and stay as they are. ``SONGDA_UPDATE_GOLDEN=1`` rewrites the file
instead.

This module and the recorder in support.py import nothing from the code they pin (whose modules
may move): only the harness.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from api_client import Api
from conftest import COURT, MINIMAL_PDF, settled
from helpers import link_path
from webhook_receiver import Receiver, receiving

from integration.api.support import Placeholders, Walk

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]

GOLDEN = Path(__file__).parent / "golden_walkthrough.json"
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _upload(title: str, kind: str, content: bytes = MINIMAL_PDF) -> FormData:
    form = FormData()
    form.add_field("title", title)
    form.add_field("kind", kind)
    form.add_field("file", content, filename="summons.pdf", content_type="application/pdf")
    return form


def readme_dispatch(document_id: str, reference: str = "demo-1") -> dict[str, Any]:
    """Step 2 of the README's walk-through (on the tests' court)."""
    return {
        "court": COURT,
        "case_number": "(2026)浙0106民初1234号",
        "reference": reference,
        "documents": [document_id],
        "recipient": {
            "name": "张三",
            "role": "defendant",
            "id_number": "33010619900101123X",
            "e_service_consent": {"given": True, "basis": "express"},
            "emails": [{"address": "zhangsan@example.com", "source": "court_found"}],
        },
    }


async def _case_system_sets_up(walk: Walk, receiver_url: str) -> tuple[str, str]:
    """The OpenAPI document, health, a webhook endpoint, the README's upload: the document's
    and the endpoint's ids."""
    await walk.call("the OpenAPI document", "GET", "/api/v1/openapi.json")
    await walk.call("health", "GET", "/healthz", key=False)
    endpoint = await walk.call(
        "register a webhook endpoint",
        "POST",
        "/api/v1/webhook-endpoints",
        json={"url": receiver_url},
    )
    await walk.call("list webhook endpoints", "GET", "/api/v1/webhook-endpoints")
    document = await walk.call(
        "1. upload the document", "POST", "/api/v1/documents", data=_upload("传票", "summons")
    )
    return str(document["id"]), str(endpoint["id"])


async def _dispatch_is_created(walk: Walk, document_id: str) -> str:
    body = readme_dispatch(document_id)
    created = await walk.call("2. create the dispatch", "POST", "/api/v1/dispatches", json=body)
    dispatch = {"id": str(created["id"])}
    await settled(walk.api.ctx)  # the e-mail is sent: the answers below show it so
    await walk.call(
        "2. the same again, with its Idempotency-Key",
        "POST",
        "/api/v1/dispatches",
        json=body,
        headers={"Idempotency-Key": "demo-1"},
    )
    await walk.call(
        "the same reference with another body",
        "POST",
        "/api/v1/dispatches",
        json={**body, "case_number": "(2026)浙0106民初9999号"},
    )
    await walk.call("read it (e-mail sent)", "GET", "/api/v1/dispatches/{id}", dispatch)
    await walk.call(
        "list dispatches of the case",
        "GET",
        "/api/v1/dispatches",
        params={"case_number": "(2026)浙0106民初1234号", "limit": "10"},
    )
    return dispatch["id"]


async def _recipient_reads(walk: Walk, document_id: str) -> None:
    """Steps 3-4: the e-mail in the sandbox mailbox, a day later its link, the identity check
    (once wrong), the documents page and the download."""
    mailbox = await walk.call("3. the sandbox mailbox", "GET", "/sandbox/api/messages", key=False)
    await walk.call(
        "a day later (sandbox clock)",
        "POST",
        "/sandbox/api/clock",
        key=False,
        json={"advance": "P1DT3H"},
    )
    await settled(walk.api.ctx)
    link = {"token": link_path(mailbox["items"][0]["text"]).removeprefix("/r/")}
    await walk.call("4. open the link", "GET", "/r/{token}", link, key=False)
    await walk.call(
        "4. a wrong identity check",
        "POST",
        "/r/{token}/verify",
        link,
        key=False,
        data={"last4": "0000"},
    )
    await walk.call(
        "4. the identity check",
        "POST",
        "/r/{token}/verify",
        link,
        key=False,
        data={"last4": "123X"},
    )
    await walk.call("4. the documents page", "GET", "/r/{token}", link, key=False)
    await walk.call(
        "4. download the summons",
        "GET",
        "/r/{token}/documents/{document_id}",
        {**link, "document_id": document_id},
        key=False,
    )
    await settled(walk.api.ctx)


async def _proof_is_read(walk: Walk, dispatch_id: str) -> None:
    """Step 5 and *Proof and verification*: the served dispatch, its certificate, its bundle,
    the court's published keys and the QR page."""
    dispatch = {"id": dispatch_id}
    served = await walk.call("5. the served dispatch", "GET", "/api/v1/dispatches/{id}", dispatch)
    await walk.call("the proof of service", "GET", "/api/v1/dispatches/{id}/proof.pdf", dispatch)
    await walk.call("the evidence bundle", "GET", "/api/v1/dispatches/{id}/evidence.zip", dispatch)
    await walk.call("the court keys", "GET", "/.well-known/songda-keys.json", key=False)
    await walk.call(
        "the court certificates", "GET", "/.well-known/songda-court-certificates.json", key=False
    )
    head = next(e for e in served["events"] if e["type"] == "dispatch_served")["hash"]
    await walk.call("the QR page", "GET", "/verify/{id}", dispatch, key=False, params={"h": head})


async def _second_dispatch_is_cancelled(walk: Walk, document_id: str) -> None:
    created = await walk.call(
        "another dispatch",
        "POST",
        "/api/v1/dispatches",
        json=readme_dispatch(document_id, "demo-2"),
    )
    await settled(walk.api.ctx)
    await walk.call(
        "cancel it",
        "POST",
        "/api/v1/dispatches/{id}/cancel",
        {"id": str(created["id"])},
        json={"reason": "撤诉"},
    )
    await settled(walk.api.ctx)
    await walk.call("list all dispatches", "GET", "/api/v1/dispatches")
    await walk.call(
        "list served dispatches", "GET", "/api/v1/dispatches", params={"state": "served"}
    )


async def _reports_are_read(walk: Walk) -> None:
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    await walk.call(
        "the report by channel",
        "GET",
        "/api/v1/reports/service",
        params={**period, "group_by": "channel"},
    )
    await walk.call(
        "the report by month, as CSV",
        "GET",
        "/api/v1/reports/service.csv",
        params={**period, "group_by": "month"},
    )
    await walk.call("webhook deliveries", "GET", "/api/v1/webhook-deliveries")


async def _errors_are_answered(walk: Walk, document_id: str, endpoint_id: str) -> None:
    missing = readme_dispatch(document_id, "demo-3")
    del missing["case_number"]
    await walk.call("422: a field missing", "POST", "/api/v1/dispatches", json=missing)
    unknown = {"id": UNKNOWN_ID}
    await walk.call("404: an unknown dispatch", "GET", "/api/v1/dispatches/{id}", unknown)
    await walk.call(
        "404: an unknown dispatch's bundle", "GET", "/api/v1/dispatches/{id}/evidence.zip", unknown
    )
    await walk.call("401: no key", "POST", "/api/v1/dispatches", key=False, json={})
    await walk.call(
        "415: not JSON",
        "POST",
        "/api/v1/dispatches",
        data=b"{}",
        headers={"Content-Type": "text/plain"},
    )
    await walk.call(
        "400: broken JSON",
        "POST",
        "/api/v1/dispatches",
        data=b'{"court": ',
        headers={"Content-Type": "application/json"},
    )
    await walk.call(
        "415: an upload that is not a PDF",
        "POST",
        "/api/v1/documents",
        data=_upload("传票", "summons", b"GIF89a not a pdf"),
    )
    await walk.call(
        "422: a bad list parameter", "GET", "/api/v1/dispatches", params={"state": "lost"}
    )
    await walk.call(
        "422: a bad webhook endpoint",
        "POST",
        "/api/v1/webhook-endpoints",
        json={"url": "ftp://x", "event_types": ["nope"]},
    )
    await walk.call(
        "delete the webhook endpoint",
        "DELETE",
        "/api/v1/webhook-endpoints/{id}",
        {"id": endpoint_id},
    )


async def _cases_are_linked(walk: Walk) -> None:
    """A first instance and its appeal linked (CPL-INT-137), read, and a case of theirs refused
    to another group."""
    group = {"group_id": "case-family-1"}
    cases = [{"case_number": "(2026)浙0106民初1234号"}, {"case_number": "(2026)浙01民终88号"}]
    await walk.call(
        "link the appeal to its first instance",
        "PUT",
        "/api/v1/case-groups/{group_id}",
        group,
        json={"court": COURT, "cases": cases},
    )
    await walk.call(
        "read the group", "GET", "/api/v1/case-groups/{group_id}", group, params={"court": COURT}
    )
    await walk.call(
        "409: a linked case into another group",
        "PUT",
        "/api/v1/case-groups/{group_id}",
        {"group_id": "case-family-2"},
        json={"court": COURT, "cases": cases[1:]},
    )


async def test_the_http_surface_is_unchanged(sandbox_api: Api) -> None:
    walk = Walk(sandbox_api)
    async with receiving(Receiver()) as receiver:
        document_id, endpoint_id = await _case_system_sets_up(walk, receiver.url)
        dispatch_id = await _dispatch_is_created(walk, document_id)
        await _recipient_reads(walk, document_id)
        await _proof_is_read(walk, dispatch_id)
        await _second_dispatch_is_cancelled(walk, document_id)
        await _reports_are_read(walk)
        await _errors_are_answered(walk, document_id, endpoint_id)
        await _cases_are_linked(walk)
    text = (
        json.dumps(Placeholders(receiver.url).apply(walk.steps), ensure_ascii=False, indent=2)
        + "\n"
    )
    _compare_with_golden(text)


def _compare_with_golden(text: str) -> None:
    if os.environ.get("SONGDA_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        return
    golden = GOLDEN.read_text(encoding="utf-8")
    diff = difflib.unified_diff(
        golden.splitlines(keepends=True), text.splitlines(keepends=True), str(GOLDEN), "this run"
    )
    if text != golden:
        pytest.fail(
            "the HTTP surface changed (SONGDA_UPDATE_GOLDEN=1 rewrites the golden file):\n"
            + "".join(diff),
            pytrace=False,
        )
