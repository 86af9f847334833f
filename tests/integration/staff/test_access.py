"""Who may open each staff page and use each form (issue 6, point 9): one table, every role.

Each row of :data:`DOORS` is a page (GET), a form (POST) or an API call, with the roles that may
use it. The test builds one world (a field task, a draft notice, their dispatches), logs in one
account per role, and tries every row as every role:

- anonymous: a page or form redirects to the login (coming back afterwards); the API answers 401;
- a role not in the row: 403 — for a form even with the session's CSRF token and a complete,
  valid form, and nothing is stored;
- a role in the row: the page opens (200); a form without the CSRF token, or with another
  session's, is refused (403) and stores nothing; with its token and an empty form it passes the
  checks and is refused for what is missing (``ok``: 422), again storing nothing.

Adding a page or a form is one line in :data:`DOORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient
from api_client import Api, visit_task
from conftest import COURT, MINIMAL_PDF, settled
from helpers import log_in, staff_account

from delivery.api.app import create_app
from delivery.representations import notice_text_sha256
from delivery.staff import Role
from delivery.storage.schema import field_tasks, notices
from integration.channels.in_person.support import in_person_dispatch
from integration.channels.public_notice.support import NOTE, drafted, notice_dispatch

pytestmark = pytest.mark.usefixtures("worker")

Client = TestClient[Any, Any]
Expected = Callable[[ClientResponse], bool]
ANONYMOUS = "anonymous"
FIELD, CLERK, SUPERVISOR, ADMIN = Role.FIELD_SERVER, Role.CLERK, Role.SUPERVISOR, Role.ADMIN
STAFF = frozenset({FIELD, CLERK, SUPERVISOR, ADMIN})
DESK = frozenset({CLERK, SUPERVISOR})
TASK_VIEWERS = frozenset({FIELD, CLERK, SUPERVISOR})


@dataclass(frozen=True)
class Door:
    """One page, form or API call. ``path`` and ``form`` values name the world's ids in braces
    (see :func:`_world`). ``form`` is what a role that may not use it sends: the fields of a
    valid form (files aside); ``ok`` is what a role that may gets — for a form, with its CSRF
    token and nothing else (None: not tried, it would end the session)."""

    method: str
    path: str
    roles: frozenset[str]
    form: dict[str, str] = field(default_factory=dict)
    ok: int | None = 200
    multipart: bool = False

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


SERVED = {"outcome": "served", "relation": "self"}
APPROVAL = {"reason": "whereabouts_unknown", "text_sha256": "{text_sha256}", "note": NOTE}
EDIT = {"title": "公告", "body": "张三：\n公告正文", "note": NOTE}
PUBLICATION = {"place": "court_website", "published_at": "2026-11-23T10:30", "note": NOTE}
ESCALATION = {"action": "escalate", "note": NOTE}
NEW_DISPATCH = {
    "court": COURT,
    "reference": "access-new-1",
    "case_number": "(2026)浙0106民初7777号",
    "recipient_name": "李四",
    "recipient_role": "defendant",
    "id_number": "330106199001017777",
    "document_kinds": "complaint",
}
BATCH_CSV = (
    "reference,case_number,recipient_name,recipient_role,id_number,documents,document_kinds\r\n"
    "access-batch-1,(2026)浙0106民初8888号,王五,defendant,330106199001018888,诉状.pdf,complaint\r\n"
).encode()

DOORS = [
    Door("GET", "/account", STAFF),
    Door("POST", "/logout", STAFF, ok=None),
    Door("GET", "/field", TASK_VIEWERS),
    Door("GET", "/field/tasks/{task}", TASK_VIEWERS),
    Door("POST", "/field/tasks/{task}", frozenset({FIELD}), SERVED, 422, multipart=True),
    Door("GET", "/staff/notices", DESK),
    Door("GET", "/staff/notices/{notice}", DESK),
    Door("POST", "/staff/notices/{notice}/edit", DESK, EDIT, 422),
    Door("POST", "/staff/notices/{notice}/approve", frozenset({SUPERVISOR}), APPROVAL, 422),
    Door("POST", "/staff/notices/{notice}/publications", DESK, PUBLICATION, 422, multipart=True),
    Door("GET", "/staff/queue", DESK),
    Door("GET", "/staff/dispatches/{dispatch}", DESK),
    Door("GET", "/staff/dispatches/{dispatch}/documents/{document}", DESK),
    Door("POST", "/staff/dispatches/{dispatch}/actions", DESK, ESCALATION, 422),
    Door(
        "POST",
        "/staff/dispatches/{dispatch}/actions",
        frozenset({SUPERVISOR}),
        {"action": "approve_notice", **APPROVAL},
        422,
    ),
    Door("GET", "/staff/dispatches/new", DESK),
    Door("POST", "/staff/dispatches/new", DESK, NEW_DISPATCH, 422, multipart=True),
    Door("GET", "/staff/batches", DESK),
    Door("POST", "/staff/batches", DESK, {"court": COURT}, 422, multipart=True),
    Door("GET", "/staff/batches/template.csv", DESK),
    Door("GET", "/staff/batches/{batch}", DESK),
    Door("GET", "/staff/batches/{batch}/progress", DESK),
    Door("GET", "/staff/print-run", DESK),
    Door("POST", "/staff/print-run/handed-over", DESK, {"attempt_id": "{postal}"}, 303),
    Door("GET", "/staff/reports", DESK),
    Door("GET", "/api/v1/reports/service?from=2026-01-01&to=2026-03-31", DESK),
    Door("GET", "/api/v1/reports/service.csv?from=2026-01-01&to=2026-03-31", DESK),
    Door("GET", "/api/v1/dispatches", DESK),
    Door("GET", "/api/v1/dispatches/{dispatch}", DESK),
    Door(
        "POST",
        "/api/v1/dispatches/{dispatch}/actions",
        frozenset({SUPERVISOR}),
        {"action": "approve_notice", **APPROVAL},
        422,
    ),
]


@dataclass
class World:
    api: Api
    ids: dict[str, str]
    clients: dict[str, Client]
    tokens: dict[str, str]
    wrong: list[str] = field(default_factory=list)

    async def stored(self) -> tuple[dict[str, int], list[Any]]:
        """Rows per table and the rows a refused form could have changed in place."""
        async with self.api.ctx.engine.connect() as conn:
            rows = [
                (await conn.execute(sa.select(table))).all() for table in (notices, field_tasks)
            ]
        return await self.api.table_counts(), rows

    async def send(self, door: Door, role: str, token: str | None, form: dict[str, str]) -> Any:
        client = self.clients[role]
        path = door.path.format(**self.ids)
        values = {k: v.format(**self.ids) for k, v in form.items()}
        if door.method == "GET":
            return await client.get(path, allow_redirects=False)
        if door.api:
            headers = {} if token is None else {"X-CSRF-Token": token}
            return await client.post(path, json=values, headers=headers, allow_redirects=False)
        body = FormData()
        if token is not None:  # the token comes first, as the browser sends the form
            body.add_field("csrf_token", token)
        for name, value in values.items():
            body.add_field(name, value)
        if door.multipart:  # an empty file input, as the browser sends it: multipart
            body.add_field("media", b"", filename="", content_type="application/octet-stream")
        return await client.post(path, data=body, allow_redirects=False)

    def expect(self, what: str, response: ClientResponse, status: int | Expected) -> None:
        if isinstance(status, int):
            if response.status != status:
                self.wrong.append(f"{what}: expected {status}, got {response.status}")
        elif not status(response):
            location = response.headers.get("Location")
            self.wrong.append(f"{what}: got {response.status} (Location: {location})")


def to_login(response: ClientResponse) -> bool:
    return response.status in (302, 303) and response.headers.get("Location", "").startswith(
        "/login"
    )


async def _batch(client: Client, token: str) -> str:
    """A CSV batch of one row uploaded by the clerk: its id."""
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("court", COURT)
    form.add_field("csv", BATCH_CSV, filename="access.csv", content_type="text/csv")
    form.add_field("documents", MINIMAL_PDF, filename="诉状.pdf", content_type="application/pdf")
    response = await client.post("/staff/batches", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"].rsplit("/", 1)[-1]


async def _world(api: Api, aiohttp_client: Callable[..., Any]) -> World:
    """One client per role (logged in), and the ids the table's paths and forms name: a field
    task assigned to the field server (``task``), the post tried before it (``postal``), a draft
    notice (``notice``) of a dispatch (``dispatch``) and its ``document``, the ``text_sha256``
    of the notice's text, a CSV ``batch``."""
    accounts = {role: await staff_account(api.ctx, Role(role), display_name=role) for role in STAFF}
    in_person = await in_person_dispatch(api)
    task = await visit_task(api, in_person)
    [postal] = [a for a in (await api.dispatch(in_person))["attempts"] if a["channel"] == "postal"]
    created = await notice_dispatch(api)
    notice = await drafted(api, created["id"])
    clients = {role: await aiohttp_client(create_app(api.ctx)) for role in (ANONYMOUS, *STAFF)}
    tokens = {
        role: await log_in(clients[role], user.username, password)
        for role, (user, password) in accounts.items()
    }
    batch = await _batch(clients[CLERK], tokens[CLERK])
    await settled(api.ctx)
    ids = {
        "task": task,
        "postal": postal["id"],
        "notice": notice["id"],
        "dispatch": created["id"],
        "document": (await api.dispatch(created["id"]))["documents"][0]["id"],
        "text_sha256": notice_text_sha256(notice["title"], notice["body"]),
        "batch": batch,
    }
    return World(api, ids, clients, tokens)


