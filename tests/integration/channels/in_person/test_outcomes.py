"""In-person service end to end: the case system's API and the worker open field tasks; the
field server's outcome form is posted as the browser posts it (multipart, CSRF token, session
cookie); the dispatch's state, legal basis and date of service are checked as the API shows them.

domain.md, "In-person outcomes": CPL-88 (handed over), CPL-89 (left after a refusal, with a
witness or photos/video; never a mediation statement, CPL-INT-133), CPL-INT-131 (refusal away from
home, filmed), and failed visits — after the policy's 3 visits the ladder moves to public notice.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api, visit_task, visits_of

from delivery.context import Context
from delivery.storage.schema import media_files
from integration.channels.in_person.support import (
    ADDRESS,
    JPEG,
    MP4,
    PNG,
    VISIT_LOCAL,
    in_person_dispatch,
    later,
    task_row,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


async def _media_rows(ctx: Context) -> list[Any]:
    async with ctx.engine.connect() as conn:
        query = sa.select(media_files).order_by(media_files.c.created_at, media_files.c.id)
        return list((await conn.execute(query)).mappings().all())


VISIT_UTC = "2026-11-24T01:30:00.000000Z"
SERVED = [
    # (fields, files, legal basis, attempt state, visit event)
    (
        {"outcome": "served", "relation": "self"},
        [],
        "CPL-88",
        "delivered",
        "visit_served",
    ),
    (
        {"outcome": "served", "relation": "family", "receiver_name": "张三之妻"},
        [],
        "CPL-88",
        "delivered",
        "visit_served",
    ),
    (
        {"outcome": "refused_left", "witness_name": "王主任", "witness_org": "文三路社区居委会"},
        [],
        "CPL-89",
        "refused",
        "visit_refused_left",
    ),
    (
        {"outcome": "refused_left"},
        [("media", JPEG, "IMG_0001.jpg", "image/jpeg")],
        "CPL-89",
        "refused",
        "visit_refused_left",
    ),
    (
        {"outcome": "refused_filmed", "place": "away_from_home"},
        [("media", MP4, "VID_0001.mp4", "video/mp4")],
        "CPL-INT-131",
        "refused",
        "visit_refused_filmed",
    ),
]


@pytest.mark.parametrize(("fields", "files", "basis", "attempt_state", "event_type"), SERVED)
async def test_in_person_outcomes_that_serve(
    api: Api,
    browser: Callable[..., Any],
    fields: dict[str, str],
    files: list[tuple[str, bytes, str, str]],
    basis: str,
    attempt_state: str,
    event_type: str,
) -> None:
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)

    listing = await server.client.get("/field")
    html = await listing.text()
    assert listing.status == 200 and "张三" in html and ADDRESS["lines"] in html
    assert "传票" in html and f"/field/tasks/{task_id}" in html and "第 1 次上门" in html
    assert "2026-11-30 10:00" in html  # the step's 7-day window, in the court's time zone

    later(api, timedelta(days=1, hours=2))
    await server.log_in()  # a new day, a new session
    response = await server.post(task_id, {**fields, "visited_at": VISIT_LOCAL}, files)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == f"/field?done={task_id}"

    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == basis
    assert served["served_by_channel"] == "in_person"
    assert served["served_at"] == VISIT_UTC
    assert served["service_date"] == "2026-11-24"
    [visit] = visits_of(served)
    assert visit["state"] == attempt_state
    event = next(e for e in served["events"] if e["type"] == event_type)
    assert event["occurred_at"] == VISIT_UTC
    assert event["actor"] == server.user.actor
    assert event["attempt_id"] == visit["id"]
    if "relation" in fields:
        assert event["data"]["relation"] == fields["relation"]
        assert event["data"]["receiver_name"] == fields.get("receiver_name", "张三")
    if "witness_name" in fields:
        assert event["data"]["witness"] == {"name": "王主任", "organisation": "文三路社区居委会"}
    media = await _media_rows(api.ctx)
    assert [m["sha256"] for m in media] == [hashlib.sha256(f[1]).hexdigest() for f in files]
    if files:
        [stored] = event["data"]["media"]
        assert stored["sha256"] == hashlib.sha256(files[0][1]).hexdigest()
        assert stored["media_id"] == media[0]["id"]
        assert media[0]["purpose"] == ("visit_video" if files[0][1] is MP4 else "visit_photo")
        assert media[0]["attempt_id"] == visit["id"]
        assert api.ctx.documents.path_for(stored["sha256"]).read_bytes() == files[0][1]
    assert (await task_row(api.ctx, task_id))["state"] == "done"
    assert f"/field/tasks/{task_id}" not in await (await server.client.get("/field")).text()


async def test_signature_and_geolocation_are_stored_with_the_visit(
    api: Api, browser: Callable[..., Any]
) -> None:
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    page = await server.client.get(f"/field/tasks/{task_id}")
    html = await page.text()
    assert page.status == 200
    assert "<canvas" in html and 'name="signature"' in html and "navigator.geolocation" in html
    assert 'accept="image/*,video/*" capture' in html
    policy = page.headers["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in html  # the only script the page may run

    signature_png = PNG + b"signature strokes"
    data_url = "data:image/png;base64," + base64.b64encode(signature_png).decode()
    response = await server.post(
        task_id,
        {
            "outcome": "served",
            "relation": "family",
            "receiver_name": "张小红",
            "lat": "30.2741",
            "lon": "120.1551",
            "accuracy": "12.5",
            "note": "晚上七点上门",
            "signature": data_url,
        },
    )
    assert response.status == 303, await response.text()
    served = await api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["service_date"]) == ("CPL-88", "2026-11-23")
    assert served["served_at"] == "2026-11-23T02:00:00.000000Z"  # no time given: now
    event = next(e for e in served["events"] if e["type"] == "visit_served")
    digest = hashlib.sha256(signature_png).hexdigest()
    [row] = await _media_rows(api.ctx)
    assert (row["purpose"], row["media_type"], row["sha256"]) == ("signature", "image/png", digest)
    assert event["data"]["signature"] == {"media_id": row["id"], "sha256": digest}
    assert event["data"]["geolocation"] == {"lat": 30.2741, "lon": 120.1551, "accuracy_m": 12.5}
    assert event["data"]["note"] == "晚上七点上门"


async def test_a_mediation_statement_is_never_left_at_the_residence(
    api: Api, browser: Callable[..., Any]
) -> None:
    """CPL-INT-133: the form says so and refuses "left at the residence" (422, nothing stored);
    the field server records the refusal as a failed visit and the next visit follows."""
    server = await browser()
    dispatch_id = await in_person_dispatch(api, kind="mediation_statement")
    task_id = await visit_task(api, dispatch_id)
    status, html = await server.form(task_id)
    assert status == 200 and "调解书不适用留置送达" in html
    assert 'value="refused_left" required disabled' in html

    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    witness = {"witness_name": "王主任", "witness_org": "居委会"}
    response = await server.post(
        task_id, {"outcome": "refused_left", **witness}, [("media", JPEG, "a.jpg", "image/jpeg")]
    )
    assert response.status == 422
    assert "司法解释第133条" in await response.text()
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events

    response = await server.post(
        task_id, {"outcome": "served", "relation": "family", "receiver_name": "张三之妻"}
    )
    assert response.status == 422 and "指定代收人签收" in await response.text()
    assert await api.table_counts() == before_counts

    response = await server.post(task_id, {"outcome": "failed", "reason": "refused_not_left"})
    assert response.status == 303
    await visit_task(api, dispatch_id, 2)
    dispatch = await api.dispatch(dispatch_id)
    assert dispatch["state"] == "in_progress" and dispatch["legal_basis"] is None
    first, second = visits_of(dispatch)
    assert (first["state"], first["reason"]) == ("failed", "refused_not_left")
    assert second["state"] == "sent"


async def test_three_visits_without_finding_anyone_move_the_ladder_to_public_notice(
    api: Api, browser: Callable[..., Any]
) -> None:
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    reasons = ["not_found", "moved", "no_such_address"]
    for visit_no, reason in enumerate(reasons, start=1):
        task_id = await visit_task(api, dispatch_id, visit_no)
        row = await task_row(api.ctx, task_id)
        assert (row["visit_no"], row["assignee_id"]) == (visit_no, server.user.id)
        html = await (await server.client.get("/field")).text()
        assert f"第 {visit_no} 次上门（最多 3 次）" in html
        later(api, timedelta(hours=30))
        await server.log_in()
        response = await server.post(task_id, {"outcome": "failed", "reason": reason})
        assert response.status == 303, await response.text()
    noticed = await api.until_state(dispatch_id, "notice_pending")
    visits = visits_of(noticed)
    assert [(v["state"], v["reason"]) for v in visits] == [("failed", r) for r in reasons]
    types = [e["type"] for e in noticed["events"]]
    assert types.count("visit_failed") == 3 and types.count("step_repeated") == 2
    assert types.count("field_task_opened") == 3
    started = [e["data"]["name"] for e in noticed["events"] if e["type"] == "step_started"]
    assert started == ["postal", "in_person", "public_notice"]
    assert any(a["channel"] == "public_notice" for a in noticed["attempts"])
    assert noticed["legal_basis"] is None
