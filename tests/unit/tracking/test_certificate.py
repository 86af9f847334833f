"""The certificate's view model (tracking/certificate.py): pure, from a dispatch's record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from delivery.domain import (
    Attempt,
    AttemptState,
    ContactSource,
    Event,
)
from templates.certificate import certificate_html
from templates.fonts import font_set
from tracking.certificate import (
    CHANNEL_PROOFS,
    CLERK_PROOF,
    Line,
    ProofFacts,
    certificate_view,
    local_time,
)
from unit.builders import T0, ZONE, a_certificate_view, a_served_record, an_event


def test_the_certificate_pins_the_served_event_and_names_the_field_server() -> None:
    view = a_certificate_view()
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
    dispatch, attempts, events = a_served_record()
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
    signed = an_event(
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


def test_a_repaired_contact_is_named_with_its_source() -> None:
    """ICP-16: the certificate names who found the served number, their reference, the last
    activity and the reply document's SHA-256 — from the contact_added event's evidence."""
    dispatch, _attempts, _events = a_served_record()
    sms = Attempt(
        id="A1",
        dispatch_id="D",
        step_index=0,
        channel="sms",
        contact_id="C9",
        address="+8613800138000",
        source=ContactSource.COURT_FOUND,
        state=AttemptState.DELIVERED,
        created_at=T0,
    )
    repair = {
        "supplied_by": "中国移动浙江分公司",
        "query_reference": "ZJ-2026-0042",
        "active_on": "2026-11-01",
        "reply": {"sha256": "cd" * 32},
    }
    events = [
        an_event(1, "contact_added", {"contact_id": "C9", "kind": "phone", "repair": repair}),
        an_event(2, "contact_added", {"contact_id": "C8", "kind": "email"}),  # not repaired
        an_event(3, "attempt_created", {"channel": "sms"}, "A1"),
        an_event(4, "link_opened", {"state": "delivered"}, "A1"),
        an_event(
            5,
            "dispatch_served",
            {
                "legal_basis": "OLR-31",
                "served_at": T0.isoformat(),
                "service_date": "2026-11-23",
                "channel": "sms",
                "attempt_id": "A1",
                "completing_event_id": "E4",
            },
        ),
    ]
    view = certificate_view(
        dispatch=dispatch,
        documents=[],
        attempts=[sms],
        events=events,
        served=events[4],
        names={},
        zone=ZONE,
        verify_base_url="https://court.example",
    )
    [found] = view.repairs
    assert view.address_repair == found
    assert (found.supplied_by, found.query_reference, found.active_on) == (
        "中国移动浙江分公司",
        "ZJ-2026-0042",
        "2026-11-01",
    )
    assert found.reply_sha256 == "cd" * 32 and found.address == view.address != "+8613800138000"
    html = certificate_html(view, font_set())  # type: ignore[arg-type]
    assert "found by 中国移动浙江分公司, reference ZJ-2026-0042, last used on 2026-11-01" in html
    assert "cd" * 32 in html
