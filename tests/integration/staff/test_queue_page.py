"""The clerk's queue page: filters, counts, paging, the "needs action" columns, the owner filter,
and a number of queries that does not grow with the page or the account's courts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from api_client import Api, dispatch_body
from conftest import COURT, OTHER_COURT, eventually, settled
from helpers import log_in, staff_account
from sqlalchemy import event
from webhook_receiver import Receiver, receiving

from delivery.services import clerk_queue
from integration.staff.support import FOUND, NOTE, case_dispatch, clerk_session, other_court_system

pytestmark = pytest.mark.usefixtures("worker")

ROW_RE = re.compile(r'data-dispatch="([0-9A-Z]{26})"')
COUNT_RE = re.compile(r'data-state="([a-z_]+)">[^<]*<span class="count">(\d+)</span>')
NEXT_RE = re.compile(r'href="([^"]+)" rel="next"')


async def _queue(api: Api, status: int = 200, **params: str) -> str:
    """The queue with ``params``; every dispatch the filter finds unless ``view`` is given (the
    default view, "needs action", is tested in test_queue_needs_action.py)."""
    response = await api.client.get("/staff/queue", params={"view": "all", **params})
    text = await response.text()
    assert response.status == status, text
    return text


def _rows(html: str) -> list[str]:
    return ROW_RE.findall(html)


def _counts(html: str) -> dict[str, int]:
    return {state: int(n) for state, n in COUNT_RE.findall(html)}


async def test_each_filter_narrows_the_queue_and_counts_follow_it(api: Api) -> None:
    first = await case_dispatch(
        api, "q-1", case_number="(2026)浙0106民初1号", name="张三", source=FOUND
    )
    second = await case_dispatch(
        api, "q-2", case_number="(2026)浙0106民初2号", name="李四", source=FOUND
    )
    cancelled = await case_dispatch(
        api, "q-3", case_number="(2026)浙0106民初3号", name="张五", source=FOUND
    )
    response = await api.client.post(f"/api/v1/dispatches/{cancelled}/cancel", headers=api.auth)
    assert response.status == 200, await response.text()
    other = await case_dispatch(
        await other_court_system(api), "q-4", court=OTHER_COURT, name="张六"
    )
    await clerk_session(api)

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
    switch = re.search(r'<a href="([^"]+)"[^>]*>English</a>', narrowed)
    assert switch is not None
    english = await (await api.client.get(switch.group(1).replace("&amp;", "&"))).text()
    assert _rows(english) == [first]
    assert '<html lang="en">' in english
    # A bad value: the form again, with the reason.
    bad = await _queue(api, created_from="23/11/2026", status=400)
    assert "created_from" in bad and 'class="error"' in bad


CAPPED_RE = re.compile(
    r'data-(?:state|view)="([a-z_]+)">[^<]*<span class="count" data-capped="(\d+)" '
    r'title="([^"]+)">(\d+)\+</span>'
)


async def test_counts_stop_at_the_cap_and_say_so(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the cap a state's count reads "cap+" in both languages, marked for a script too;
    under it counts stay exact (decision 0054)."""
    monkeypatch.setattr(clerk_queue, "MAX_STATE_COUNT", 2)
    for n in range(3):
        await case_dispatch(api, f"cap-{n}", case_number=f"(2026)浙0106民初{n}号", source=FOUND)
    cancelled = await case_dispatch(api, "cap-c", case_number="(2026)浙0106民初9号")
    response = await api.client.post(f"/api/v1/dispatches/{cancelled}/cancel", headers=api.auth)
    assert response.status == 200, await response.text()
    await clerk_session(api)

    chinese = await _queue(api)
    assert CAPPED_RE.findall(chinese) == [
        ("all", "2", "至少 3 件：每种状态最多计数到 2 件。", "3"),
        ("in_progress", "2", "超过 2 件：队列不再继续计数。", "2"),
    ]
    assert _counts(chinese)["cancelled"] == 1  # under the cap: exact, unmarked
    english = await _queue(api, lang="en")
    assert [(v, t, n) for v, _, t, n in CAPPED_RE.findall(english)] == [
        ("all", "At least 3: each state is counted up to 2.", "3"),
        ("in_progress", "More than 2: the queue counts no further.", "2"),
    ]
    assert ">2+</span>" in english
    # A narrower filter is under the cap again: exact.
    one = await _queue(api, case_number="(2026)浙0106民初1号")
    assert CAPPED_RE.findall(one) == [] and _counts(one)["in_progress"] == 1


