"""The certificate's view model (tracking/certificate.py): pure, from a dispatch's record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from delivery.domain import (
    Attempt,
    AttemptState,
    ContactSource,
    Dispatch,
    DispatchState,
    DocumentRef,
    Event,
)
from tracking.certificate import (
    CHANNEL_PROOFS,
    CLERK_PROOF,
    Line,
    ProofFacts,
    certificate_view,
    local_time,
)

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")


def _event(seq: int, type: str, data: dict[str, Any], attempt_id: str | None = None) -> Event:
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


def _record() -> tuple[Dispatch, list[Attempt], list[Event]]:
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
        _event(1, "attempt_created", {"channel": "in_person"}, "A1"),
        _event(2, "attempt_sent", {"state": "sent"}, "A1"),
        _event(
            3,
            "visit_served",
            {"state": "delivered", "relation": "family", "receiver_name": "张三之妻"},
            "A1",
        ),
        _event(
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
        _event(
            5,
            "chain_checkpoint",
            {"head": f"{4:064d}", "seq": 4, "key_id": "k1", "alg": "Ed25519", "signature": "c2ln"},
        ),
        _event(6, "attempt_created", {"channel": "postal"}, "A2"),  # a courtesy copy, later
    ]
    return dispatch, [visit, later], events


def _view(served: Event | None = None) -> Any:
    dispatch, attempts, events = _record()
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


def test_the_certificate_pins_the_served_event_and_names_the_field_server() -> None:
    view = _view()
    assert (view.chain_head, view.chain_seq) == (f"{4:064d}", 4)
    assert view.verify_url == f"https://court.example/verify/D?h={4:064d}"
    assert (view.legal_basis, view.service_date, view.method) == (
        "CPL-88",
        "2026-11-23",
        "in_person",
    )
    assert view.server == "李送达" and not view.server_is_term
    assert view.completing_event == ("visit_served", "E3", "2026-11-23 10:03:00 UTC+08:00")
    assert view.address == "************100号"
    # The attempt started after service (seq 6) is not part of the pinned record.
    assert [a.channel for a in view.attempts] == ["in_person"]
    assert view.attempts[0].state == "delivered"
    assert view.checkpoint is not None
    assert (view.checkpoint.key_id, view.checkpoint.signature) == ("k1", "c2ln")
    [section] = view.sections
    assert section.title == "in_person"
    values = {line.label: line.value for line in section.lines}
    assert values["receiver_name"] == "张三之妻" and values["relation"] == "family"


def test_without_a_checkpoint_or_service_it_is_a_preview() -> None:
    dispatch, attempts, events = _record()
    view = certificate_view(
        dispatch=dispatch,
        documents=[],
        attempts=attempts,
        events=events[:3],
        served=None,
        names={},
        zone=ZONE,
        verify_base_url="https://court.example",
    )
    assert view.preview and view.checkpoint is None and view.legal_basis is None
    assert (view.chain_seq, view.server) == (3, None)


def test_every_ladder_channel_has_its_section() -> None:
    assert set(CHANNEL_PROOFS) == {"email", "sms", "postal", "in_person", "public_notice"}


def test_a_signed_proof_shows_the_written_date_when_it_was_recorded_and_the_scan() -> None:
    """CPL-87: service is dated by the date the recipient wrote; the certificate also says
    when the clerk recorded the proof, and pins the scan of the paper by its SHA-256."""
    written = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 2026-11-25 00:00 in Shanghai
    signed = _event(
        7, "proof_signed", {"written_date": "2026-11-25", "scan": {"sha256": "ab" * 32}}
    )
    signed = Event(**{**signed.__dict__, "occurred_at": written, "recorded_at": T0 + timedelta(6)})
    facts = ProofFacts(
        attempts=(), events=(signed,), completing=signed, names={}, time=local_time(ZONE)
    )
    assert CLERK_PROOF.section(facts) == [
        Line("proof_written_date", "2026-11-25"),
        Line("proof_recorded_at", "2026-11-29 10:00:00 UTC+08:00"),
        Line("attachment_sha256", "ab" * 32, mono=True),
    ]
