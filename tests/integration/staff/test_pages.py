"""The clerk's queue page and dispatch page: filters, counts, paging, the "needs action" columns,
masked identity, the action forms (through the same clerk actions as the API), roles, court
scope and CSRF, and a queue page whose number of queries does not grow with its size."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from conftest import COURT, MINIMAL_PDF, OTHER_COURT, eventually, settled
from helpers import (
    Api,
    Receiver,
    dispatch_body,
    log_in,
    proof_form,
    receiving,
    scan_pdf,
    staff_account,
)
from sqlalchemy import event

from delivery.services.api_keys import create_api_key
from delivery.staff import Role

pytestmark = pytest.mark.usefixtures("worker")

ID_NUMBER = "33010619900101123X"
EMAIL = "zhang.san@example.com"
FOUND = "court_found"  # an address the court found: served only once read
NOTE = "电话核实，受送达人已搬离 / checked by phone"
ROW_RE = re.compile(r'data-dispatch="([0-9A-Z]{26})"')
COUNT_RE = re.compile(r'data-state="([a-z_]+)">[^<]*<span class="count">(\d+)</span>')
NEXT_RE = re.compile(r'href="([^"]+)" rel="next"')


async def _clerk(api: Api, *roles: Role, **options: Any) -> str:
    """Log a clerk (or ``roles``) in on the test client; the session's CSRF token."""
    user, password = await staff_account(api.ctx, *roles, **options)
    return await log_in(api.client, user.username, password)


async def _dispatch(
    api: Api,
    reference: str,
    *,
    case_number: str = "(2026)浙0106民初1234号",
    name: str = "张三",
    **options: Any,
) -> str:
    body = await api.new_dispatch_body(reference=reference, **options)
    body["case_number"] = case_number
    body["recipient"]["name"] = name
    return str((await api.create(body))["id"])


async def _queue(api: Api, status: int = 200, **params: str) -> str:
    response = await api.client.get("/staff/queue", params=params)
    text = await response.text()
    assert response.status == status, text
    return text


def _rows(html: str) -> list[str]:
    return ROW_RE.findall(html)


def _counts(html: str) -> dict[str, int]:
    return {state: int(n) for state, n in COUNT_RE.findall(html)}


async def _other_court(api: Api) -> Api:
    """The case system of another court (its own API key)."""
    _key, token = await create_api_key(api.ctx.engine, api.ctx.clock, "other", [OTHER_COURT])
    return Api(api.client, {"Authorization": f"Bearer {token}"}, api.ctx)


async def test_each_filter_narrows_the_queue_and_counts_follow_it(api: Api) -> None:
    first = await _dispatch(
        api, "q-1", case_number="(2026)浙0106民初1号", name="张三", source=FOUND
    )
    second = await _dispatch(
        api, "q-2", case_number="(2026)浙0106民初2号", name="李四", source=FOUND
    )
    cancelled = await _dispatch(
        api, "q-3", case_number="(2026)浙0106民初3号", name="张五", source=FOUND
    )
    response = await api.client.post(f"/api/v1/dispatches/{cancelled}/cancel", headers=api.auth)
    assert response.status == 200, await response.text()
    other = await _dispatch(await _other_court(api), "q-4", court=OTHER_COURT, name="张六")
    await _clerk(api)

    everything = await _queue(api)
    assert _rows(everything) == [cancelled, second, first]  # newest first; no other court
    assert other not in everything
    assert _counts(everything)["in_progress"] == 2
    assert _counts(everything)["cancelled"] == 1

    assert _rows(await _queue(api, state="cancelled")) == [cancelled]
    assert _rows(await _queue(api, case_number="(2026)浙0106民初2号")) == [second]
    assert _rows(await _queue(api, recipient="张")) == [cancelled, first]
    assert _rows(await _queue(api, recipient="李四")) == [second]
    assert _rows(await _queue(api, recipient="%")) == []  # a wildcard is taken literally
    assert _rows(await _queue(api, channel="email")) == [second, first]  # open attempts only
    assert _rows(await _queue(api, channel="postal")) == []
    today = "2026-11-23"  # START is 10:00 in Shanghai on 23 November
    assert _rows(await _queue(api, created_from=today, created_to=today)) == [
        cancelled,
        second,
        first,
    ]
    assert _rows(await _queue(api, created_from="2026-11-24")) == []
    assert _rows(await _queue(api, created_to="2026-11-22")) == []
    assert _rows(await _queue(api, served_from=today)) == []
    assert _rows(await _queue(api, court=OTHER_COURT, status=400)) == []

    # Counts per state are for the filter without its state.
    narrowed = await _queue(api, recipient="张", state="in_progress")
    assert _rows(narrowed) == [first]
    assert _counts(narrowed) == {
        "queued": 0,
        "in_progress": 1,
        "notice_pending": 0,
        "served": 0,
        "failed": 0,
        "cancelled": 1,
    }
    # Switching the language keeps the filter.
    switch = re.search(r'<a href="([^"]+)">English</a>', narrowed)
    assert switch is not None
    english = await (await api.client.get(switch.group(1).replace("&amp;", "&"))).text()
    assert _rows(english) == [first]
    assert '<html lang="en">' in english
    # A bad value: the form again, with the reason.
    bad = await _queue(api, created_from="23/11/2026", status=400)
    assert "created_from" in bad and 'class="error"' in bad