async def test_every_page_and_form_checks_the_role_and_the_csrf_token(
    api: Api, aiohttp_client: Callable[..., Any]
) -> None:
    world = await _world(api, aiohttp_client)
    before = await world.stored()
    for door in DOORS:
        response = await world.send(door, ANONYMOUS, None, door.form)
        if door.api:
            world.expect(f"{door} anonymous", response, 401)
        else:
            world.expect(f"{door} anonymous", response, to_login)
        for role in sorted(STAFF):
            what = f"{door} as {role}"
            if door.method == "GET":
                expected = (door.ok or 200) if role in door.roles else 403
                world.expect(what, await world.send(door, role, None, {}), expected)
                continue
            other_session = next(t for r, t in world.tokens.items() if r != role)
            for token, label in ((None, "without CSRF token"), (other_session, "wrong token")):
                world.expect(f"{what} {label}", await world.send(door, role, token, door.form), 403)
            if role not in door.roles:
                sent = await world.send(door, role, world.tokens[role], door.form)
                world.expect(f"{what} with its token", sent, 403)
            elif door.ok is not None:
                sent = await world.send(door, role, world.tokens[role], {})
                world.expect(f"{what} with its token, empty form", sent, door.ok)
            if await world.stored() != before:
                world.wrong.append(f"{what}: something was stored")
                before = await world.stored()
    assert not world.wrong, "\n".join(world.wrong)
