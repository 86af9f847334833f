"""The queue's "needs action" view (issue 14: "待处理 0" while two rows needed a person): its
count covers the whole filter, not the page, and it is what the queue opens on."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from api_client import Api, dispatch_body
from conftest import COURT, eventually, settled
from webhook_receiver import Receiver, receiving

from delivery.domain import RESUMABLE_FAILURES, DispatchState
from delivery.services import clerk_queue
from delivery.services.certificates import BLOCKED_EVENT, ISSUED_EVENT
from delivery.services.certificates import SOURCE as CERTIFICATES_SOURCE
from delivery.services.clerk_queue import QueueFilter, queue_page
from delivery.services.transactions import dispatch_transaction
from delivery.storage.schema import attempts, checkpoint_timestamps, dispatches
from integration.staff.support import FOUND, case_dispatch, clerk_session

pytestmark = pytest.mark.usefixtures("worker")

ROW_RE = re.compile(r'<tr class="[^"]*" data-dispatch="([0-9A-Z]{26})"')
NEEDS_RE = re.compile(r'data-view="needs_action">[^<]*<span class="count">(\d+)(\+?)</span>')
ALL_RE = re.compile(r'data-view="all">[^<]*<span class="count">(\d+)</span>')
NEXT_RE = re.compile(r'href="([^"]+)" rel="next"')


async def _page(api: Api, url: str = "/staff/queue") -> str:
    response = await api.client.get(url)
    html = await response.text()
    assert response.status == 200, html
    return html


def _needs(html: str) -> int:
    found = NEEDS_RE.search(html)
    assert found, html
    return int(found.group(1))


async def test_needs_action_is_counted_over_the_filter_and_is_the_default_view(
    api: Api,
) -> None:
    # at risk: a summons with the hearing in 4 days (e-mail alone may take 3)
    document = (await (await api.upload(title="传票", kind="summons")).json())["id"]
    body = dispatch_body([document], source=FOUND, reference="na-1")
    body["hearing_at"] = "2026-11-27T09:00:00+08:00"
    at_risk = (await api.create(body))["id"]
    # awaiting approval: no consent and no postal address: straight to a draft public notice
    body = await api.new_dispatch_body(reference="na-2", consent=False)
    notice = (await api.create(body))["id"]
    await api.until(notice, lambda d: any(e["type"] == "notice_drafted" for e in d["events"]))
    # nothing to do: the e-mail went out, its window is running
    plain = await case_dispatch(api, "na-3", case_number="(2026)浙0106民初3号", source=FOUND)
    await api.until_attempt(plain, "sent")
    await settled(api.ctx)
    await clerk_session(api)

    opened = await _page(api)
    assert set(ROW_RE.findall(opened)) == {at_risk, notice}
    assert _needs(opened) == 2
    assert ALL_RE.findall(opened) == ["3"]
    assert "需处理" in opened
    # A state is no longer read as a to-do: "queued" is 排队中, not 待处理.
    assert "待处理" not in opened

    everything = await _page(api, "/staff/queue?view=all")
    assert set(ROW_RE.findall(everything)) == {at_risk, notice, plain}
    assert _needs(everything) == 2  # the count is shown in every view
    # A filter without a view shows all it finds; the needs-action count follows the filter.
    by_case = await _page(api, "/staff/queue?case_number=(2026)浙0106民初3号")
    assert ROW_RE.findall(by_case) == [plain]
    assert _needs(by_case) == 0
    both = await _page(api, "/staff/queue?view=needs_action&case_number=(2026)浙0106民初3号")
    assert ROW_RE.findall(both) == []
    assert "没有需处理的送达任务" in both

    # The count is of the filter, not of the page; the view pages newest first.
    first = await _page(api, "/staff/queue?limit=1")
    assert ROW_RE.findall(first) == [notice]
    assert _needs(first) == 2
    found = NEXT_RE.search(first)
    assert found is not None
    second = await _page(api, found.group(1).replace("&amp;", "&"))
    assert ROW_RE.findall(second) == [at_risk]
    assert NEXT_RE.search(second) is None

    # Once nobody needs to act, the dispatch leaves the view and the count.
    cancelled = await api.client.post(f"/api/v1/dispatches/{at_risk}/cancel", headers=api.auth)
    assert cancelled.status == 200

    async def one_left() -> bool:
        return _needs(await _page(api)) == 1

    await eventually(one_left)
    assert ROW_RE.findall(await _page(api)) == [notice]


async def test_an_unknown_view_is_refused_with_the_reason(api: Api) -> None:
    await clerk_session(api)
    response = await api.client.get("/staff/queue", params={"view": "mine", "lang": "en"})
    html = await response.text()
    assert response.status == 400
    assert "view: unknown value" in html


@pytest.mark.both_databases
async def test_only_the_same_dispatchs_later_certificate_clears_its_block(api: Api) -> None:
    """A blocked certificate is cleared by that dispatch's own later ``certificate_issued``,
    never by another dispatch's (decision 0051: the candidates' inner EXISTS once named an
    uncorrelated ``dispatches``, so any later issue anywhere cleared every block)."""
    blocked = (await api.new_dispatch(reference="na-blocked"))["id"]
    cleared = (await api.new_dispatch(reference="na-cleared"))["id"]
    issued_elsewhere = (await api.new_dispatch(reference="na-issued"))["id"]
    await _served(api, blocked, cleared, issued_elsewhere)
    await _record(api, blocked, BLOCKED_EVENT)
    await _record(api, cleared, BLOCKED_EVENT, ISSUED_EVENT)
    # Issued later in its own chain than the block above (a higher seq), on another dispatch.
    await _record(api, issued_elsewhere, ISSUED_EVENT, ISSUED_EVENT, ISSUED_EVENT)

    page = await queue_page(api.ctx, QueueFilter(courts=(COURT,), needs_action=True))
    assert [(r.dispatch.id, r.certificate_blocked) for r in page.rows] == [(blocked, True)]
    assert page.needs_action == 1


async def _served(api: Api, *dispatch_ids: str) -> None:
    """Let the worker finish with the new dispatches first: each e-mail is served on arrival
    and its certificate issued, a ``certificate_issued`` that would clear a block recorded
    before it (CI once saw the oldest block cleared while the test paged)."""
    for dispatch_id in dispatch_ids:
        await api.until(dispatch_id, lambda d: any(e["type"] == ISSUED_EVENT for e in d["events"]))
    await settled(api.ctx)


async def _record(api: Api, dispatch_id: str, *types: str) -> None:
    for event_type in types:
        async with dispatch_transaction(api.ctx.engine, api.ctx.clock, dispatch_id) as tx:
            tx.record(event_type, source=CERTIFICATES_SOURCE, data={})


@pytest.mark.both_databases
async def test_candidates_read_in_batches_give_the_same_count_and_pages(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The candidates are read in batches until the count is past its cap and the page is full
    (decision 0054): with a cap of 1 and batches of 2, the count reads "1+", every flagged
    dispatch is still reached by paging, and the "all" view flags each of its rows."""
    monkeypatch.setattr(clerk_queue, "MAX_NEEDS_ACTION", 1)
    monkeypatch.setattr(clerk_queue, "FIRST_CANDIDATES", 1)
    flagged = [(await api.new_dispatch(reference=f"na-batch-{n}"))["id"] for n in range(4)]
    await _served(api, *flagged)
    for dispatch_id in flagged:
        await _record(api, dispatch_id, BLOCKED_EVENT)
    newest_first = flagged[::-1]

    seen, cursor = [], None
    while True:
        flt = QueueFilter(courts=(COURT,), needs_action=True, limit=1, before_id=cursor)
        page = await clerk_queue.queue_page(api.ctx, flt)
        assert (page.needs_action, page.needs_action_more) == (1, True)
        seen += [r.dispatch.id for r in page.rows]
        if page.next_cursor_id is None:
            break
        cursor = page.next_cursor_id
    assert seen == newest_first

    everything = await clerk_queue.queue_page(api.ctx, QueueFilter(courts=(COURT,), limit=3))
    assert [(r.dispatch.id, r.certificate_blocked) for r in everything.rows] == [
        (d, True) for d in newest_first[:3]
    ]
    assert (everything.needs_action, everything.needs_action_more) == (1, True)


