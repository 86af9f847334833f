"""What every handler reads from its request and answers with: the context, the caller (API key
or staff), a path id, JSON and HTML responses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from delivery.api.http.problems import Problem
from delivery.context import Context
from delivery.ids import looks_like_id
from delivery.infra.public_pdfs import PublicPdfs
from delivery.services.api_keys import ApiKey
from delivery.staff import Role, StaffUser
from templates import render
from templates.i18n import N_


@dataclass(frozen=True)
class Caller:
    """Who is calling the API: a case system's key or a staff account's session."""

    actor: str  # how events name the caller: "api_key:<id>" or "staff:<id>"
    courts: tuple[str, ...]
    api_key: ApiKey | None = None
    staff: StaffUser | None = None

    @property
    def api_key_id(self) -> str | None:
        return None if self.api_key is None else self.api_key.id

    def sees(self, court: str) -> bool:
        return court in self.courts

    @classmethod
    def of_key(cls, key: ApiKey) -> Caller:
        return cls(actor=f"api_key:{key.id}", courts=key.courts, api_key=key)

    @classmethod
    def of_staff(cls, user: StaffUser) -> Caller:
        return cls(actor=user.actor, courts=user.courts, staff=user)


CONTEXT: web.AppKey[Context] = web.AppKey("context", Context)
PUBLIC_PDFS: web.AppKey[PublicPdfs] = web.AppKey("public_pdfs", PublicPdfs)
API_KEY: web.RequestKey[ApiKey] = web.RequestKey("api_key", ApiKey)
STAFF: web.RequestKey[StaffUser] = web.RequestKey("staff", StaffUser)
CALLER: web.RequestKey[Caller] = web.RequestKey("caller", Caller)


def ctx_of(request: web.Request) -> Context:
    return request.app[CONTEXT]


def caller(request: web.Request, *staff_roles: Role) -> Caller:
    """The API's caller; a staff caller must hold one of ``staff_roles`` when any are given
    (403 problem otherwise). API keys are not limited by role."""
    who = request[CALLER]
    if who.staff is not None and staff_roles and not any(who.staff.has(r) for r in staff_roles):
        raise Problem(
            403,
            "role-required",
            "Your account's roles do not allow this",
            f"needs one of: {', '.join(r.value for r in staff_roles)}",
        )
    return who


def require_api_key(request: web.Request) -> ApiKey:
    """The caller's API key; staff sessions get a 403 problem (a case-system endpoint)."""
    key = request[CALLER].api_key
    if key is None:
        raise Problem(
            403,
            "api-key-required",
            "API key required",
            N_("this endpoint is for case systems: send Authorization: Bearer <key>"),
        )
    return key


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(data, ensure_ascii=False),
        content_type="application/json",
    )


def path_id(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name]
    if not looks_like_id(value):
        raise Problem(404, "not-found", "Not found", f"no such {what}")
    return value


def html_page(
    name: str, *, status: int = 200, referrer_policy: str, **context: Any
) -> web.Response:
    """A rendered page that is never cached (it is personal) and never framed (clickjacking)."""
    response = web.Response(
        status=status, text=render(f"pages/{name}", **context), content_type="text/html"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = referrer_policy
    response.headers["X-Frame-Options"] = "DENY"
    return response
