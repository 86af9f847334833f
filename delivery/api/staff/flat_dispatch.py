"""A dispatch as flat named values — the new dispatch form's fields, a CSV batch's columns —
turned into the body ``POST /api/v1/dispatches`` takes, so that one parser
(:func:`delivery.api.case_system.dispatch_request.parse_dispatch_request`) validates every way in.

The flat shape holds one e-mail, one phone and one postal address (the API takes lists); times
without an offset are the court's time; consent is yes/no (also 是/否, true/false, 1/0). The
parser's error paths (``recipient.emails[0].address``) are mapped back to the flat names, so the
form marks the right field and the batch report names the right column.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from delivery.api.case_system.dispatch_request import parse_dispatch_request
from delivery.context import Context
from delivery.services.intake import DispatchRequest
from templates.i18n import N_

# Every flat name, in the order of the CSV template (documents is the form's file inputs).
COLUMNS = (
    "reference",
    "case_number",
    "recipient_name",
    "recipient_role",
    "id_number",
    "consent",
    "consent_basis",
    "email",
    "email_source",
    "phone",
    "phone_source",
    "postal_address",
    "postcode",
    "postal_source",
    "hearing_at",
    "policy",
    "locale",
    "documents",
    "document_kinds",
    "clerk",
)
YES = frozenset({"yes", "y", "true", "1", "是", "同意"})
NO = frozenset({"no", "n", "false", "0", "否", "不同意", ""})
PATHS = {
    "recipient.name": "recipient_name",
    "recipient.role": "recipient_role",
    "recipient.id_number": "id_number",
    "recipient.e_service_consent": "consent",
    "recipient.e_service_consent.given": "consent",
    "recipient.e_service_consent.basis": "consent_basis",
    "recipient.emails[0].address": "email",
    "recipient.emails[0].source": "email_source",
    "recipient.phones[0].number": "phone",
    "recipient.phones[0].source": "phone_source",
    "recipient.postal_addresses[0].lines": "postal_address",
    "recipient.postal_addresses[0].postcode": "postcode",
    "recipient.postal_addresses[0].source": "postal_source",
}
HEARING_FORMAT = N_("must be a date and time, e.g. 2026-12-20 09:30 (court time)")


def _consent(value: str) -> bool | str:
    """True/False for the accepted spellings; anything else is passed on for the parser to
    refuse ("must be true or false")."""
    folded = value.strip().lower()
    if folded in YES:
        return True
    if folded in NO:
        return False
    return value


def _hearing_at(value: str, zone: ZoneInfo) -> str | None:
    """RFC 3339 with the court's offset when none is given; None when it is not a time."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _contact(fields: Mapping[str, str], name: str, key: str) -> list[dict[str, str]]:
    value = fields.get(name, "").strip()
    if not value:
        return []
    return [{key: value, "source": fields.get(f"{name}_source", "").strip()}]


def dispatch_body(
    fields: Mapping[str, str], court: str, document_ids: list[str], zone: ZoneInfo
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The API body for these flat values, and the errors only the flat shape can have (a
    malformed hearing time); everything else is left for the parser to judge."""
    errors: list[dict[str, str]] = []
    recipient: dict[str, Any] = {
        "name": fields.get("recipient_name", ""),
        "role": fields.get("recipient_role", ""),
        "id_number": fields.get("id_number", ""),
        "e_service_consent": {"given": _consent(fields.get("consent", ""))},
        "emails": _contact(fields, "email", "address"),
        "phones": _contact(fields, "phone", "number"),
        "postal_addresses": [],
    }
    basis = fields.get("consent_basis", "").strip()
    if basis:
        recipient["e_service_consent"]["basis"] = basis
    lines = fields.get("postal_address", "").strip()
    if lines:
        address = {"lines": lines, "source": fields.get("postal_source", "").strip()}
        postcode = fields.get("postcode", "").strip()
        if postcode:
            address["postcode"] = postcode
        recipient["postal_addresses"].append(address)
    body: dict[str, Any] = {
        "court": court,
        "case_number": fields.get("case_number", ""),
        "reference": fields.get("reference", ""),
        "documents": document_ids,
        "recipient": recipient,
    }
    for name in ("policy", "locale", "clerk"):
        value = fields.get(name, "").strip()
        if value:
            body[name] = value
    hearing = fields.get("hearing_at", "").strip()
    if hearing:
        moment = _hearing_at(hearing, zone)
        if moment is None:
            errors.append({"field": "hearing_at", "message": HEARING_FORMAT})
        else:
            body["hearing_at"] = moment
    return body, errors


def flat_errors(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """The parser's errors with their fields named as the flat shape names them."""
    return [{**e, "field": PATHS.get(e["field"], e["field"])} for e in errors]


def parse_flat(
    ctx: Context, fields: Mapping[str, str], court: str, document_ids: list[str]
) -> tuple[DispatchRequest | None, list[dict[str, str]]]:
    """The validated request for these flat values, or the errors named by flat field."""
    body, errors = dispatch_body(fields, court, document_ids, ctx.settings.zone)
    parsed, problems = parse_dispatch_request(body, ctx.settings.default_locale, ctx.policies)
    errors += flat_errors(problems)
    return (None if errors else parsed), errors
