"""The clerk's dispatch page: masked identity, the action forms (through the same clerk actions
as the API) and what they refuse, roles, court scope and CSRF."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_client import Api
from conftest import MINIMAL_PDF, OTHER_COURT
from helpers import proof_form
from pdf_checks import scan_pdf

from delivery.staff import Role
from integration.staff.support import FOUND, NOTE, case_dispatch, clerk_session, other_court_system

pytestmark = pytest.mark.usefixtures("worker")

ID_NUMBER = "33010619900101123X"
EMAIL = "zhang.san@example.com"


async def test_the_dispatch_page_masks_identity_and_shows_everything_else(api: Api) -> None:
    body = await api.new_dispatch_body(reference="d-1", source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    dispatch_id = (await api.create(body))["id"]
    await api.until_attempt(dispatch_id, "sent")
    await clerk_session(api, display_name="王书记员")
    response = await api.client.get(f"/staff/dispatches/{dispatch_id}")
    html = await response.text()
    assert response.status == 200, html
    for secret in (ID_NUMBER, EMAIL, "13800138000"):
        assert secret not in html
    assert "**************123X" in html
    assert "zh***@example.com" in html
    assert 'aria-current="step"' in html  # the e-mail step under way
    assert "案件系统" in html  # the API key created it: named by its source
    assert 'data-event="dispatch_created"' in html
    assert 'data-event="attempt_sent"' in html
    assert 'data-action="escalate"' in html
    assert 'data-action="record_consent"' not in html  # consent is already given
    assert "data-confirm=" in html
    # The document downloads with the session; streamed from the store.
    document = re.search(r'href="(/staff/dispatches/[0-9A-Z]{26}/documents/[0-9A-Z]{26})"', html)
    assert document is not None
    download = await api.client.get(document.group(1))
    assert download.status == 200
    assert await download.read() == MINIMAL_PDF
    english = await (await api.client.get(f"/staff/dispatches/{dispatch_id}?lang=en")).text()
    assert "Escalate to the next step" in english


async def test_escalate_through_the_page_records_the_clerk(api: Api) -> None:
    dispatch_id = await case_dispatch(api, "e-1", source="court_found")
    csrf = await clerk_session(api, display_name="王书记员")
    url = f"/staff/dispatches/{dispatch_id}/actions"

    missing = await api.client.post(url, data={"csrf_token": csrf, "action": "escalate"})
    assert missing.status == 422
    assert "note" in await missing.text()
    assert "clerk_escalated" not in await api.event_types(dispatch_id)

    done = await api.client.post(
        url,
        data={"csrf_token": csrf, "action": "escalate", "note": NOTE},
        allow_redirects=False,
    )
    assert done.status == 303
    assert done.headers["Location"] == f"/staff/dispatches/{dispatch_id}?done=escalate"
    [escalated] = [e for e in await api.events(dispatch_id) if e.type == "clerk_escalated"]
    assert escalated.actor is not None and escalated.actor.startswith("staff:")
    assert escalated.data["note"] == NOTE
    page = await (await api.client.get(done.headers["Location"])).text()
    assert "已完成" in page
    assert "王书记员" in page  # the timeline names the clerk


async def test_each_action_form_goes_through_the_clerk_actions(api: Api) -> None:
    body = await api.new_dispatch_body(reference="f-1", consent=False, source=FOUND)
    body["recipient"]["postal_addresses"] = [
        {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "court_found"}
    ]
    dispatch_id = (await api.create(body))["id"]
    csrf = await clerk_session(api)
    url = f"/staff/dispatches/{dispatch_id}/actions"

    async def submit(action: str, **fields: str) -> Any:
        data = {"csrf_token": csrf, "action": action, "note": NOTE, **fields}
        response = await api.client.post(url, data=data, allow_redirects=False)
        assert response.status == 303, await response.text()

    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert 'data-action="record_consent"' in page
    await submit("add_contact", kind="phone", value="+8613900139000", source="court_found")
    await submit("record_consent", basis="express")
    await submit("retry_channel", channel="postal")
    await submit("skip_step", step="2")
    attempt = (await api.dispatch(dispatch_id))["attempts"][0]["id"]
    # CPL-87: the form is multipart, with the written date and the scan
    # (tests/integration/delivery/test_signed_proof.py)
    today = api.ctx.clock.now().astimezone(api.ctx.settings.zone).date().isoformat()
    fields = {"csrf_token": csrf, "action": "record_outcome", "note": NOTE, "attempt_id": attempt}
    signed = proof_form({**fields, "outcome": "proof_signed", "written_date": today}, scan_pdf())
    response = await api.client.post(url, data=signed, allow_redirects=False)
    assert response.status == 303, await response.text()
    types = await api.event_types(dispatch_id)
    for recorded in (
        "contact_added",
        "consent_recorded",
        "clerk_retried_channel",
        "clerk_skipped_step",
        "proof_signed",
    ):
        assert recorded in types
    served = await api.dispatch(dispatch_id)
    assert served["state"] == "served"
    assert served["legal_basis"] == "CPL-87"  # the signed proof completed service

    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert 'id="proof"' in page
    assert f"/api/v1/dispatches/{dispatch_id}/proof.pdf" in page
    assert f"/api/v1/dispatches/{dispatch_id}/evidence.zip" in page
    assert (await api.client.get(f"/api/v1/dispatches/{dispatch_id}/evidence.zip")).status == 200


async def test_a_detail_the_action_refuses_changes_nothing(api: Api) -> None:
    dispatch_id = await case_dispatch(api, "g-1", source=FOUND)
    csrf = await clerk_session(api)
    before = await api.event_types(dispatch_id)
    refused = await api.client.post(
        f"/staff/dispatches/{dispatch_id}/actions",
        data={"csrf_token": csrf, "action": "retry_channel", "channel": "fax", "note": NOTE},
    )
    assert refused.status == 422
    html = await refused.text()
    assert "请选择电子邮件、短信、法院专递或直接送达" in html  # the refusal in the page's language
    # The note the clerk wrote comes back in that action's form, not lost.
    assert f">{NOTE}</textarea>" in html.split('data-action="retry_channel"')[1]
    assert await api.event_types(dispatch_id) == before


async def test_a_step_that_is_not_a_number_is_refused_not_an_error(api: Api) -> None:
    dispatch_id = await case_dispatch(api, "g-2", source=FOUND)
    csrf = await clerk_session(api)
    before = await api.event_types(dispatch_id)
    for step in ("²", "x", "-1"):  # "²".isdigit() holds, yet int("²") raises
        refused = await api.client.post(
            f"/staff/dispatches/{dispatch_id}/actions",
            data={"csrf_token": csrf, "action": "skip_step", "step": step, "note": NOTE},
        )
        assert refused.status == 422, step
        assert "请选择送达方案中靠后的步骤" in await refused.text()
    assert await api.event_types(dispatch_id) == before


async def test_cancel_then_an_action_not_allowed_any_more(api: Api) -> None:
    dispatch_id = await case_dispatch(api, "c-1", source="court_found")
    csrf = await clerk_session(api)
    url = f"/staff/dispatches/{dispatch_id}/actions"
    cancel = await api.client.post(
        url, data={"csrf_token": csrf, "action": "cancel", "note": NOTE}, allow_redirects=False
    )
    assert cancel.status == 303
    assert (await api.dispatch(dispatch_id))["state"] == "cancelled"
    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert 'data-action="escalate"' not in page  # only what the state allows
    events = await api.event_types(dispatch_id)

    refused = await api.client.post(
        url, data={"csrf_token": csrf, "action": "escalate", "note": NOTE}
    )
    assert refused.status == 409
    assert "送达任务当前为“已撤销”，不能执行" in await refused.text()
    assert await api.event_types(dispatch_id) == events


async def test_roles_court_scope_and_csrf(api: Api) -> None:
    mine = await case_dispatch(api, "a-1", source="court_found")
    other_court = await other_court_system(api)
    theirs = await case_dispatch(other_court, "a-2", court=OTHER_COURT, source="court_found")
    document = (await api.dispatch(mine))["documents"][0]["id"]
    paths = [
        "/staff/queue",
        f"/staff/dispatches/{mine}",
        f"/staff/dispatches/{mine}/documents/{document}",
    ]

    csrf = await clerk_session(api, Role.FIELD_SERVER)
    for path in paths:
        assert (await api.client.get(path, allow_redirects=False)).status == 403, path
    forbidden = await api.client.post(
        f"/staff/dispatches/{mine}/actions",
        data={"csrf_token": csrf, "action": "escalate", "note": NOTE},
    )
    assert forbidden.status == 403

    csrf = await clerk_session(api)
    assert (await api.client.get(f"/staff/dispatches/{theirs}")).status == 404
    other_document = (await other_court.dispatch(theirs))["documents"][0]["id"]
    assert (
        await api.client.get(f"/staff/dispatches/{theirs}/documents/{other_document}")
    ).status == 404
    assert (
        await api.client.get(f"/staff/dispatches/{mine}/documents/{other_document}")
    ).status == 404
    assert (
        await api.client.post(
            f"/staff/dispatches/{theirs}/actions",
            data={"csrf_token": csrf, "action": "escalate", "note": NOTE},
        )
    ).status == 404
    no_csrf = await api.client.post(
        f"/staff/dispatches/{mine}/actions", data={"action": "escalate", "note": NOTE}
    )
    assert no_csrf.status == 403
    # A clerk may not approve a notice, not even through the dispatch page.
    approve = await api.client.post(
        f"/staff/dispatches/{mine}/actions",
        data={"csrf_token": csrf, "action": "approve_notice", "note": NOTE},
    )
    assert approve.status == 403
    assert "clerk_escalated" not in await api.event_types(mine)
    assert "clerk_escalated" not in await api.event_types(theirs)

    await api.client.post("/logout", data={"csrf_token": csrf})
    login = await api.client.get("/staff/queue", allow_redirects=False)
    assert login.status == 302
