"""``/api/v1/case-groups/{group_id}``: the case system links a court's cases (first instance,
appeal, retrial, enforcement) so that a recipient's confirmed addresses reach them all
(CPL-INT-137). PUT sets the group's cases, GET reads them, DELETE unlinks them all; the court is
in the body of a PUT and the ``court`` parameter of the others. API keys only, within their
courts (docs/decisions/0047).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from delivery.api.case_system.dispatch_request import Errors
from delivery.api.http.bodies import check_query, read_json
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, require_api_key
from delivery.clock import rfc3339
from delivery.services import case_groups
from delivery.services.api_keys import ApiKey
from templates.i18n import N_

# The case system's own id of the group: letters, digits and . _ : -, a letter or digit first
# (it is a URL's last segment: never "." or "..").
GROUP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
MAX_CASES = 50


def _group_id(request: web.Request) -> str:
    value = request.match_info["group_id"]
    if not GROUP_ID_RE.match(value):
        raise validation_problem(
            [
                {
                    "field": "group_id",
                    "message": "a letter or digit, then up to 99 of them or . _ : -",
                }
            ]
        )
    return value


def _view(group: case_groups.CaseGroup) -> dict[str, Any]:
    return {
        "group_id": group.group_id,
        "court": group.court,
        "cases": [
            {"case_number": c.case_number, "linked_at": rfc3339(c.linked_at)} for c in group.cases
        ],
    }


def _case_numbers(errors: Errors, body: dict[str, Any]) -> list[str]:
    cases = body.get("cases")
    if not isinstance(cases, list) or not 1 <= len(cases) <= MAX_CASES:
        errors.add("cases", N_("must be an array of 1 to %(max)s cases"), max=MAX_CASES)
        return []
    found: list[str] = []
    for i, item in enumerate(cases):
        where = f"cases[{i}]."
        if not isinstance(item, dict):
            errors.add(where[:-1], N_("must be an object"))
            continue
        errors.unknown(item, {"case_number"}, where)
        number = errors.text(item, "case_number", where, max_len=100)
        if number is None:
            continue
        if number in found:
            errors.add(f"{where}case_number", N_("is listed twice"))
        found.append(number)
    return found


def _court_param(request: web.Request, key: ApiKey) -> str:
    """The ``court`` parameter; a court outside the key's is answered as no such group."""
    check_query(request)
    unknown = sorted(set(request.query) - {"court"})
    court = request.query.get("court")
    errors = [{"field": n, "message": "unknown parameter"} for n in unknown]
    if not court:
        errors.append({"field": "court", "message": "required"})
    if errors:
        raise validation_problem(errors)
    assert court is not None
    if not key.sees(court):
        raise not_found("case group")
    return court


async def put(request: web.Request) -> web.Response:
    key = require_api_key(request)
    group_id = _group_id(request)
    body = await read_json(request)
    errors = Errors()
    errors.unknown(body, {"court", "cases"}, "")
    court = errors.text(body, "court", "")
    numbers = _case_numbers(errors, body)
    if errors.items:
        raise validation_problem(errors.items)
    assert court is not None
    if not key.sees(court):
        raise Problem(
            403,
            "court-not-in-scope",
            "This API key cannot link cases of that court",
            f"the key is scoped to: {', '.join(key.courts)}",
        )
    try:
        group, new = await case_groups.put_group(ctx_of(request), court, group_id, numbers)
    except case_groups.InAnotherGroup as exc:
        raise Problem(
            409,
            "case-in-another-group",
            "A case is linked to another group",
            N_("take the case out of its group first (PUT that group without it, or DELETE it)"),
            errors=[
                {
                    "field": f"cases[{i}].case_number",
                    "message": f"linked to group {other}",
                    "group_id": other,
                }
                for i, _number, other in exc.cases
            ],
        ) from None
    return json_response(_view(group), status=201 if new else 200)


async def get(request: web.Request) -> web.Response:
    key = require_api_key(request)
    group_id = _group_id(request)
    court = _court_param(request, key)
    group = await case_groups.get_group(ctx_of(request), court, group_id)
    if group is None:
        raise not_found("case group")
    return json_response(_view(group))


async def delete(request: web.Request) -> web.Response:
    key = require_api_key(request)
    group_id = _group_id(request)
    court = _court_param(request, key)
    if not await case_groups.delete_group(ctx_of(request), court, group_id):
        raise not_found("case group")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    path = "/api/v1/case-groups/{group_id}"
    app.router.add_put(path, put)
    app.router.add_get(path, get)
    app.router.add_delete(path, delete)