@pytest.mark.both_databases
async def test_the_count_flags_what_the_rows_flag(api: Api) -> None:
    """The database decides every flag but the step window's (decision 0058): the dispatches
    it counts as needing a person are exactly those whose row, with all its facts read, shows
    a flag. One dispatch per flag, each with that flag alone (the last four are given theirs
    by writing the fact the flag reads), and one whose step timer ran out while its window,
    counted in court days, is still open: counted by neither; then, once the windows pass,
    the plain dispatches are counted too."""
    document = (await (await api.upload(title="传票", kind="summons")).json())["id"]
    body = dispatch_body([document], source=FOUND, reference="eq-risk")
    body["hearing_at"] = "2026-11-27T09:00:00+08:00"
    at_risk = (await api.create(body))["id"]
    notice = (await api.create(await api.new_dispatch_body(reference="eq-notice", consent=False)))[
        "id"
    ]
    await api.until(notice, lambda d: any(e["type"] == "notice_drafted" for e in d["events"]))
    blocked = (await api.new_dispatch(reference="eq-blocked"))["id"]
    served = (await api.new_dispatch(reference="eq-served"))["id"]
    await _served(api, blocked, served)
    await _record(api, blocked, BLOCKED_EVENT)
    plain = [await case_dispatch(api, f"eq-plain-{n}", source=FOUND) for n in range(6)]
    for dispatch_id in plain:
        await api.until_attempt(dispatch_id, "sent")
    async with receiving(Receiver(status=410)) as receiver:  # the case system's receiver is gone
        await api.register_webhook(receiver.url, ["dispatch.created"])
        hooked = await case_dispatch(api, "eq-hooked", source=FOUND)
        await eventually(receiver.called(1))
    await settled(api.ctx)
    deadline, awaiting_policy, unavailable, untimed, timer_only, plain = plain
    await _given_flags(api, deadline, awaiting_policy, unavailable, untimed, timer_only)

    async def flagged_both_ways() -> tuple[set[str], set[str]]:
        rows = (await queue_page(api.ctx, QueueFilter(courts=(COURT,), limit=100))).rows
        shown = {r.dispatch.id for r in rows if r.needs_action}
        view = await queue_page(api.ctx, QueueFilter(courts=(COURT,), needs_action=True))
        assert view.needs_action == len(view.rows)
        return shown, {r.dispatch.id for r in view.rows}

    flagged = {at_risk, notice, blocked, hooked, deadline, awaiting_policy, unavailable, untimed}
    shown, counted = await flagged_both_ways()
    assert shown == counted == flagged
    api.ctx.clock.advance(timedelta(days=4))  # type: ignore[attr-defined]
    shown, counted = await flagged_both_ways()
    assert shown == counted == flagged | {plain, timer_only}