@pytest.mark.both_databases
async def test_a_range_that_ended_days_ago_finds_the_same_dispatches(api: Api) -> None:
    """A created range that ended days ago is first read as the band of ids it spans
    (decision 0054): the same rows and counts, newest first, and none for an empty range."""
    first = await case_dispatch(api, "w-1", source=FOUND)
    api.ctx.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    second = await case_dispatch(api, "w-2", source=FOUND)
    third = await case_dispatch(api, "w-3", source=FOUND)
    api.ctx.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    later = await case_dispatch(api, "w-4", source=FOUND)
    api.ctx.clock.advance(timedelta(days=5))  # type: ignore[attr-defined]
    await clerk_session(api)

    assert _rows(await _queue(api, created_from="2026-11-24", created_to="2026-11-24")) == [
        third,
        second,
    ]
    both = await _queue(api, created_from="2026-11-23", created_to="2026-11-24", limit="2")
    assert _rows(both) == [third, second]
    assert sum(_counts(both).values()) == 3
    found = NEXT_RE.search(both)
    assert found is not None
    rest = await api.client.get(found.group(1).replace("&amp;", "&"))
    assert _rows(await rest.text()) == [first]
    assert _rows(await _queue(api, created_to="2026-11-25")) == [later, third, second, first]
    assert _rows(await _queue(api, created_from="2026-11-20", created_to="2026-11-22")) == []
    assert _rows(await _queue(api, served_to="2026-11-26")) == []


async def test_served_dates_in_the_court_zone(api: Api) -> None:
    served = await case_dispatch(
        api, "s-1"
    )  # a confirmed address: served on the server's acceptance
    await api.until_state(served, "served")
    open_one = await case_dispatch(api, "s-2", source="court_found")
    await clerk_session(api)
    assert _rows(await _queue(api, served_from="2026-11-23", served_to="2026-11-23")) == [served]
    assert _rows(await _queue(api, served_to="2026-11-22")) == []
    assert open_one in _rows(await _queue(api))


async def test_cursor_paging_newest_first(api: Api) -> None:
    ids = [await case_dispatch(api, f"p-{i}") for i in range(5)]
    await clerk_session(api)
    seen: list[str] = []
    url: str | None = "/staff/queue?view=all&limit=2"
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
        hooked = await case_dispatch(api, "r-3", source="court_found")
        await eventually(receiver.called(1))
    await settled(api.ctx)
    await clerk_session(api)

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
        await case_dispatch(api, f"n-{i}", source=FOUND)
    await settled(api.ctx)
    await clerk_session(api)

    with _counting(api) as one:
        assert len(_rows(await _queue(api, limit="1"))) == 1
    with _counting(api) as six:
        assert len(_rows(await _queue(api, limit="6"))) == 6
    assert len(one) == len(six), (one, six)
    # On PostgreSQL one of them turns JIT compilation off for the queue's transaction.
    assert len(six) <= 11


async def test_the_queue_costs_the_same_queries_for_any_number_of_courts(api: Api) -> None:
    """The clerk filter's list of clerks is one query, not one per court of the account."""
    await case_dispatch(api, "m-1", source=FOUND)
    await clerk_session(api)
    with _counting(api) as one:
        await _queue(api)
    await clerk_session(api, courts=(COURT, OTHER_COURT, "第三法院", "第四法院"))
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
    await clerk_session(api)
    for name, value in (("created_to", "9999-12-31"), ("served_from", "0001-01-01")):
        html = await _queue(api, 400, **{name: value})
        assert f"{name}: " in html
    run = await api.client.get("/staff/print-run", params={"date": "9999-12-31"})
    assert run.status == 422, await run.text()


@pytest.mark.both_databases
async def test_a_state_counted_under_its_cap_pages_the_same(api: Api) -> None:
    """A state the counts found under their cap is listed as the few it is (decision 0058):
    the same rows, newest first, page by page; one found nowhere is no query at all."""
    ids = [await case_dispatch(api, f"few-{i}", source=FOUND) for i in range(5)]
    for dispatch_id in ids[:4]:
        response = await api.client.post(
            f"/api/v1/dispatches/{dispatch_id}/cancel", headers=api.auth
        )
        assert response.status == 200, await response.text()
    await settled(api.ctx)
    seen: list[str] = []
    cursor = None
    while True:
        flt = clerk_queue.QueueFilter(courts=(COURT,), state="cancelled", limit=3, before_id=cursor)
        with _counting(api) as statements:
            page = await clerk_queue.queue_page(api.ctx, flt)
        assert page.counts.counts["cancelled"] == 4
        # Listed as the few they are: found by a subquery of their own, sorted after.
        listed = [s for s in statements if "dispatches.api_key_id" in s]
        assert len(listed) == 1 and "IN (SELECT" in listed[0], listed
        seen += [r.dispatch.id for r in page.rows]
        if page.next_cursor_id is None:
            break
        cursor = page.next_cursor_id
    assert seen == ids[3::-1]
    with _counting(api) as statements:
        await clerk_queue.queue_page(api.ctx, clerk_queue.QueueFilter(courts=(COURT,)))
    listed = [s for s in statements if "dispatches.api_key_id" in s]
    assert len(listed) == 1 and "IN (SELECT" not in listed[0], listed  # newest first

    flt = clerk_queue.QueueFilter(courts=(COURT,), state="failed")
    with _counting(api) as statements:
        assert (await clerk_queue.queue_page(api.ctx, flt)).rows == []
    # The counts and the candidates (and on PostgreSQL the planner's settings): no list (the
    # only statement reading whole dispatch rows here), and no facts, for there is no row.
    assert not [s for s in statements if "dispatches.api_key_id" in s], statements
    assert len(statements) <= 3, statements
