"""Realistic data for the page crawl (test_page_crawl.py): dispatches in every state, attempts on
every channel, a certificate, a notice draft and a published notice, a field task, a recipient
link — made through the real API, worker and services — and, on one dispatch, every event type
and every reason code the timeline can show that no cheap path through the services reaches,
recorded through the real unit of work (so each is chained and stored as a receipt would be).

The crawl also needs to tell data from code: :func:`data_strings` collects what people typed or
the case system sent (names, addresses, titles, notes, court, case numbers, a mail server's own
words), which a page may show in any language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from api_client import Api
from conftest import COURT, settled
from helpers import confirmation_link, link_path, signed_form, staff_account, without_redis

from delivery.api.app import create_app
from delivery.identity import mask_address
from delivery.sandbox.pages import SmtpSink
from delivery.services.transactions import dispatch_transaction
from delivery.staff import Role, StaffUser
from delivery.storage.address_confirmations import ConfirmedAddress
from delivery.storage.schema import (
    api_keys,
    attempts,
    contacts,
    dispatches,
    documents,
    notice_codes,
    notices,
    staff_users,
)
from delivery.vocabulary import Channel, ContactKind, DispatchState, EventType
from integration.channels.in_person.support import in_person_dispatch
from integration.channels.public_notice.support import drafted, notice_dispatch, published_notice
from integration.tracking.support import issued

# A first instance and its appeal, linked (CPL-INT-137).
CONFIRMED_CASES = ("(2026)浙0106民初4321号", "(2026)浙01民终4321号")
ID_LAST4 = "123X"  # the last 4 characters of dispatch_body's identity number
NOTE = "电话核实，受送达人已搬离 / checked by phone"
# A mail server's own words on a bounce: evidence shown as it came, in whatever language.
SMTP_DIAGNOSTIC = "550 5.1.1 <zhang.san@example.com>: mailbox unavailable"
E = EventType
IN_PERSON = Channel.IN_PERSON
# What an event's data holds that a person wrote (a clerk's note, a signer's name).
PEOPLE_WROTE = frozenset({"note", "signed_by", "receiver_name"})

# Every reason code a timeline line can show, by the event that records it (the labels'
# tables, templates/labels.py, say how each reads).
REASONS: list[tuple[EventType, str]] = [
    *[(E.STEP_SKIPPED, r) for r in ("no_e_service_consent", "no_address", "skipped_by_clerk")],
    *[(E.ATTEMPT_EXPIRED, r) for r in ("window_elapsed", "escalated_by_clerk")],
    *[(E.DISPATCH_FAILED, r) for r in ("exhausted", "requires_ordinary_procedure")],
    (E.ATTEMPT_WAITING, "channel_unavailable"),
    *[
        (E.ATTEMPT_CANCELLED, r)
        for r in ("dispatch_cancelled", "service_completed", "no_e_service_consent")
    ],
    (E.DISPATCH_CANCELLED, "cancelled_by_case_system"),
    (E.ATTEMPT_FAILED, "lost"),
    (E.DISPATCH_UNSERVED, "bounce"),
    (E.FIELD_TASK_UNASSIGNED, "no_field_server_in_court"),
    *[(E.OWNER_ASSIGNED, r) for r in ("named", "case", "round_robin", "none")],
    *[
        (E.POSTAL_RETURNED, r)
        for r in ("address_wrong", "moved", "unknown_recipient", "nobody_home", "other")
    ],
    *[(E.VISIT_FAILED, r) for r in ("not_found", "moved", "no_such_address", "refused_not_left")],
    *[(E.NOTICE_APPROVED, r) for r in ("whereabouts_unknown", "other_methods_failed")],
    *[
        (E.SERVICE_REBUTTED, r)
        for r in ("system_error", "not_their_address", "read_by_someone_else")
    ],
]

# What each event type records besides its reason, as the services record it.
DATA: dict[EventType, dict[str, Any]] = {
    E.OWNER_REASSIGNED: {"owner_id": None, "note": NOTE},
    E.CONTACT_ADDED: {"kind": "phone", "source": "court_found", "note": NOTE},
    E.CONSENT_RECORDED: {"basis": "express", "note": NOTE},
    E.CONTACT_SUPERSEDED: {
        "contact_id": "contact-1",
        "kind": "postal",
        "source": "court_found",
        "confirmation_id": "form-1",
        "attempt_ids": [],
    },
    E.POLICY_CHANGED: {"policy": "cn-civil", "previous": "cn-simplified", "note": NOTE},
    E.DISPATCH_AT_RISK: {"deadline": "2026-12-01T02:00:00Z", "step_ends": "2026-12-03T02:00:00Z"},
    E.DISPATCH_SERVED: {"state": "served", "legal_basis": "CPL-90", "channel": "email"},
    E.DISPATCH_RESUMED: {"state": "in_progress", "note": NOTE},
    E.STEP_STARTED: {"step": 1, "name": "postal", "attempts": 1},
    E.STEP_REPEATED: {"step": 2, "attempts": 1},
    E.NOTICE_AWAITING_APPROVAL: {"state": "notice_pending"},
    E.CLERK_ESCALATED: {"step": 0, "note": NOTE},
    E.CLERK_SKIPPED_STEP: {"step": 2, "note": NOTE},
    E.CLERK_RETRIED_CHANNEL: {"channel": "email", "note": NOTE},
    E.PROOF_SIGNED: {"written_date": "2026-11-24", "note": NOTE},
    E.ATTEMPT_CHANNEL_UNAVAILABLE: {"channel": "sms"},
    E.ATTEMPT_SENDING: {"state": "sending"},
    E.ATTEMPT_RETRY_SCHEDULED: {"state": "pending"},
    E.ATTEMPT_SEND_INTERRUPTED: {"state": "pending"},
    E.ATTEMPT_BOUNCED: {"state": "bounced", "reason": SMTP_DIAGNOSTIC},
    E.OTP_SENT: {"via": "sms"},
    E.OTP_SEND_FAILED: {"via": "sms"},
    E.IDENTITY_FAILED: {"method": "last4"},
    E.IDENTITY_REJECTED_LOCKED: {"method": "last4"},
    E.LINK_LOCKED: {},
    E.LINK_REISSUED: {"note": NOTE},
    E.DOCUMENT_DOWNLOADED: {},
    E.SMS_DELIVERED: {"status": "delivered"},
    E.SMS_RECEIPT_CONTRADICTED: {"status": "undelivered"},
    E.REPLY_RECEIVED: {"automatic": False, "from_recipient": True},
    E.MAIL_HANDED_OVER: {"tracking_number": "EMS1234567890CN"},
    E.POSTAL_ACCEPTED: {"carrier_status": "accepted"},
    E.POSTAL_TRACKING: {"carrier_status": "in_transit"},
    E.POSTAL_DELIVERED: {"state": "delivered", "relation": "family", "signed_by": "张小三"},
    E.POSTAL_REFUSED: {"state": "refused", "relation": "self", "refused_by": "recipient"},
    E.RETURN_CARD_UPLOADED: {},
    E.FIELD_TASK_ASSIGNED: {"task_id": None},
    E.VISIT_SERVED: {"relation": "family", "receiver_name": "张小三"},
    E.VISIT_REFUSED_LEFT: {"relation": "self"},
    E.VISIT_REFUSED_FILMED: {"place": "court"},
    E.NOTICE_EDITED: {"note": NOTE},
    E.NOTICE_PUBLISHED: {"place": "court_notice_board"},
    E.MEDIA_UPLOADED: {"purpose": "notice_posting"},
    E.CHAIN_CHECKPOINT: {},
    E.CHECKPOINT_TIMESTAMPED: {"tsa": "Test TSA"},
    E.CERTIFICATE_ISSUED: {},
    E.ADDRESS_CONFIRMATION_REQUESTED: {"via": "messages", "note": NOTE},
    E.ADDRESS_CONFIRMATION_REQUEST_SENT: {"channel": "email", "outcome": "accepted"},
    E.CONFIRMATION_IDENTITY_FAILED: {"method": "id_last4"},
    E.CONFIRMATION_IDENTITY_VERIFIED: {"method": "id_last4"},
    E.ADDRESS_CONFIRMED: {"consent_given": True, "addresses": {"email": 1}},
    E.CERTIFICATE_BLOCKED: {
        "fields": [
            {"field": "recipient_name", "characters": [{"char": "𠀀", "code_point": "U+20000"}]}
        ]
    },
}


@dataclass
class Seed:
    """What the crawl starts from: the staff who log in, the pages no link leads to."""

    staff: dict[Role, tuple[StaffUser, str]] = field(default_factory=dict)
    dispatch_ids: dict[str, str] = field(default_factory=dict)  # what it shows → dispatch id
    recipient_link: str = ""
    verify_path: str = ""
    notice_code: str = ""
    confirmation_link: str = ""


async def seed(api: Api, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]) -> Seed:
    """Every state, channel, page and event type, through the API while a worker runs."""
    out = Seed()
    names = {
        Role.CLERK: "王书记员",
        Role.SUPERVISOR: "李法官",
        Role.FIELD_SERVER: "赵送达员",
        Role.ADMIN: "陈管理员",
    }
    for role, name in names.items():
        out.staff[role] = await staff_account(api.ctx, role, display_name=name)
    ids = out.dispatch_ids
    # Served by e-mail at a confirmed address (OLR-31): a certificate, a recipient link.
    ids["served"] = str((await api.new_dispatch(reference="crawl-served"))["id"])
    await api.until_state(ids["served"], "served")
    certificate = (await issued(api, ids["served"]))[0]
    out.verify_path = f"/verify/{ids['served']}?h={certificate['chain_head']}"
    out.recipient_link = link_path(smtp_sink.messages[0].text)
    # E-mail and SMS to court-found addresses: the e-mail is sent (served only once read), the
    # SMS waits for a channel this installation has not configured.
    evidence = await api.new_dispatch_body(reference="crawl-evidence", source="court_found")
    evidence["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    ids["in_progress"] = str((await api.create(evidence))["id"])
    await api.until_attempt(ids["in_progress"], "sent")
    ids["cancelled"] = str(
        (await api.new_dispatch(reference="crawl-cancel", source="court_found"))["id"]
    )
    await api.until_attempt(ids["cancelled"], "sent")
    cancelled = await api.client.post(
        f"/api/v1/dispatches/{ids['cancelled']}/cancel", json={}, headers=api.auth
    )
    assert cancelled.status == 200, await cancelled.text()
    ids["confirming"] = str(
        (await api.new_dispatch(reference="crawl-confirm", source="court_found"))["id"]
    )
    await api.until_attempt(ids["confirming"], "sent")
    out.confirmation_link = await confirmation_link(api, smtp_sink, ids["confirming"])
    ids["failed"] = str(
        (await api.new_dispatch(reference="crawl-failed", source="court_found"))["id"]
    )
    await api.until_attempt(ids["failed"], "sent")
    ids["in_person"] = await in_person_dispatch(api, reference="crawl-visit")
    await api.until(
        ids["in_person"], lambda d: any(a["channel"] == "in_person" for a in d["attempts"])
    )
    ids["notice_draft"] = str(
        (await notice_dispatch(api, reference="crawl-notice-draft", name="李四"))["id"]
    )
    await drafted(api, ids["notice_draft"])
    ids["notice_published"], _ = await published_notice(
        api, reference="crawl-notice-published", name="王五"
    )
    await settled(api.ctx)
    # Redis down while the case system sends one: it waits, queued, for the sweep.
    async with without_redis(api.ctx) as no_queue:
        offline: TestClient[Any, Any] = await aiohttp_client(create_app(no_queue))
        body = await api.new_dispatch_body(reference="crawl-queued")
        response = await offline.post("/api/v1/dispatches", json=body, headers=api.auth)
        assert response.status == 201, await response.text()
        ids["queued"] = str((await response.json())["id"])
    ids["confirmed"] = await _served_at_a_confirmed_address(api)
    await _record_the_rest(api, ids)
    out.notice_code = await _notice_code(api, ids["served"])
    await settled(api.ctx)
    return out


async def _served_at_a_confirmed_address(api: Api) -> str:
    """A form the recipient signed in a linked case (CPL-INT-137): the next dispatch takes its
    addresses, its page and certificate name the form (its own case, so the dispatches above
    keep theirs)."""
    group = {"court": COURT, "cases": [{"case_number": c} for c in CONFIRMED_CASES]}
    linked = await api.client.put("/api/v1/case-groups/crawl", json=group, headers=api.auth)
    assert linked.status == 201, await linked.text()
    body = await api.new_dispatch_body(reference="crawl-confirmed", source="court_found")
    body["case_number"] = CONFIRMED_CASES[1]
    earlier = await api.create(body)
    confirmed = ConfirmedAddress(ContactKind.EMAIL, "zhang.san@confirmed.example")
    await signed_form(api, earlier["id"], CONFIRMED_CASES[0], [confirmed])
    body = await api.new_dispatch_body(reference="crawl-confirmed-next", source="court_found")
    body["case_number"] = CONFIRMED_CASES[1]
    created = await api.create(body)
    await api.until_state(created["id"], "served")
    return str(created["id"])


async def _record_the_rest(api: Api, ids: dict[str, str]) -> None:
    """The failed dispatch fails (the simplified procedure cannot go on); the in-progress one
    receives every event type and reason the services above did not record."""
    async with dispatch_transaction(api.ctx.engine, api.ctx.clock, ids["failed"]) as tx:
        tx.change_dispatch(
            DispatchState.FAILED,
            E.DISPATCH_FAILED,
            source="escalation",
            reason="requires_ordinary_procedure",
        )
    recorded = {e.type for d in ids.values() for e in await api.events(d)}
    async with dispatch_transaction(api.ctx.engine, api.ctx.clock, ids["in_progress"]) as tx:
        attempt_id = (await tx.attempts())[0].id
        for event_type, reason in REASONS:
            data = {**DATA.get(event_type, {}), "reason": reason}
            if event_type == E.SERVICE_REBUTTED:
                data["note"] = NOTE
            tx.record(event_type, source="escalation", data=data, attempt_id=attempt_id)
        tx.record(
            E.DISPATCH_UNSERVED,
            source="clerk",
            data={"state": "in_progress", "reason": "rebuttal: not_their_address"},
        )
        for event_type in sorted(set(E) - recorded - {t for t, _ in REASONS}):
            tx.record(
                event_type,
                source="escalation",
                data=DATA.get(event_type, {}),
                attempt_id=attempt_id,
            )


async def _notice_code(api: Api, dispatch_id: str) -> str:
    async with api.ctx.engine.connect() as conn:
        query = sa.select(notice_codes.c.code).where(notice_codes.c.dispatch_id == dispatch_id)
        return str(await conn.scalar(query))


async def recorded_events(api: Api, dispatch_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every event of ``dispatch_ids``."""
    return [(e.type, e.data) for d in dispatch_ids for e in await api.events(d)]


