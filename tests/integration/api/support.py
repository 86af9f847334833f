"""What the API tests share: reading an RFC 9457 problem response (errors and hostile input)."""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"


async def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body = dict(await response.json())
    assert body["type"] == f"urn:songda:problem:{slug}"
    assert body["status"] == status
    return body
