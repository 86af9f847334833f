"""Helpers every API handler uses: the context, the caller's key, JSON in and out."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from delivery.api.problems import Problem
from delivery.context import Context
from delivery.ids import looks_like_id
from delivery.services.api_keys import ApiKey

CONTEXT: web.AppKey[Context] = web.AppKey("context", Context)
API_KEY: web.RequestKey[ApiKey] = web.RequestKey("api_key", ApiKey)


def ctx_of(request: web.Request) -> Context:
    return request.app[CONTEXT]


def caller(request: web.Request) -> ApiKey:
    return request[API_KEY]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(data, ensure_ascii=False),
        content_type="application/json",
    )


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise Problem(
            415, "unsupported-media-type", "Send JSON", "Content-Type must be application/json"
        )
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "malformed-json", "The body is not valid JSON", str(exc)) from None


def path_id(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name]
    if not looks_like_id(value):
        raise Problem(404, "not-found", "Not found", f"no such {what}")
    return value
