"""The postal print run page: the day's pending pieces, printing them, marking them handed over."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import OTHER_COURT
from helpers import form_csrf
from standins import Post

from delivery.services.api_keys import create_api_key
from delivery.staff import Role
from delivery.storage.schema import postal_pieces

DAY = "2026-11-23"  # the test clock's day in Asia/Shanghai


async def _piece(post: Post, reference: str, **options: Any) -> tuple[str, str, str]:
    """A postal dispatch whose letter is waiting to be printed: (dispatch, attempt, tracking)."""
    dispatch_id = await post.dispatch(reference=reference, **options)
    tracking = await post.posted(dispatch_id)
    [attempt] = [a for a in (await post.api.dispatch(dispatch_id))["attempts"]]
    return dispatch_id, attempt["id"], tracking


async def _handed_over(post: Post) -> dict[str, Any]:
    async with post.api.ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(postal_pieces.c.attempt_id, postal_pieces.c.handed_over_at)
        )
        return {r.attempt_id: r.handed_over_at for r in rows}


@pytest.mark.usefixtures("worker")
async def test_the_day_s_pieces_are_listed_printed_and_handed_over(
    post: Post, browser: Any
) -> None:
    first, first_attempt, first_tracking = await _piece(post, "print-1")
    second, second_attempt, second_tracking = await _piece(post, "print-2")
    _key, token = await create_api_key(
        post.api.ctx.engine, post.api.ctx.clock, "other", [OTHER_COURT]
    )
    other = Post(
        post.fake,
        post.channel,
        Api(post.api.client, {"Authorization": f"Bearer {token}"}, post.api.ctx),
    )
    _foreign, foreign_attempt, foreign_tracking = await _piece(other, "print-3", court=OTHER_COURT)
    clerk = await browser(Role.CLERK)

    page = await clerk.client.get("/staff/print-run")  # today, in the court's zone
    html = await page.text()
    assert page.status == 200, html
    assert first_tracking in html and second_tracking in html
    assert f'href="/api/v1/mail-pieces.pdf?date={DAY}"' in html

    pdf = await clerk.client.get(f"/api/v1/mail-pieces.pdf?date={DAY}")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"

    url = "/staff/print-run/handed-over"
    no_csrf = await clerk.client.post(
        url, data={"attempt_id": first_attempt}, allow_redirects=False
    )
    assert no_csrf.status == 403
    assert all(v is None for v in (await _handed_over(post)).values())

    csrf = form_csrf(html)
    form = {"csrf_token": csrf, "date": DAY, "attempt_id": [first_attempt, foreign_attempt]}
    done = await clerk.client.post(url, data=_fields(form), allow_redirects=False)
    assert done.status == 303
    assert done.headers["Location"] == f"/staff/print-run?date={DAY}&handed=1"
    handed = await _handed_over(post)
    assert handed[first_attempt] == post.api.ctx.clock.now()
    assert handed[second_attempt] is None
    assert handed[foreign_attempt] is None  # another court's piece is not the clerk's to mark
    events = await post.api.events(first)
    [event] = [e for e in events if e.type == "mail_handed_over"]
    assert event.actor == clerk.user.actor and event.attempt_id == first_attempt
    assert event.data["tracking_number"] == first_tracking

    again = await clerk.client.post(url, data=_fields(form), allow_redirects=False)
    assert again.headers["Location"] == f"/staff/print-run?date={DAY}&handed=0"
    assert await post.api.events(first) == events  # a second click changes nothing

    html = await (await clerk.client.get(f"/staff/print-run?date={DAY}")).text()
    assert first_tracking not in html and second_tracking in html
    assert foreign_tracking not in html

    rest = {"csrf_token": csrf, "date": DAY, "attempt_id": [second_attempt]}
    assert (await clerk.client.post(url, data=_fields(rest), allow_redirects=False)).status == 303
    assert (await post.api.event_types(second)).count("mail_handed_over") == 1
    gone = await clerk.client.get(f"/api/v1/mail-pieces.pdf?date={DAY}")
    assert gone.status == 404  # nothing left to print


def _fields(form: dict[str, Any]) -> list[tuple[str, str]]:
    """A form with a repeated field, as a browser sends checked boxes."""
    return [
        (name, item)
        for name, value in form.items()
        for item in (value if isinstance(value, list) else [value])
    ]


async def test_a_field_server_cannot_use_the_print_run(browser: Any) -> None:
    server = await browser()
    assert (await server.client.get("/staff/print-run", allow_redirects=False)).status == 403
    form = {"csrf_token": await server.log_in(), "attempt_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}
    refused = await server.client.post(
        "/staff/print-run/handed-over", data=form, allow_redirects=False
    )
    assert refused.status == 403


async def test_a_malformed_date_shows_today_with_an_error(browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    page = await clerk.client.get("/staff/print-run?date=yesterday&lang=en")
    assert page.status == 422
    html = await page.text()
    assert "must be YYYY-MM-DD" in html and DAY in html
