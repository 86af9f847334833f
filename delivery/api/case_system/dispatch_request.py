"""Parsing and validating ``POST /api/v1/dispatches`` bodies.

Unknown fields are errors rather than being ignored: a case system that misspells
``postal_addresses`` must hear about it, not find out a month later that no letter was sent.
All problems are collected so the caller can fix them in one go.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from delivery.addresses import check_address
from delivery.api.http.problems import field_error
from delivery.domain import LOCALES, ContactKind, ContactSource
from delivery.ids import looks_like_id
from delivery.services.intake import ContactRequest, DispatchRequest
from delivery.text import text_problem
from delivery.vocabulary import ConsentBasis, RecipientRole
from escalation.policy import PolicyBook, load_policy_book
from templates.i18n import N_

ID_NUMBER_RE = re.compile(r"^[0-9A-Za-z]{4,40}$")
CONSENT_BASES = tuple(ConsentBasis)
MAX_CONTACTS = 20
MAX_DOCUMENTS = 50
Choice = TypeVar("Choice", bound=StrEnum)

TOP_FIELDS = {
    "court",
    "case_number",
    "reference",
    "policy",
    "documents",
    "hearing_at",
    "recipient",
    "locale",
    "clerk",
}
RECIPIENT_FIELDS = {
    "name",
    "domicile_in_china",
    "role",
    "id_number",
    "e_service_consent",
    "emails",
    "phones",
    "postal_addresses",
}


# The ladder a dispatch follows when its request names none (escalation/policies/cn-civil.toml).
DEFAULT_POLICY = "cn-civil"


class Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str, **params: object) -> None:
        """``message`` is a msgid of the message catalogue (marked ``N_`` where it is written):
        the item carries its English for the API, and with parameters also the msgid and their
        values, so a page can show it in its reader's language (api/staff/form_messages.py)."""
        self.items.append(field_error(field, message, **params))

    def unknown(self, data: dict[str, Any], allowed: set[str], where: str) -> None:
        for name in sorted(set(data) - allowed):
            self.add(f"{where}{name}", N_("unknown field"))

    def text(
        self,
        data: dict[str, Any],
        name: str,
        where: str,
        *,
        max_len: int = 200,
        required: bool = True,
    ) -> str | None:
        value = data.get(name)
        if value is None:
            if required:
                self.add(f"{where}{name}", N_("required"))
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(f"{where}{name}", N_("must be a non-empty string"))
            return None
        if len(value) > max_len:
            self.add(f"{where}{name}", N_("must be at most %(max)s characters"), max=max_len)
            return None
        if (problem := text_problem(value)) is not None:
            self.add(f"{where}{name}", problem)
            return None
        return value.strip()

    def choice(
        self, data: dict[str, Any], name: str, where: str, allowed: type[Choice]
    ) -> Choice | None:
        """A required value from a closed list (a vocabulary enum): the error names the list,
        so the caller can correct it without the documentation."""
        value = self.text(data, name, where, max_len=60)
        if value is None:
            return None
        try:
            return allowed(value)
        except ValueError:
            self.add(f"{where}{name}", N_("must be one of %(values)s"), values=", ".join(allowed))
            return None

    def obj(self, data: dict[str, Any], name: str, where: str) -> dict[str, Any] | None:
        value = data.get(name)
        if value is None:
            self.add(f"{where}{name}", N_("required"))
            return None
        if not isinstance(value, dict):
            self.add(f"{where}{name}", N_("must be an object"))
            return None
        return value

    def array(self, data: dict[str, Any], name: str, where: str) -> list[Any]:
        value = data.get(name, [])
        if not isinstance(value, list):
            self.add(f"{where}{name}", N_("must be an array"))
            return []
        if len(value) > MAX_CONTACTS:
            self.add(f"{where}{name}", N_("must have at most %(max)s entries"), max=MAX_CONTACTS)
            return []
        return value


def _source(errors: Errors, item: dict[str, Any], where: str) -> ContactSource | None:
    value = item.get("source")
    try:
        return ContactSource(str(value))
    except ValueError:
        errors.add(f"{where}source", N_("must be recipient_confirmed or court_found"))
        return None


