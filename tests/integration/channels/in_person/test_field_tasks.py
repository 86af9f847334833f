"""Field tasks: round robin among the court's field servers, a task without one waiting for the
clerk to assign it, and another field server's task (403; a clerk may only look)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_client import Api, visit_task
from conftest import OTHER_COURT
from helpers import form_csrf, staff_account

from delivery.staff import Role
from integration.channels.in_person.support import clerk_action, in_person_dispatch, later, task_row

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


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
    assert (await task_row(api.ctx, task_id))["assignee_id"] == owner.user.id
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
    assignees = [(await task_row(api.ctx, t))["assignee_id"] for t in tasks]
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
    assert (await task_row(api.ctx, task_id))["assignee_id"] is None
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
