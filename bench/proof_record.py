"""The certificates ``proof_render.py`` renders: realistic served dispatches, made up in memory.

Each is what the certificate job reads from the database for an e-mail service (OLR-31) with
an SMS and ~20 events: the dispatch, its documents, attempts and events; every other one in
English, so both locales' templates and fonts are in the batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from delivery.domain import (
    Attempt,
    AttemptState,
    ContactSource,
    Dispatch,
    DispatchState,
    DocumentRef,
    Event,
)
from tracking.certificate import CertificateView, certificate_view

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def served_record(i: int) -> dict[str, Any]:
    """A served dispatch's record: e-mail (served, OLR-31), SMS and a courtesy post."""
    d = f"D{i:025d}"
    dispatch = Dispatch(
        id=d,
        court="杭州市西湖区人民法院",
        case_number=f"(2026)浙0106民初{1000 + i}号",
        reference=f"bench-{i}",
        policy="cn-civil",
        state=DispatchState.SERVED,
        recipient_name="张三",
        recipient_role="defendant",
        id_last4="123X",
        consent_given=True,
        consent_basis="express",
        locale="zh-CN" if i % 2 == 0 else "en",
        created_at=T0,
    )
    channels = [("email", "zhang.san@example.com"), ("sms", "+8613800138000")]
    attempts = [
        Attempt(
            id=f"A{i:024d}{n}",
            dispatch_id=d,
            step_index=0,
            channel=channel,
            contact_id=None,
            address=address,
            source=ContactSource.RECIPIENT_CONFIRMED,
            state=AttemptState.SENT,
            created_at=T0,
        )
        for n, (channel, address) in enumerate(channels)
    ]
    seq = 0
    events: list[Event] = []

    def add(type: str, data: dict[str, Any], attempt: str | None = None) -> Event:
        nonlocal seq
        seq += 1
        event = Event(
            id=f"E{i:022d}{seq:03d}",
            dispatch_id=d,
            seq=seq,
            type=type,
            occurred_at=T0 + timedelta(seconds=seq),
            recorded_at=T0 + timedelta(seconds=seq),
            source="bench",
            actor=None,
            attempt_id=attempt,
            data=data,
            prev_hash=f"{seq - 1:064x}",
            hash=uuid.uuid4().hex * 2,
        )
        events.append(event)
        return event

    add("dispatch_created", {"state": "queued"})
    add("step_started", {"state": "in_progress", "step": 0})
    for a in attempts:
        add("attempt_created", {"channel": a.channel, "address_source": a.source.value}, a.id)
        add("attempt_sending", {"state": "sending", "try": 1}, a.id)
    sent = add("attempt_sent", {"state": "sent", "message_id": f"<{d}@court>"}, attempts[0].id)
    add("attempt_sent", {"state": "sent", "sid": f"SM{i:032d}"}, attempts[1].id)
    served = add(
        "dispatch_served",
        {
            "legal_basis": "OLR-31",
            "reading": "recipient-confirmed address; accepted by the court's mail server",
            "served_at": sent.occurred_at.isoformat(),
            "service_date": "2026-11-23",
            "channel": "email",
            "attempt_id": attempts[0].id,
            "completing_event_id": sent.id,
        },
    )
    add("chain_checkpoint", {"head": served.hash, "seq": served.seq, "key_id": "k2026",
                             "alg": "Ed25519", "signature": "A" * 86})  # fmt: skip
    for _ in range(8):
        add("document_downloaded", {"document_id": "DOC"}, attempts[0].id)
    documents = [
        DocumentRef(f"DOC{n}", uuid.uuid4().hex * 2, 1000, title, kind, "application/pdf")
        for n, (title, kind) in enumerate(
            [("民事起诉状", "complaint"), ("传票", "summons"), ("举证通知书", "notice")]
        )
    ]
    return {
        "dispatch": dispatch,
        "documents": documents,
        "attempts": attempts,
        "events": events,
        "served": served,
    }


def view_of(record: dict[str, Any], zone: Any, base_url: str) -> CertificateView:
    return certificate_view(
        **record,
        names={},
        zone=zone,
        verify_base_url=base_url,
        certificate_id=str(uuid.uuid4()),
    )