async def test_served_dates_in_the_court_zone(api: Api) -> None:
    served = await _dispatch(api, "s-1")  # a confirmed address: served on the server's acceptance
    await api.until_state(served, "served")
    open_one = await _dispatch(api, "s-2", source="court_found")
    await _clerk(api)
    assert _rows(await _queue(api, served_from="2026-11-23", served_to="2026-11-23")) == [served]
    assert _rows(await _queue(api, served_to="2026-11-22")) == []
    assert open_one in _rows(await _queue(api))


async def test_cursor_paging_newest_first(api: Api) -> None:
    ids = [await _dispatch(api, f"p-{i}") for i in range(5)]
    await _clerk(api)
    seen: list[str] = []
    url: str | None = "/staff/queue?limit=2"
    pages = 0
    while url is not None:
        response = await api.client.get(url)
        html = await response.text()
        assert response.status == 200, html
        seen += _rows(html)
        found = NEXT_RE.search(html)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 3
    assert seen == list(reversed(ids))
    assert (await api.client.get("/staff/queue?cursor=nonsense")).status == 400


async def test_the_action_columns_show_what_needs_a_person(api: Api) -> None:
    # at risk: a summons with the hearing in 4 days (e-mail alone may take 3)
    response = await api.upload(title="传票", kind="summons")
    body = dispatch_body([(await response.json())["id"]], source="court_found", reference="r-1")
    body["hearing_at"] = "2026-11-27T09:00:00+08:00"
    at_risk = (await api.create(body))["id"]
    # awaiting approval: no consent and no address: straight to a draft public notice
    body = await api.new_dispatch_body(reference="r-2", consent=False)
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    notice = (await api.create(body))["id"]
    await api.until(notice, lambda d: any(e["type"] == "notice_drafted" for e in d["events"]))
    # webhook failures: the case system's receiver is gone (410)
    async with receiving(Receiver(status=410)) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.created"])
        hooked = await _dispatch(api, "r-3", source="court_found")
        await eventually(receiver.called(1))
    await settled(api.ctx)
    await _clerk(api)

    html = await _queue(api)
    flags = _flags(html)
    assert set(flags) == {at_risk, notice, hooked}, html
    assert flags[at_risk] == {"at_risk"}
    assert flags[notice] == {"awaiting_approval"}
    assert flags[hooked] == {"webhook_failures"}
    assert "1 次回调失败" in html
    assert "/staff/notices/" in html

    # overdue: the e-mail step's 3 days pass and the ladder has not moved on (no sweep yet)
    api.ctx.clock.advance(timedelta(days=4))  # type: ignore[attr-defined]
    await _clerk(api)  # the session of 4 days ago has expired
    flags = _flags(await _queue(api))
    assert "overdue" in flags[hooked]
    assert "overdue" in flags[at_risk]
    assert "overdue" not in flags[notice]  # public notice has no window

    # a cancelled dispatch needs nobody any more: its at-risk flag is history, not a task
    cancelled = await api.client.post(f"/api/v1/dispatches/{at_risk}/cancel", headers=api.auth)
    assert cancelled.status == 200
    assert _flags(await _queue(api))[at_risk] == set()


def _flags(html: str) -> dict[str, set[str]]:
    """Each row's flags (``data-flag``), by dispatch id."""
    flags = {}
    for row in re.split(r"(?=<tr class=)", html):
        found = ROW_RE.search(row)
        if found:
            flags[found.group(1)] = set(re.findall(r'data-flag="([a-z_]+)"', row))
    return flags


async def test_the_queue_costs_the_same_queries_for_any_page_size(api: Api) -> None:
    """No N+1: every row's facts come from one batched query each."""
    for i in range(6):
        await _dispatch(api, f"n-{i}", source=FOUND)
    await settled(api.ctx)
    await _clerk(api)

    with _counting(api) as one:
        assert len(_rows(await _queue(api, limit="1"))) == 1
    with _counting(api) as six:
        assert len(_rows(await _queue(api, limit="6"))) == 6
    assert len(one) == len(six), (one, six)
    assert len(six) <= 10


async def test_the_queue_costs_the_same_queries_for_any_number_of_courts(api: Api) -> None:
    """The clerk filter's list of clerks is one query, not one per court of the account."""
    await _dispatch(api, "m-1", source=FOUND)
    await _clerk(api)
    with _counting(api) as one:
        await _queue(api)
    await _clerk(api, courts=(COURT, OTHER_COURT, "第三法院", "第四法院"))
    with _counting(api) as four:
        await _queue(api)
    assert len(one) == len(four), (one, four)


