"""``/api/v1/case-groups/{group_id}``: the cases a case system links (CPL-INT-137), whose
recipients' confirmed addresses reach every dispatch of the group (docs/decisions/0047)."""

from __future__ import annotations

from typing import Any

from delivery.api.case_system.case_groups import GROUP_ID_RE, MAX_CASES
from delivery.api.case_system.openapi.builders import PROBLEM, json_body, key_op, ok
from delivery.api.case_system.openapi.dispatch_schemas import TIME, closed

CASE_NUMBER = {"type": "string", "minLength": 1, "maxLength": 100}
GROUP_PARAMETERS = [
    {
        "in": "path",
        "name": "group_id",
        "required": True,
        "schema": {"type": "string", "pattern": GROUP_ID_RE.pattern},
    },
]
COURT_PARAMETER = {
    "in": "query",
    "name": "court",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}

CASE_GROUP_SCHEMAS: dict[str, Any] = {
    "CaseGroupRequest": closed(
        {
            "court": {"type": "string", "minLength": 1, "maxLength": 200},
            "cases": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_CASES,
                "items": closed({"case_number": CASE_NUMBER}),
                "description": "every case of the group (first instance, appeal, retrial, "
                "enforcement); a case left out is taken out of the group",
            },
        }
    ),
    "CaseGroup": closed(
        {
            "group_id": {"type": "string"},
            "court": {"type": "string"},
            "cases": {
                "type": "array",
                "items": closed({"case_number": {"type": "string"}, "linked_at": TIME}),
            },
        }
    ),
}

GROUP_DESCRIPTION = (
    "A recipient's newest signed address confirmation in any case of the group (same court, "
    "same identity number — never the name alone) gives a new dispatch of any case of the group "
    "its confirmed addresses (source recipient_confirmed, before the request's own) and its "
    "e-service consent or refusal, until the recipient signs a newer one (CPL-INT-137). A case "
    "is in at most one group of its court; a case in no group is its own group."
)

CASE_GROUP_PATHS: dict[str, Any] = {
    "/api/v1/case-groups/{group_id}": {
        "put": key_op(
            "Set the cases of a group: exactly the listed ones (links already made keep their "
            "time). A case linked to another group is refused with 409, never moved: take it "
            "out of that group first",
            {"200": ok("Updated", "CaseGroup"), "201": ok("Created", "CaseGroup"), "409": PROBLEM},
            description=GROUP_DESCRIPTION,
            parameters=GROUP_PARAMETERS,
            requestBody=json_body({"$ref": "#/components/schemas/CaseGroupRequest"}),
        ),
        "get": key_op(
            "Read a group of a court",
            {"200": ok("The group", "CaseGroup"), "404": PROBLEM},
            parameters=[*GROUP_PARAMETERS, COURT_PARAMETER],
        ),
        "delete": key_op(
            "Unlink every case of a group (dispatches already created keep their addresses)",
            {"204": ok("Unlinked"), "404": PROBLEM},
            parameters=[*GROUP_PARAMETERS, COURT_PARAMETER],
        ),
    },
}
