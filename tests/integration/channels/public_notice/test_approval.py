"""Public notice: the clerk's edit and the supervisor's approval through the API — who may
approve, the text read (title and body) and not a later one, no approval while another method
is under way — and service once the period has run on the injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_client import Api, dispatch_body
from conftest import COURT, eventually, settled
from helpers import form_csrf, log_in, staff_account
from webhook_receiver import Receiver, receiving

from delivery.clock import rfc3339
from delivery.representations import notice_text_sha256
from delivery.services.sweep import sweep
from delivery.staff import Role
from integration.channels.public_notice.support import (
    FILLED,
    NOTE,
    PHONE,
    TEXT_SHA256_RE,
    ZONE,
    act,
    advance,
    approve,
    documents_of,
    drafted,
    filled_in,
    notice_dispatch,
    notice_row,
    reviewed,
    supervisor,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


async def test_a_clerk_edits_and_a_supervisor_approves_then_30_days_serve(api: Api) -> None:
    """The clerk's edit (old and new SHA-256), the refusals (blanks; a clerk or an API key: 403,
    nothing stored; other_methods_failed with no method tried), the supervisor's approval that
    publishes, and service 30 days after the publication (CPL-95)."""
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.notice_published", "dispatch.served"])
        created = await notice_dispatch(api)
        dispatch_id = created["id"]
        original = await drafted(api, dispatch_id)

        headers = await supervisor(api)
        blanks = await approve(api, dispatch_id, headers)
        assert blanks.status == 409 and "blanks" in (await blanks.json())["detail"]

        clerk, password = await staff_account(api.ctx, Role.CLERK)
        clerk_headers = {"X-CSRF-Token": await log_in(api.client, clerk.username, password)}
        body = "张三：\n" + FILLED.format("《民事起诉状》") + "\n" + COURT
        edited = await act(api, dispatch_id, "edit_notice", clerk_headers, body=body)
        assert edited.status == 200, await edited.text()
        notice = await notice_row(api, dispatch_id)
        assert notice["body"] == body + "\n" and notice["state"] == "draft"
        [event] = [e for e in await api.events(dispatch_id) if e.type == "notice_edited"]
        assert event.actor == f"staff:{clerk.id}"
        assert event.data["old_sha256"] != event.data["new_sha256"]
        assert event.data["notice_id"] == original["id"]

        before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
        for who in (clerk_headers, api.auth):
            refused = await approve(api, dispatch_id, who)
            assert refused.status == 403
            assert (await refused.json())["type"].endswith("role-required")
        assert await api.events(dispatch_id) == before_events
        assert await api.table_counts() == before_counts
        assert (await notice_row(api, dispatch_id))["state"] == "draft"

        headers = await supervisor(api)
        nothing_tried = await approve(api, dispatch_id, headers, "other_methods_failed")
        assert nothing_tried.status == 409
        assert await api.events(dispatch_id) == before_events
        unnamed = await act(
            api, dispatch_id, "approve_notice", headers, reason="whereabouts_unknown"
        )
        assert unnamed.status == 422 and "text_sha256" in await unnamed.text()
        assert await api.events(dispatch_id) == before_events

        advance(api, timedelta(hours=3))
        published_at = api.ctx.clock.now()
        approved = await approve(api, dispatch_id, headers)
        assert approved.status == 200, await approved.text()
        dispatch = await approved.json()
        deemed = published_at + timedelta(days=30)
        assert dispatch["state"] == "notice_pending"
        assert dispatch["next_action_at"] == rfc3339(deemed)
        [attempt] = dispatch["attempts"]
        assert attempt["state"] == "sent"
        types = [e["type"] for e in dispatch["events"]]
        assert types[-2:] == ["notice_approved", "notice_published"]
        approval = next(e for e in dispatch["events"] if e["type"] == "notice_approved")
        assert approval["data"]["reason"] == "whereabouts_unknown"
        assert approval["data"]["sha256"] == event.data["new_sha256"]
        assert approval["data"]["methods_tried"] == []
        assert approval["actor"].startswith("staff:")
        publication = dispatch["events"][-1]
        assert publication["data"]["place"] == "court_website"
        assert publication["occurred_at"] == rfc3339(published_at)
        notice = await notice_row(api, dispatch_id)
        assert notice["state"] == "published"
        assert notice["first_published_at"] == notice["last_published_at"] == published_at
        assert notice["deemed_served_at"] == deemed
        assert notice["reason"]["reason"] == "whereabouts_unknown"
        await eventually(receiver.has("dispatch.notice_published"))

        advance(api, timedelta(days=30) - timedelta(minutes=1))
        await sweep(api.ctx)
        await settled(api.ctx)
        assert (await api.dispatch(dispatch_id))["state"] == "notice_pending"
        advance(api, timedelta(minutes=1))
        await sweep(api.ctx)
        served = await api.until_state(dispatch_id, "served")
        assert (served["legal_basis"], served["served_by_channel"]) == ("CPL-95", "public_notice")
        assert served["served_at"] == rfc3339(deemed)
        assert served["service_date"] == deemed.astimezone(ZONE).date().isoformat()
        # A deemed service is not rebutted by a clerk (OLR-31's grounds are e-service ones).
        assert served["allowed_actions"] == ["reassign_owner"]
        rebutted = await act(api, dispatch_id, "record_rebuttal", reason="system_error")
        assert rebutted.status == 409
        await eventually(receiver.has("dispatch.served"))


async def test_an_approval_of_a_stale_text_is_refused(api: Api) -> None:
    """The supervisor read the text; a clerk edits it before the approval arrives: 409 and
    nothing changes (API and page). Approving the text now shown works."""
    created = await notice_dispatch(api)
    dispatch_id = str(created["id"])
    notice = await drafted(api, dispatch_id)
    await filled_in(api, dispatch_id)
    headers = await supervisor(api)
    read = await reviewed(api, dispatch_id, headers)
    page_path = f"/staff/notices/{notice['id']}"
    html = await (await api.client.get(page_path)).text()
    shown = TEXT_SHA256_RE.search(html)
    assert shown is not None and shown.group(1) == read

    edited_body = "张三：\n" + FILLED.format("《起诉状》（已改）") + "\n" + COURT
    assert (await act(api, dispatch_id, "edit_notice", body=edited_body)).status == 200
    before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
    before_notice = await notice_row(api, dispatch_id)

    stale = await act(
        api, dispatch_id, "approve_notice", headers, reason="whereabouts_unknown", text_sha256=read
    )
    assert stale.status == 409, await stale.text()
    assert "changed" in (await stale.json())["detail"]
    page = await api.client.post(
        f"{page_path}/approve",
        data={
            "csrf_token": form_csrf(html),
            "reason": "whereabouts_unknown",
            "note": NOTE,
            "text_sha256": read,
        },
        allow_redirects=False,
    )
    assert page.status == 409
    again = await page.text()
    assert "《起诉状》（已改）" in again  # the page now shows the edited text
    assert await api.events(dispatch_id) == before_events
    assert await api.table_counts() == before_counts
    assert await notice_row(api, dispatch_id) == before_notice
    for bad in ("", "not-a-hash", read[:-1]):
        malformed = await act(
            api,
            dispatch_id,
            "approve_notice",
            headers,
            reason="whereabouts_unknown",
            text_sha256=bad,
        )
        assert malformed.status == 422, bad

    current = TEXT_SHA256_RE.search(again)
    assert current is not None and current.group(1) != read
    approved = await api.client.post(
        f"{page_path}/approve",
        data={
            "csrf_token": form_csrf(again),
            "reason": "whereabouts_unknown",
            "note": NOTE,
            "text_sha256": current.group(1),
        },
        allow_redirects=False,
    )
    assert approved.status == 303, await approved.text()
    [approval] = [e for e in await api.events(dispatch_id) if e.type == "notice_approved"]
    assert approval.data["sha256"] == current.group(1)
    title = (await notice_row(api, dispatch_id))["title"]
    assert approval.data["sha256"] == notice_text_sha256(title, edited_body + "\n")
    dispatch = await api.dispatch(dispatch_id)
    assert dispatch["notice"]["state"] == "published"
    assert dispatch["notice"]["body"] == edited_body + "\n"


async def test_no_approval_while_another_method_is_under_way(api: Api) -> None:
    """CPL-95's last resort: consent recorded during the notice step re-opens e-service on the
    known (court-found) address and number; until that ends, the notice cannot be approved."""
    body = dispatch_body(await documents_of(api, [("complaint", "民事起诉状")]), consent=False)
    body["recipient"]["emails"][0]["source"] = "court_found"
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    dispatch_id = (await api.create(body))["id"]
    await drafted(api, dispatch_id)
    await filled_in(api, dispatch_id)
    consented = await act(api, dispatch_id, "record_consent", basis="express")
    assert consented.status == 200, await consented.text()
    headers = await supervisor(api)
    before = await api.event_types(dispatch_id)
    refused = await approve(api, dispatch_id, headers)
    assert refused.status == 409
    assert "still under way (email, sms)" in (await refused.json())["detail"]
    assert await api.event_types(dispatch_id) == before
    assert (await notice_row(api, dispatch_id))["state"] == "draft"

    # E-service runs for its step's window (3 days), then only the notice is left.
    advance(api, timedelta(days=3))
    await sweep(api.ctx)
    await api.until(
        dispatch_id,
        lambda d: all(
            a["state"] == "expired" for a in d["attempts"] if a["channel"] != "public_notice"
        ),
    )
    await settled(api.ctx)
    approved = await approve(api, dispatch_id, await supervisor(api))  # a new day, a new session
    assert approved.status == 200, await approved.text()


async def test_a_title_changed_after_review_is_not_approved_unseen(api: Api) -> None:
    """The title is published too: the approval covers title and body together."""
    created = await notice_dispatch(api)
    dispatch_id = created["id"]
    await drafted(api, dispatch_id)
    notice = await filled_in(api, dispatch_id)
    headers = await supervisor(api)
    read = await reviewed(api, dispatch_id, headers)
    retitled = await act(
        api, dispatch_id, "edit_notice", body=notice["body"], title="公告（已更正）"
    )
    assert retitled.status == 200, await retitled.text()
    stale = await act(
        api, dispatch_id, "approve_notice", headers, reason="whereabouts_unknown", text_sha256=read
    )
    assert stale.status == 409
    assert (await notice_row(api, dispatch_id))["state"] == "draft"
    assert (await approve(api, dispatch_id, headers)).status == 200