@contextmanager
def _counting(api: Api) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = api.ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_the_dispatch_page_masks_identity_and_shows_everything_else(api: Api) -> None:
    body = await api.new_dispatch_body(reference="d-1", source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    dispatch_id = (await api.create(body))["id"]
    await api.until_attempt(dispatch_id, "sent")
    await _clerk(api, display_name="王书记员")
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
    dispatch_id = await _dispatch(api, "e-1", source="court_found")
    csrf = await _clerk(api, display_name="王书记员")
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
    csrf = await _clerk(api)
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
    dispatch_id = await _dispatch(api, "g-1", source=FOUND)
    csrf = await _clerk(api)
    before = await api.event_types(dispatch_id)
    refused = await api.client.post(
        f"/staff/dispatches/{dispatch_id}/actions",
        data={"csrf_token": csrf, "action": "retry_channel", "channel": "fax", "note": NOTE},
    )
    assert refused.status == 422
    html = await refused.text()
    assert "channel must be" in html
    # The note the clerk wrote comes back in that action's form, not lost.
    assert f">{NOTE}</textarea>" in html.split('data-action="retry_channel"')[1]
    assert await api.event_types(dispatch_id) == before


async def test_a_step_that_is_not_a_number_is_refused_not_an_error(api: Api) -> None:
    dispatch_id = await _dispatch(api, "g-2", source=FOUND)
    csrf = await _clerk(api)
    before = await api.event_types(dispatch_id)
    for step in ("²", "x", "-1"):  # "²".isdigit() holds, yet int("²") raises
        refused = await api.client.post(
            f"/staff/dispatches/{dispatch_id}/actions",
            data={"csrf_token": csrf, "action": "skip_step", "step": step, "note": NOTE},
        )
        assert refused.status == 422, step
        assert "step must be" in await refused.text()
    assert await api.event_types(dispatch_id) == before


async def test_cancel_then_an_action_not_allowed_any_more(api: Api) -> None:
    dispatch_id = await _dispatch(api, "c-1", source="court_found")
    csrf = await _clerk(api)
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
    assert "not allowed while the dispatch is cancelled" in await refused.text()
    assert await api.event_types(dispatch_id) == events


async def test_roles_court_scope_and_csrf(api: Api) -> None:
    mine = await _dispatch(api, "a-1", source="court_found")
    other_court = await _other_court(api)
    theirs = await _dispatch(other_court, "a-2", court=OTHER_COURT, source="court_found")
    document = (await api.dispatch(mine))["documents"][0]["id"]
    paths = [
        "/staff/queue",
        f"/staff/dispatches/{mine}",
        f"/staff/dispatches/{mine}/documents/{document}",
    ]

    csrf = await _clerk(api, Role.FIELD_SERVER)
    for path in paths:
        assert (await api.client.get(path, allow_redirects=False)).status == 403, path
    forbidden = await api.client.post(
        f"/staff/dispatches/{mine}/actions",
        data={"csrf_token": csrf, "action": "escalate", "note": NOTE},
    )
    assert forbidden.status == 403

    csrf = await _clerk(api)
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


async def test_the_owner_filter_and_reassigning_through_the_page(api: Api) -> None:
    wang, wang_password = await staff_account(api.ctx, username="wang", display_name="王书记员")
    li, _ = await staff_account(api.ctx, username="li", display_name="李书记员")
    body = await api.new_dispatch_body(reference="o-1", source=FOUND)
    body["clerk"] = "wang"
    owned = (await api.create(body))["id"]
    body = await api.new_dispatch_body(reference="o-2", source=FOUND)
    body["case_number"] = "(2026)浙0106民初9号"
    body["clerk"] = "li"
    other = (await api.create(body))["id"]
    csrf = await log_in(api.client, wang.username, wang_password)

    mine = await _queue(api, owner=wang.id)
    assert _rows(mine) == [owned]
    assert "王书记员" in mine
    assert _rows(await _queue(api, owner=li.id)) == [other]

    page = await (await api.client.get(f"/staff/dispatches/{owned}")).text()
    assert 'data-action="reassign_owner"' in page
    moved = await api.client.post(
        f"/staff/dispatches/{owned}/actions",
        data={"csrf_token": csrf, "action": "reassign_owner", "owner_id": li.id, "note": NOTE},
        allow_redirects=False,
    )
    assert moved.status == 303, await moved.text()
    [event] = [e for e in await api.events(owned) if e.type == "owner_reassigned"]
    assert event.actor == wang.actor
    assert event.data["owner_id"] == li.id
    assert _rows(await _queue(api, owner=li.id)) == [other, owned]


async def test_dates_out_of_the_calendar_are_refused_not_an_error(api: Api) -> None:
    """A day at the calendar's ends has no midnight in UTC (or no next day): the form says so."""
    await _clerk(api)
    for name, value in (("created_to", "9999-12-31"), ("served_from", "0001-01-01")):
        html = await _queue(api, 400, **{name: value})
        assert f"{name}: " in html
    run = await api.client.get("/staff/print-run", params={"date": "9999-12-31"})
    assert run.status == 422, await run.text()
