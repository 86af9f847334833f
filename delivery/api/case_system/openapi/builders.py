"""The pieces every operation of the OpenAPI document is built from: problem responses, bodies,
the id parameter."""

from __future__ import annotations

from typing import Any

PROBLEM = {"$ref": "#/components/responses/Problem"}
# What any request body can get (delivery/api/http/bodies.py): malformed or nested too deeply (400),
# too large (413), not of a type the operation reads (415).
BODY_PROBLEMS = {"400": PROBLEM, "413": PROBLEM, "415": PROBLEM}
PDF_RESPONSE = {
    "description": "PDF",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}


def op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    # 503 + Retry-After: the database or the queue is unreachable (delivery/api/http/outages.py).
    common = {"401": PROBLEM, "403": PROBLEM, "422": PROBLEM, "503": PROBLEM}
    if "requestBody" in extra:
        common |= BODY_PROBLEMS
    return {"summary": summary, "responses": {**responses, **common}, **extra}


def key_op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A case-system operation: API keys only (a staff session gets 403 "API key required")."""
    return op(summary, responses, security=[{"bearer": []}], **extra)


def ok(description: str, schema: str | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def strings_body(required: list[str], optional: list[str]) -> dict[str, Any]:
    """A JSON request body of string fields."""
    return json_body(
        {
            "type": "object",
            "required": required,
            "properties": {name: {"type": "string"} for name in required + optional},
        }
    )


def file_body(**fields: dict[str, Any]) -> dict[str, Any]:
    """A multipart/form-data request body: the ``file`` and the other (required) fields."""
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": list(properties), "properties": properties}
            }
        },
    }


ID_PARAM = {
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"},
}
