"""Bulk actions from the queue (issue 14): one action and one note for the selected rows, each
dispatch its own transaction and event, and a summary of what was refused and why."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_client import Api
from conftest import OTHER_COURT
from helpers import form_csrf, log_in, staff_account

from delivery.sandbox.pages import SmtpSink
from delivery.vocabulary import EventType
from integration.staff.support import FOUND, NOTE, case_dispatch, other_court_system

pytestmark = pytest.mark.usefixtures("worker")

URL = "/staff/queue/actions"
REFUSED_RE = re.compile(r'<tr data-dispatch="([0-9A-Z]{26})" data-why="([a-z_]+)">')


async def _bulk(api: Api, csrf: str, action: str, *ids: str, status: int = 200, **more: str) -> str:
    data: list[tuple[str, str]] = [("csrf_token", csrf), ("action", action)]
    data += [("dispatch", i) for i in ids] + list(more.items())
    response = await api.client.post(URL, data=data)
    html = await response.text()
    assert response.status == status, html
    return html


def _refused(html: str) -> dict[str, str]:
    return dict(REFUSED_RE.findall(html))


async def _of_type(api: Api, dispatch_id: str, event_type: str) -> list[Any]:
    return [e for e in await api.events(dispatch_id) if e.type == event_type]


async def test_one_action_for_many_each_its_own_event_and_refusals_named(api: Api) -> None:
    wang, password = await staff_account(api.ctx, username="wang", display_name="王书记员")
    li, _ = await staff_account(api.ctx, username="li", display_name="李书记员")
    first = await case_dispatch(api, "bk-1", source=FOUND)
    second = await case_dispatch(api, "bk-2", case_number="(2026)浙0106民初2号", source=FOUND)
    served = await case_dispatch(api, "bk-3", case_number="(2026)浙0106民初3号")
    await api.until_state(served, "served")
    other = await case_dispatch(await other_court_system(api), "bk-4", court=OTHER_COURT)
    await log_in(api.client, wang.username, password)
    queue = await (await api.client.get("/staff/queue?view=all")).text()
    csrf = form_csrf(queue)
    for dispatch_id in (first, second, served):
        assert f'name="dispatch" value="{dispatch_id}"' in queue  # a checkbox on each row

    # Escalate: the open ones go on to the next step; served and another court's are refused.
    html = await _bulk(api, csrf, "escalate", first, second, served, other, first, note=NOTE)
    assert 'data-done="2" data-refused="2"' in html
    assert _refused(html) == {served: "not_allowed", other: "not_found"}
    assert "送达任务状态为“已送达”，不能执行" in html
    assert "本院没有该送达任务" in html
    for dispatch_id in (first, second):
        [escalated] = await _of_type(api, dispatch_id, EventType.CLERK_ESCALATED)
        assert (escalated.actor, escalated.data["note"]) == (wang.actor, NOTE)
    assert await _of_type(api, served, EventType.CLERK_ESCALATED) == []

    # Reassign: allowed in every state, one event per dispatch. Round-robin gave each an
    # owner: first all go to li, then all to wang; to wang again, each is refused with the
    # reason, in the page's language.
    html = await _bulk(
        api, csrf, "reassign_owner", first, second, served, owner_id=li.id, note=NOTE
    )
    assert set(_refused(html).values()) <= {"refused"}
    html = await _bulk(
        api, csrf, "reassign_owner", first, second, served, owner_id=wang.id, note=NOTE
    )
    assert 'data-done="3" data-refused="0"' in html
    for dispatch_id in (first, second, served):
        moved = await _of_type(api, dispatch_id, EventType.OWNER_REASSIGNED)
        assert (moved[-1].data["owner_id"], moved[-1].data["note"]) == (wang.id, NOTE)
        assert moved[-1].actor == wang.actor
    html = await _bulk(
        api, csrf, "reassign_owner", first, second, owner_id=wang.id, note=NOTE, lang="en"
    )
    assert _refused(html) == {first: "refused", second: "refused"}
    assert "that clerk already owns the dispatch" in html

    # Cancel: the open ones are cancelled; the served one stays served.
    html = await _bulk(api, csrf, "cancel", first, second, served, note=NOTE)
    assert _refused(html) == {served: "not_allowed"}
    for dispatch_id in (first, second):
        assert (await api.dispatch(dispatch_id))["state"] == "cancelled"
    assert (await api.dispatch(served))["state"] == "served"
    assert 'href="/staff/queue"' in html  # back to the queue


async def test_a_request_wrong_as_a_whole_changes_nothing(api: Api) -> None:
    wang, password = await staff_account(api.ctx, username="wang")
    dispatch_id = await case_dispatch(api, "bw-1", source=FOUND)
    await log_in(api.client, wang.username, password)
    csrf = form_csrf(await (await api.client.get("/staff/queue?view=all")).text())
    before = await api.event_types(dispatch_id)

    no_note = await _bulk(api, csrf, "cancel", dispatch_id, status=422)
    assert 'data-field="note"' in no_note and 'role="alert"' in no_note
    assert 'data-field="dispatch"' in await _bulk(api, csrf, "cancel", status=422, note=NOTE)
    assert 'data-field="action"' in await _bulk(
        api, csrf, "record_rebuttal", dispatch_id, status=422, note=NOTE
    )
    assert 'data-field="owner_id"' in await _bulk(
        api, csrf, "reassign_owner", dispatch_id, status=422, note=NOTE
    )
    assert await api.event_types(dispatch_id) == before
    assert (await api.dispatch(dispatch_id))["state"] != "cancelled"

    # Without the session's CSRF token nothing is read.
    response = await api.client.post(
        URL, data={"action": "cancel", "dispatch": dispatch_id, "note": NOTE}
    )
    assert response.status == 403


async def test_a_bulk_request_for_address_confirmation_sends_each_its_link(
    api: Api, smtp_sink: SmtpSink
) -> None:
    """The queue's bulk action asks each selected recipient to confirm their addresses: one
    request and one message each; a served dispatch is refused by name."""
    clerk, password = await staff_account(api.ctx, username="wang", display_name="王书记员")
    first = await case_dispatch(api, "bc-1", source=FOUND)
    second = await case_dispatch(api, "bc-2", case_number="(2026)浙0106民初2号", source=FOUND)
    served = await case_dispatch(api, "bc-3", case_number="(2026)浙0106民初3号")
    await api.until_state(served, "served")
    await log_in(api.client, clerk.username, password)
    queue = await (await api.client.get("/staff/queue?view=all")).text()
    assert 'value="request_address_confirmation"' in queue
    action = "request_address_confirmation"
    html = await _bulk(api, form_csrf(queue), action, first, second, served, note=NOTE)
    assert 'data-done="2" data-refused="1"' in html
    assert _refused(html) == {served: "not_allowed"}
    for dispatch_id in (first, second):
        [request] = await _of_type(api, dispatch_id, EventType.ADDRESS_CONFIRMATION_REQUESTED)
        assert request.actor == f"staff:{clerk.id}"
        [sent] = await _of_type(api, dispatch_id, EventType.ADDRESS_CONFIRMATION_REQUEST_SENT)
        assert sent.data["outcome"] == "accepted"
    assert sum("/c/" in m.text for m in smtp_sink.messages) == 2
