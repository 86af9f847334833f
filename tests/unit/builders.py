"""Domain objects for unit tests, with defaults: name only what a test is about; and one dispatch
served in person with its record and certificate view (the certificate and the font tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from delivery.domain import (
    Attempt,
    AttemptState,
    Contact,
    ContactKind,
    ContactSource,
    Dispatch,
    DispatchState,
    DocumentRef,
    Event,
)
from tracking.certificate import certificate_view


def a_dispatch(**overrides: Any) -> Dispatch:
    values: dict[str, Any] = {
        "id": "d1",
        "court": "Court",
        "case_number": "(2026)浙0106民初1234号",
        "reference": "ref-1",
        "policy": "cn-civil",
        "state": DispatchState.IN_PROGRESS,
        "recipient_name": "张三",
        "recipient_role": "defendant",
        "id_last4": "123X",
        "consent_given": True,
        "consent_basis": "express",
        "locale": "zh-CN",
        "created_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    }
    return Dispatch(**{**values, **overrides})


T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


ZONE = ZoneInfo("Asia/Shanghai")


def an_event(seq: int, type: str, data: dict[str, Any], attempt_id: str | None = None) -> Event:
    return Event(
        id=f"E{seq}",
        dispatch_id="D",
        seq=seq,
        type=type,
        occurred_at=T0 + timedelta(minutes=seq),
        recorded_at=T0 + timedelta(minutes=seq),
        source="test",
        actor="staff:S1" if type == "visit_served" else None,
        attempt_id=attempt_id,
        data=data,
        prev_hash=f"{seq - 1:064d}",
        hash=f"{seq:064d}",
    )


def a_served_record() -> tuple[Dispatch, list[Attempt], list[Event]]:
    dispatch = Dispatch(
        id="D",
        court="杭州市西湖区人民法院",
        case_number="(2026)浙0106民初1234号",
        reference="r",
        policy="cn-civil",
        state=DispatchState.SERVED,
        recipient_name="张三",
        recipient_role="defendant",
        id_last4="123X",
        consent_given=False,
        consent_basis=None,
        locale="en",
        created_at=T0,
    )
    visit = Attempt(
        id="A1",
        dispatch_id="D",
        step_index=2,
        channel="in_person",
        contact_id="C",
        address="浙江省杭州市西湖区文三路100号",
        source=ContactSource.COURT_FOUND,
        state=AttemptState.DELIVERED,
        created_at=T0,
    )
    later = Attempt(**{**visit.__dict__, "id": "A2", "channel": "postal"})
    events = [
        an_event(1, "attempt_created", {"channel": "in_person"}, "A1"),
        an_event(2, "attempt_sent", {"state": "sent"}, "A1"),
        an_event(
            3,
            "visit_served",
            {"state": "delivered", "relation": "family", "receiver_name": "张三之妻"},
            "A1",
        ),
        an_event(
            4,
            "dispatch_served",
            {
                "legal_basis": "CPL-88",
                "reading": "handed to: family",
                "served_at": (T0 + timedelta(minutes=3)).isoformat(),
                "service_date": "2026-11-23",
                "channel": "in_person",
                "attempt_id": "A1",
                "completing_event_id": "E3",
            },
        ),
        an_event(
            5,
            "chain_checkpoint",
            {"head": f"{4:064d}", "seq": 4, "key_id": "k1", "alg": "Ed25519", "signature": "c2ln"},
        ),
        an_event(6, "attempt_created", {"channel": "postal"}, "A2"),  # a courtesy copy, later
    ]
    return dispatch, [visit, later], events


def a_certificate_view(served: Event | None = None) -> Any:
    dispatch, attempts, events = a_served_record()
    return certificate_view(
        dispatch=dispatch,
        documents=[DocumentRef("DOC", "ab" * 32, 10, "传票", "summons", "application/pdf")],
        attempts=attempts,
        events=events,
        served=events[3] if served is None else served,
        names={"staff:S1": "李送达"},
        zone=ZONE,
        verify_base_url="https://court.example/",
    )


# The later steps of cn-civil: an in-person visit (step 2) and a public notice (step 3).
IN_PERSON, NOTICE = 2, 3
STARTED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
HOME = Contact("c-home", ContactKind.POSTAL, "杭州市西湖区文三路 1 号", ContactSource.COURT_FOUND)


def visit(attempt_id: str, state: AttemptState) -> Attempt:
    return Attempt(
        id=attempt_id,
        dispatch_id="d1",
        step_index=IN_PERSON,
        channel="in_person",
        contact_id=HOME.id,
        address=HOME.value,
        source=HOME.source,
        state=state,
        created_at=STARTED,
    )


def notice(state: AttemptState = AttemptState.PENDING) -> Attempt:
    return replace(
        visit("n1", state),
        step_index=NOTICE,
        channel="public_notice",
        contact_id=None,
        address="public_notice",
    )


def published(event_id: str, at: datetime, seq: int) -> Event:
    return Event(
        id=event_id,
        dispatch_id="d1",
        seq=seq,
        type="notice_published",
        occurred_at=at,
        recorded_at=at,
        source="clerk",
        actor="staff:s1",
        attempt_id="n1",
        data={"place": "court_website"},
        prev_hash="p",
        hash="h",
    )