async def _given_flags(
    api: Api, deadline: str, awaiting_policy: str, unavailable: str, untimed: str, timer: str
) -> None:
    """Write the fact each flag reads: a service deadline passed; failed for a reason a new
    policy resolves; an open attempt waiting for its channel; a checkpoint without its token
    past the flag window; and a step timer run out an hour before its window ends."""
    now = api.ctx.clock.now()
    d, a = dispatches.c, attempts.c
    async with api.ctx.engine.begin() as conn:
        await conn.execute(
            sa.update(dispatches).where(d.id == deadline).values(service_deadline_at=now)
        )
        await conn.execute(
            sa.update(dispatches)
            .where(d.id == awaiting_policy)
            .values(state=DispatchState.FAILED, state_reason=next(iter(RESUMABLE_FAILURES)))
        )
        await conn.execute(
            sa.update(attempts)
            .where(a.dispatch_id == unavailable)
            .values(reason=clerk_queue.CHANNEL_UNAVAILABLE)
        )
        await conn.execute(
            sa.insert(checkpoint_timestamps).values(
                dispatch_id=untimed,
                checkpoint_seq=1,
                checkpoint_hash="0" * 64,
                checkpointed_at=now - api.ctx.settings.tsa_flag_after,
                tries=0,
            )
        )
        await conn.execute(sa.update(dispatches).where(d.id == timer).values(next_action_at=now))