async def data_strings(
    api: Api, recorded: list[tuple[str, dict[str, Any]]], sent: SmtpSink
) -> set[str]:
    """What people and the case system wrote, as pages may show it (whole or masked), and the
    e-mails as sent (the sandbox mailbox shows them in the recipient's language)."""
    found: set[str] = {COURT, NOTE, SMTP_DIAGNOSTIC, "Test TSA"}
    for message in sent.messages:
        found |= {message.subject, *_lines_and_whole(message.text)}
    async with api.ctx.engine.connect() as conn:
        for column in (
            dispatches.c.court,
            dispatches.c.case_number,
            dispatches.c.recipient_name,
            dispatches.c.reference,
            documents.c.title,
            staff_users.c.display_name,
            staff_users.c.username,
            api_keys.c.name,
            notices.c.title,
        ):
            found |= {str(v) for v in (await conn.scalars(sa.select(column))) if v}
        for body in await conn.scalars(sa.select(notices.c.body)):
            found |= _lines_and_whole(str(body or ""))
        for channel, address in await conn.execute(
            sa.select(attempts.c.channel, attempts.c.address)
        ):
            found |= {address, mask_address(channel, address)}
        for kind, value in await conn.execute(sa.select(contacts.c.kind, contacts.c.value)):
            found |= {value, mask_address(str(kind), value)}
    found |= {str(v) for _, data in recorded for k, v in data.items() if k in PEOPLE_WROTE}
    return {s for s in found if s}


def _lines_and_whole(text: str) -> set[str]:
    """A text's lines, its blanks to fill in (【…】) and its whole (a page may show it on one
    line), with spaces collapsed as the crawl reads pages."""
    lines = {" ".join(line.split()) for line in text.splitlines()}
    blanks = set(re.findall(r"【[^】]*】", text))
    parts = {p.strip() for line in lines for p in re.split(r"【[^】]*】", line)}
    return {s for s in {*lines, *blanks, *parts, " ".join(text.split())} if s}
