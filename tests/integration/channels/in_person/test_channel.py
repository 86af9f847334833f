"""In-person service end to end: the case system's API and the worker open field tasks; the
field server's outcome form is posted as the browser posts it (multipart, CSRF token, session
cookie); the dispatch's state, legal basis and date of service are checked as the API shows them.

domain.md, "In-person outcomes": CPL-88 (handed over), CPL-89 (left after a refusal, with a
witness or photos/video; never a mediation statement, CPL-INT-133), CPL-INT-131 (refusal away from
home, filmed), and failed visits — after the policy's 3 visits the ladder moves to public notice.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import FormData
from conftest import OTHER_COURT
from helpers import Api, form_csrf, staff_account, visit_task, visits_of

from channels.in_person.visit_form import DATA_URL_PREFIX, MAX_SIGNATURE_BYTES
from delivery.api.http.evidence_uploads import media_type_of
from delivery.context import Context
from delivery.staff import Role
from delivery.storage.schema import field_tasks, media_files
from integration.channels.in_person.support import (
    ADDRESS,
    JPEG,
    PNG,
    VISIT_LOCAL,
    clerk_action,
    in_person_dispatch,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x03" * 300
WEBM = b"\x1a\x45\xdf\xa3" + b"\x04" * 100
PDF = b"%PDF-1.4\n%%EOF\n"


async def _task_row(ctx: Context, task_id: str) -> Any:
    async with ctx.engine.connect() as conn:
        query = sa.select(field_tasks).where(field_tasks.c.id == task_id)
        return (await conn.execute(query)).mappings().one()


async def _media_rows(ctx: Context) -> list[Any]:
    async with ctx.engine.connect() as conn:
        query = sa.select(media_files).order_by(media_files.c.created_at, media_files.c.id)
        return list((await conn.execute(query)).mappings().all())


def later(api: Api, delta: timedelta) -> None:
    api.ctx.clock.advance(delta)  # type: ignore[attr-defined]


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
    assert (await _task_row(api.ctx, task_id))["state"] == "done"
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
        row = await _task_row(api.ctx, task_id)
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


async def test_another_field_servers_task_is_403_and_a_clerk_may_only_look(
    api: Api, browser: Callable[..., Any]
) -> None:
    owner = await browser(name="甲")
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    other = await browser(name="乙")
    clerk = await browser(Role.CLERK, name="王书记员")
    elsewhere = await browser(courts=(OTHER_COURT,))
    admin = await browser(Role.ADMIN)
    assert (await _task_row(api.ctx, task_id))["assignee_id"] == owner.user.id
    owner_csrf = form_csrf((await owner.form(task_id))[1])

    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    status, _html = await other.form(task_id)
    assert status == 403
    assert task_id not in await (await other.client.get("/field")).text()
    other_csrf = form_csrf(await (await other.client.get("/account")).text())
    response = await other.post(task_id, {"outcome": "served", "relation": "self"}, csrf=other_csrf)
    assert response.status == 403
    # The owner's token in another session is no good either (CSRF is per session).
    assert (await other.post(task_id, {"outcome": "failed"}, csrf=owner_csrf)).status == 403

    status, html = await owner.form(task_id, "?lang=en")
    assert status == 200 and "Outcome of the visit" in html and "Visit 1 (at most 3)" in html
    english = await (await owner.client.get("/field?lang=en")).text()
    assert "My service tasks" in english and "Vary the time of day" in english
    status, html = await clerk.form(task_id)
    assert status == 200 and "只有被分派的送达员可以登记结果" in html and "<form" not in html
    listing = await (await clerk.client.get("/field")).text()
    assert f"/field/tasks/{task_id}" in listing and "甲" in listing
    clerk_csrf = form_csrf(await (await clerk.client.get("/account")).text())
    assert (await clerk.post(task_id, {"outcome": "served"}, csrf=clerk_csrf)).status == 403

    assert (await elsewhere.form(task_id))[0] == 404
    assert (await admin.form(task_id))[0] == 403
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ([("media", PDF, "scan.pdf", "application/pdf")], 415),
        ([("media", b"GIF89a" + b"\x00" * 50, "x.gif", "image/gif")], 415),
        (
            [
                ("media", JPEG, "a.jpg", "image/jpeg"),
                ("media", b"not a video", "b.mp4", "video/mp4"),
            ],
            415,
        ),
        ([("media", b"\xff\xd8\xff" + b"\x00" * 5000, "big.jpg", "image/jpeg")], 413),
        ([("signature", JPEG, "signature.jpg", "image/jpeg")], 415),
    ],
)
async def test_oversized_or_wrong_media_is_refused_and_nothing_is_stored(
    api: Api, browser: Callable[..., Any], files: list[tuple[str, bytes, str, str]], status: int
) -> None:
    api.ctx.settings = dataclasses.replace(api.ctx.settings, max_media_bytes=4096)
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    response = await server.post(task_id, {"outcome": "refused_left"}, files)
    assert response.status == status, await response.text()
    assert "照片（JPEG、PNG、WebP）" in await response.text() or status == 413
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events
    assert (await _task_row(api.ctx, task_id))["state"] == "open"


async def test_an_oversized_drawn_signature_is_refused_before_it_is_decoded(
    api: Api, browser: Callable[..., Any]
) -> None:
    """The canvas's data URL is read whole into memory: it is capped at MAX_SIGNATURE_BYTES,
    whatever the media limit, so one form cannot tie up the server."""
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    encoded = base64.b64encode(PNG + b"\x00" * MAX_SIGNATURE_BYTES).decode()
    fields = {"outcome": "served", "relation": "self", "signature": DATA_URL_PREFIX + encoded}
    response = await server.post(task_id, fields)
    assert response.status == 413
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events


async def test_form_errors_and_csrf(api: Api, browser: Callable[..., Any]) -> None:
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"outcome": "refused_left"}, 422, "留置送达需要见证人签字或拍照/录像"),
        ({"outcome": "refused_left", "witness_name": "王"}, 422, "请填写见证人姓名和所在单位"),
        ({"outcome": "refused_filmed", "place": "away_from_home"}, 422, "须拍照或录像"),
        ({"outcome": "served", "relation": "opposing_party"}, 422, "请填写此项"),
        ({"outcome": "served", "relation": "agent"}, 422, "请填写此项"),
        ({"outcome": "failed", "reason": "holiday"}, 422, "请填写此项"),
        (
            {"outcome": "served", "relation": "self", "visited_at": "2026-11-24T10:00"},
            422,
            "不能晚于现在",
        ),
        (
            {"outcome": "served", "relation": "self", "visited_at": "2026-11-20T10:00"},
            422,
            "不能早于",
        ),
        ({"outcome": "served", "relation": "self", "lat": "91", "lon": "0"}, 422, "位置数据无效"),
        (
            {"outcome": "served", "relation": "self", "signature": "data:image/png;base64,@@"},
            422,
            "",
        ),
    ]
    for fields, status, text in cases:
        response = await server.post(task_id, fields)
        assert response.status == status, (fields, await response.text())
        assert text in await response.text()
    # No CSRF token: 403 before anything is read.
    form = FormData(default_to_multipart=True)
    form.add_field("outcome", "served")
    form.add_field("relation", "self")
    form.add_field("media", JPEG, filename="a.jpg", content_type="image/jpeg")
    response = await server.client.post(f"/field/tasks/{task_id}", data=form)
    assert response.status == 403
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events

    # Recorded once; the task is then closed (409) and gone from the list.
    assert (await server.post(task_id, {"outcome": "served", "relation": "self"})).status == 303
    await api.until_state(dispatch_id, "served")
    status, html = await server.form(task_id)
    assert status == 200 and "<form" not in html
    csrf = form_csrf(await (await server.client.get("/account")).text())
    again = await server.post(task_id, {"outcome": "served", "relation": "self"}, csrf=csrf)
    assert again.status == 409


async def test_tasks_go_round_robin_among_the_courts_field_servers(
    api: Api, browser: Callable[..., Any]
) -> None:
    first = await browser(name="甲")
    second = await browser(name="乙")
    await browser(courts=(OTHER_COURT,), name="丙")  # another court's: never chosen
    tasks = []
    for n in range(3):
        dispatch_id = await in_person_dispatch(api, reference=f"rr-{n}")
        tasks.append(await visit_task(api, dispatch_id))
        later(api, timedelta(minutes=5))
    assignees = [(await _task_row(api.ctx, t))["assignee_id"] for t in tasks]
    assert assignees == [first.user.id, second.user.id, first.user.id]
    first_list = await (await first.client.get("/field")).text()
    second_list = await (await second.client.get("/field")).text()
    assert tasks[0] in first_list and tasks[2] in first_list and tasks[1] not in first_list
    assert tasks[1] in second_list and tasks[0] not in second_list
    opened = [e for e in await api.events(dispatch_id) if e.type == "field_task_opened"]
    assert opened[0].data["assignee"] == first.user.actor
    assert opened[0].data["visit_no"] == 1
    assert opened[0].data["due_at"] == "2026-11-30T02:10:00.000000Z"


async def test_a_task_without_a_field_server_waits_for_the_clerk_to_assign_it(
    api: Api, browser: Callable[..., Any]
) -> None:
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    assert (await _task_row(api.ctx, task_id))["assignee_id"] is None
    assert (await api.event_types(dispatch_id)).count("field_task_unassigned") == 1

    server = await browser()
    clerk, _ = await staff_account(api.ctx, Role.CLERK)
    elsewhere, _ = await staff_account(api.ctx, Role.FIELD_SERVER, courts=(OTHER_COURT,))
    for bad in (clerk.id, elsewhere.id, "01ARZ3NDEKTSV4RRFFQ69G5FAV"):
        response = await clerk_action(
            api, dispatch_id, "assign_field_server", task_id=task_id, field_server=bad
        )
        assert response.status == 422, await response.text()
    assert (await clerk_action(api, dispatch_id, "assign_field_server", task_id="x")).status == 422
    assert task_id not in await (await server.client.get("/field")).text()

    response = await clerk_action(
        api, dispatch_id, "assign_field_server", task_id=task_id, field_server=server.user.id
    )
    assert response.status == 200, await response.text()
    dispatch = await response.json()
    assert "assign_field_server" in dispatch["allowed_actions"]
    assigned = next(e for e in dispatch["events"] if e["type"] == "field_task_assigned")
    assert assigned["actor"].startswith("api_key:")
    assert assigned["data"]["assignee"] == server.user.actor
    assert assigned["data"]["note"] == "直接送达 / in person"
    assert task_id in await (await server.client.get("/field")).text()

    response = await server.post(task_id, {"outcome": "served", "relation": "self"})
    assert response.status == 303
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "CPL-88"


def test_media_types_are_recognised_by_their_first_bytes() -> None:
    assert media_type_of(JPEG) == "image/jpeg"
    assert media_type_of(PNG) == "image/png"
    assert media_type_of(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert media_type_of(MP4) == "video/mp4"
    assert media_type_of(b"\x00\x00\x00\x14ftypqt  ") == "video/quicktime"
    assert media_type_of(WEBM) == "video/webm"
    assert media_type_of(PDF) is None
