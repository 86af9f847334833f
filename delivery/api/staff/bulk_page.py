"""The queue's bulk actions: ``POST /staff/queue/actions``.

The queue page's rows carry a checkbox (``dispatch``, one per selected row) inside one form with
the action (``reassign_owner``, ``escalate`` or ``cancel``), one note for all and, to reassign,
the clerk (``owner_id``). :func:`bulk_actions.apply` runs the action on each dispatch on its own;
the answer is a summary page: how many were done, and each refused dispatch with why — a page
rather than a redirect, because the refusals are what the clerk has to read. A request that is
wrong as a whole (no note, nothing selected, an unknown action) changes nothing (422).

Clerks and supervisors only, CSRF checked; dispatches of other courts are refused as not found.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from delivery.api.http.bodies import read_form
from delivery.api.http.request_context import ctx_of
from delivery.api.staff.auth import (
    CSRF_FIELD,
    check_csrf,
    page_locale,
    require_staff,
    workspace_page,
)
from delivery.api.staff.dispatch_page import PAGE_ROLES
from delivery.services import bulk_actions, clerk_requests

QUEUE = "/staff/queue"
MAX_FIELD = 2000


def _back(value: object) -> str:
    """Where "back to the queue" goes: the queue with the filter the clerk acted from (only a
    queue URL, never another site)."""
    if isinstance(value, str) and (value == QUEUE or value.startswith(QUEUE + "?")):
        return value[:MAX_FIELD]
    return QUEUE


async def bulk(request: web.Request) -> web.Response:
    """``POST /staff/queue/actions``: one action, one note, the selected dispatches."""
    ctx = ctx_of(request)
    user = require_staff(request, *PAGE_ROLES)
    posted = await read_form(request)
    await check_csrf(request, text if isinstance(text := posted.get(CSRF_FIELD), str) else None)
    selected = [v for v in posted.getall("dispatch", []) if isinstance(v, str)]
    action, note, owner_id = (
        v[:MAX_FIELD] if isinstance(v := posted.get(name), str) else ""
        for name in ("action", "note", "owner_id")
    )
    details: dict[str, Any] = {"owner_id": owner_id} if owner_id else {}
    context: dict[str, Any] = {
        "action": action,
        "back": _back(posted.get("back")),
        "max_selected": bulk_actions.MAX_SELECTED,
        "locale": page_locale(request, posted),  # the form's ``lang``, else ``?lang=``
    }
    try:
        result = await bulk_actions.apply(
            ctx,
            clerk_requests.Requester(user.actor, user),
            user.courts,
            selected,
            action,
            note,
            details,
        )
    except clerk_requests.InvalidRequest as exc:
        return workspace_page(
            request, "bulk_actions.html", user, "queue", status=422, errors=exc.errors, **context
        )
    return workspace_page(
        request,
        "bulk_actions.html",
        user,
        "queue",
        errors=[],
        done=result.done,
        refused=result.refused,
        **context,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(QUEUE + "/actions", bulk)
