"""The field server's pages (mobile first, server-rendered, no build step).

- ``GET /field``: the logged-in field server's open tasks (a clerk or supervisor sees every
  open task of their courts, with its assignee);
- ``GET /field/tasks/{task_id}``: one task and its outcome form;
- ``POST /field/tasks/{task_id}``: the outcome, ``multipart/form-data`` as the browser sends it
  (read and validated in ``visit_form.py``).

A field server sees and records only their own tasks: another's is 403 (not 404 — the task
exists in their court, they are just not the one sent; docs/decisions/0008-field-tasks.md). A
clerk may look at the form but not record.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from channels.in_person import tasks as field_tasks
from channels.in_person import visit_form, visits
from channels.in_person.tasks import TaskView
from channels.in_person.visit_form import validate
from delivery.api.http.bodies import RefusedText
from delivery.api.http.request_context import ctx_of, path_id
from delivery.api.staff.auth import csrf_token, require_staff, staff_page
from delivery.infra.document_store import UploadRejected
from delivery.staff import Role, StaffUser
from templates import locale_or_default

VIEW_ROLES = (Role.FIELD_SERVER, Role.CLERK, Role.SUPERVISOR)


def _locale(request: web.Request, fields: dict[str, str] | None = None) -> str:
    chosen = (fields or {}).get("lang") or request.query.get("lang")
    return locale_or_default(chosen or ctx_of(request).settings.default_locale)


def _page(name: str, *, status: int = 200, **context: Any) -> web.Response:
    """A staff page whose only script is the inline one carrying this response's nonce."""
    nonce = secrets.token_urlsafe(16)
    response = staff_page(name, status=status, nonce=nonce, active="field", **context)
    policy = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = policy.replace(
        "script-src 'self';", f"script-src 'self' 'nonce-{nonce}';", 1
    )
    return response


async def _task(request: web.Request, user: StaffUser) -> TaskView:
    ctx = ctx_of(request)
    task_id = path_id(request, "task_id", "field task")
    try:
        task = await field_tasks.task_for(ctx, task_id, user.courts)
    except field_tasks.TaskNotFound:
        raise web.HTTPNotFound(text="404: no such field task") from None
    if not field_tasks.may_view(user, task):
        raise web.HTTPForbidden(text="403: this task is assigned to another field server")
    return task


async def task_list(request: web.Request) -> web.Response:
    """``GET /field``: the open tasks, soonest deadline first."""
    user = require_staff(request, *VIEW_ROLES)
    ctx = ctx_of(request)
    own = user.has(Role.FIELD_SERVER)
    tasks = await field_tasks.open_tasks(ctx, user.courts, user.id if own else None)
    return _page(
        "field_tasks.html",
        locale=_locale(request),
        user=user,
        own=own,
        tasks=tasks,
        zone=ctx.settings.time_zone,
        done=request.query.get("done"),
    )


def _form(
    request: web.Request,
    user: StaffUser,
    task: TaskView,
    *,
    locale: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    ctx = ctx_of(request)
    now_local = ctx.clock.now().astimezone(ctx.settings.zone)
    return _page(
        "field_task.html",
        status=status,
        locale=locale,
        user=user,
        task=task,
        may_record=field_tasks.may_record(user, task) and task.open,
        csrf_token=csrf_token(request),
        zone=ctx.settings.time_zone,
        now_local=now_local.strftime("%Y-%m-%dT%H:%M"),
        opened_local=(task.created_at.astimezone(ctx.settings.zone)).strftime("%Y-%m-%dT%H:%M"),
        relations=(
            visits.MEDIATION_RECEIVERS if task.has_mediation_statement else visits.RELATIONS
        ),
        places=visits.FILMED_PLACES,
        reasons=visits.FAILURE_REASONS,
        problems=visit_form.PROBLEMS,
        errors=errors or {},
        values=values or {},
        max_media_mb=max(1, ctx.settings.max_media_bytes // (1024 * 1024)),
    )


async def task_page(request: web.Request) -> web.Response:
    """``GET /field/tasks/{task_id}``: the task and its outcome form."""
    user = require_staff(request, *VIEW_ROLES)
    task = await _task(request, user)
    return _form(request, user, task, locale=_locale(request))


async def record(request: web.Request) -> web.Response:
    """``POST /field/tasks/{task_id}``: record the visit's outcome (the assigned field server)."""
    user = require_staff(request, Role.FIELD_SERVER)
    ctx = ctx_of(request)
    task = await _task(request, user)
    if not field_tasks.may_record(user, task):
        raise web.HTTPForbidden(text="403: this task is assigned to another field server")
    locale = _locale(request)
    if not task.open:
        return _form(request, user, task, locale=locale, status=409, errors={"task": "closed"})
    try:
        posted = await visit_form.read_form(request, ctx)
    except RefusedText as exc:
        errors = {exc.field: "control_characters"}
        return _form(request, user, task, locale=locale, status=422, errors=errors)
    except UploadRejected as exc:
        code = {413: "file_too_large", 415: "file_type"}.get(exc.status, "file_invalid")
        return _form(request, user, task, locale=locale, status=exc.status, errors={"media": code})
    locale = _locale(request, posted.fields)
    visit, errors = validate(ctx, task, posted)
    if visit is None:
        return _form(
            request, user, task, locale=locale, status=422, errors=errors, values=posted.fields
        )
    try:
        await visits.record_visit(ctx, task.id, visit, user)
    except field_tasks.NotYourTask:
        raise web.HTTPForbidden(text="403: this task is assigned to another field server") from None
    except field_tasks.TaskClosed:
        return _form(request, user, task, locale=locale, status=409, errors={"task": "closed"})
    except visits.MediationStatement:
        errors = {"outcome": "mediation_statement"}
        return _form(
            request, user, task, locale=locale, status=422, errors=errors, values=posted.fields
        )
    lang = "&lang=en" if locale == "en" else ""
    raise web.HTTPSeeOther(f"/field?done={task.id}{lang}")