def _contacts(errors: Errors, recipient: dict[str, Any]) -> list[ContactRequest]:
    found: list[ContactRequest] = []
    specs = (("emails", ContactKind.EMAIL, "address"), ("phones", ContactKind.PHONE, "number"))
    for list_name, kind, field in specs:
        for i, item in enumerate(errors.array(recipient, list_name, "recipient.")):
            where = f"recipient.{list_name}[{i}]."
            if not isinstance(item, dict):
                errors.add(where[:-1], N_("must be an object"))
                continue
            errors.unknown(item, {field, "source"}, where)
            value = errors.text(item, field, where, max_len=254)
            if value is not None:
                # A phone number as typed or pasted (13812345678) is stored as E.164.
                value, problem = check_address(kind, value)
                if problem is not None:
                    errors.add(f"{where}{field}", problem)
                    value = None
            source = _source(errors, item, where)
            if value is not None and source is not None:
                found.append(ContactRequest(kind, value, source))
    for i, item in enumerate(errors.array(recipient, "postal_addresses", "recipient.")):
        where = f"recipient.postal_addresses[{i}]."
        if not isinstance(item, dict):
            errors.add(where[:-1], N_("must be an object"))
            continue
        errors.unknown(item, {"lines", "postcode", "source"}, where)
        lines = errors.text(item, "lines", where, max_len=500)
        postcode = errors.text(item, "postcode", where, max_len=20, required=False)
        source = _source(errors, item, where)
        if lines is not None and source is not None:
            found.append(ContactRequest(ContactKind.POSTAL, lines, source, postcode))
    return found


def _consent(errors: Errors, recipient: dict[str, Any]) -> tuple[bool, str | None]:
    consent = errors.obj(recipient, "e_service_consent", "recipient.")
    if consent is None:
        return False, None
    errors.unknown(consent, {"given", "basis"}, "recipient.e_service_consent.")
    given = consent.get("given")
    if not isinstance(given, bool):
        errors.add("recipient.e_service_consent.given", N_("must be true or false"))
        return False, None
    basis = consent.get("basis")
    if given and basis not in CONSENT_BASES:
        errors.add(
            "recipient.e_service_consent.basis",
            N_("must be one of express, contract, filing, tacit"),
        )
    if not given and basis is not None:
        errors.add(
            "recipient.e_service_consent.basis", N_("must be absent when consent is not given")
        )
    return given, basis if given else None


def _hearing_at(errors: Errors, body: dict[str, Any]) -> datetime | None:
    raw = body.get("hearing_at")
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        errors.add("hearing_at", N_("must be an RFC 3339 time with an offset"))
        return None
    return value


def parse_dispatch_request(
    body: Any, default_locale: str, policies: PolicyBook | None = None
) -> tuple[DispatchRequest | None, list[dict[str, str]]]:
    errors = Errors()
    if not isinstance(body, dict):
        errors.add("", N_("the body must be a JSON object"))
        return None, errors.items
    errors.unknown(body, TOP_FIELDS, "")
    court = errors.text(body, "court", "")
    case_number = errors.text(body, "case_number", "", max_len=100)
    reference = errors.text(body, "reference", "", max_len=200)
    policy = errors.text(body, "policy", "", max_len=60, required=False) or DEFAULT_POLICY
    known = (policies or load_policy_book()).names_for(court)
    if policy not in known:
        errors.add("policy", N_("unknown policy; known: %(names)s"), names=", ".join(sorted(known)))
    clerk = errors.text(body, "clerk", "", max_len=100, required=False)
    locale = errors.text(body, "locale", "", max_len=10, required=False) or default_locale
    if locale not in LOCALES:
        errors.add("locale", N_("must be zh-CN or en"))
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        errors.add("documents", N_("must be a non-empty array of document ids"))
        documents = []
    elif len(documents) > MAX_DOCUMENTS:
        errors.add("documents", N_("must have at most %(max)s entries"), max=MAX_DOCUMENTS)
        documents = []
    elif not all(isinstance(d, str) and looks_like_id(d) for d in documents):
        errors.add("documents", N_("every entry must be a document id"))
        documents = []
    elif len(set(documents)) != len(documents):
        errors.add("documents", N_("must not repeat a document"))
    hearing_at = _hearing_at(errors, body)
    recipient = errors.obj(body, "recipient", "")
    if recipient is None:
        return None, errors.items
    errors.unknown(recipient, RECIPIENT_FIELDS, "recipient.")
    name = errors.text(recipient, "name", "recipient.")
    role = errors.choice(recipient, "role", "recipient.", RecipientRole)
    id_number = errors.text(recipient, "id_number", "recipient.", max_len=40)
    if id_number is not None and not ID_NUMBER_RE.match("".join(id_number.split())):
        errors.add("recipient.id_number", N_("must be 4 to 40 letters and digits"))
    consent_given, consent_basis = _consent(errors, recipient)
    domicile = recipient.get("domicile_in_china", True)
    if not isinstance(domicile, bool):
        errors.add("recipient.domicile_in_china", N_("must be true or false"))
    contacts = _contacts(errors, recipient)
    if errors.items:
        return None, errors.items
    assert court and case_number and reference and name and role and id_number
    return (
        DispatchRequest(
            court=court,
            case_number=case_number,
            reference=reference,
            policy=policy,
            document_ids=tuple(documents),
            recipient_name=name,
            recipient_role=role,
            id_number=id_number,
            consent_given=consent_given,
            consent_basis=consent_basis,
            domicile_in_china=domicile is not False,
            contacts=tuple(contacts),
            locale=locale,
            hearing_at=hearing_at,
            body=body,
            clerk=clerk,
        ),
        [],
    )
