"""Each channel's section of the proof of service: the facts its own events record.

Through :data:`CHANNEL_PROOFS`, a channel added later registers one :class:`ChannelProof` (its
section of facts and who served by it) and touches nothing else. Labels are keys into the
certificate template's vocabulary (zh-CN, en); values are the record's own words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from delivery.domain import Attempt, Event
from delivery.vocabulary import Channel, EventType, SmsKind

COURT_SYSTEM = "court_system"  # the server of e-service: the court's system, not a person


@dataclass(frozen=True)
class Line:
    """One labelled fact. ``label`` is a vocabulary key; ``mono`` for hashes and ids."""

    label: str
    value: str
    mono: bool = False
    term: bool = False  # the value is itself a vocabulary key (a relation, a place…)


@dataclass(frozen=True)
class ProofFacts:
    """What one channel's section may read: its attempts and their events (up to the pinned
    head), the completing event if it is this channel's, and people's display names by actor."""

    attempts: tuple[Attempt, ...]
    events: tuple[Event, ...]
    completing: Event | None
    names: Mapping[str, str]
    time: Callable[[datetime], str]
    served_at: datetime | None = None
    zone: tzinfo | None = None

    def of_type(self, *types: str) -> list[Event]:
        return [e for e in self.events if e.type in types]


@dataclass(frozen=True)
class ChannelProof:
    """A channel's part of the certificate: its section and its default server."""

    section: Callable[[ProofFacts], list[Line]]
    server: str = COURT_SYSTEM


def _hashes(items: object) -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(m["sha256"]) for m in items if isinstance(m, dict) and m.get("sha256")]


def _email_section(f: ProofFacts) -> list[Line]:
    lines = []
    for e in f.of_type(EventType.ATTEMPT_SENT):
        lines.append(Line("accepted_by_mail_server", f.time(e.occurred_at)))
        if e.data.get("message_id"):
            lines.append(Line("message_id", str(e.data["message_id"]), mono=True))
    for e in f.of_type(EventType.IDENTITY_VERIFIED):
        lines.append(Line("read_after_identity_check", f.time(e.occurred_at)))
    for e in f.of_type(EventType.ATTEMPT_BOUNCED):
        lines.append(Line("bounced", f.time(e.occurred_at)))
    return lines + _replies(f)


def _sms_section(f: ProofFacts) -> list[Line]:
    lines = [Line("sent", f.time(e.occurred_at)) for e in f.of_type(EventType.ATTEMPT_SENT)]
    lines += [
        Line("sms_delivered", f.time(e.occurred_at)) for e in f.of_type(EventType.SMS_DELIVERED)
    ]
    lines += [
        Line("read_after_identity_check", f.time(e.occurred_at))
        for e in f.of_type(EventType.IDENTITY_VERIFIED)
    ]
    return lines + _replies(f)


def _replies(f: ProofFacts) -> list[Line]:
    """Every reply is evidence; an automatic one, or an SMS answering a code or a confirmation
    request, is shown as such (it never serves)."""
    return [
        Line(reply_fact(e.data), f.time(e.occurred_at)) for e in f.of_type(EventType.REPLY_RECEIVED)
    ]


def reply_fact(data: dict[str, Any]) -> str:
    """The fact a reply's evidence ``data`` states (docs/decisions/0042)."""
    if data.get("automatic"):
        return "auto_reply_received"
    if data.get("answers", SmsKind.SERVICE) != SmsKind.SERVICE:
        return "other_reply_received"
    return "reply_received"


def _postal_section(f: ProofFacts) -> list[Line]:
    lines = []
    for a in f.attempts:
        if a.provider_ref:
            lines.append(Line("tracking_number", a.provider_ref, mono=True))
    for e in f.of_type(EventType.POSTAL_DELIVERED):
        lines.append(Line("receipt_date", f.time(e.occurred_at)))
        if e.data.get("signed_by"):
            lines.append(Line("signed_by", str(e.data["signed_by"])))
        if e.data.get("relation"):
            lines.append(Line("relation", str(e.data["relation"]), term=True))
        if e.data.get("signer_id_last4"):
            lines.append(Line("signer_id_last4", str(e.data["signer_id_last4"]), mono=True))
    for e in f.of_type(EventType.POSTAL_REFUSED):
        lines.append(Line("refused_on", f.time(e.occurred_at)))
        lines.append(Line("refused_by", str(e.data.get("refused_by", "")), term=True))
    for e in f.of_type(EventType.POSTAL_RETURNED):
        lines.append(Line("returned_on", f.time(e.occurred_at)))
        lines.append(Line("return_reason", str(e.data.get("reason", "")), term=True))
    for e in f.of_type(EventType.RETURN_CARD_UPLOADED):
        lines.append(Line("return_card_sha256", str(e.data.get("sha256", "")), mono=True))
    return lines


def _in_person_section(f: ProofFacts) -> list[Line]:
    lines = []
    for e in f.of_type(
        EventType.VISIT_SERVED, EventType.VISIT_REFUSED_LEFT, EventType.VISIT_REFUSED_FILMED
    ):
        lines.append(Line("visited_at", f.time(e.occurred_at)))
        lines.append(Line("visit_outcome", e.type, term=True))
        if e.actor in f.names:
            lines.append(Line("field_server", f.names[str(e.actor)]))
        if e.data.get("relation"):
            lines.append(Line("relation", str(e.data["relation"]), term=True))
        if e.data.get("receiver_name"):
            lines.append(Line("receiver_name", str(e.data["receiver_name"])))
        if e.data.get("place"):
            lines.append(Line("refusal_place", str(e.data["place"]), term=True))
        witness = e.data.get("witness")
        if isinstance(witness, dict):
            who = " · ".join(str(witness[k]) for k in ("name", "organisation") if witness.get(k))
            lines.append(Line("witness", who))
        lines += [Line("media_sha256", h, mono=True) for h in _hashes(e.data.get("media"))]
        signature = e.data.get("signature")
        if isinstance(signature, dict) and signature.get("sha256"):
            lines.append(Line("signature_sha256", str(signature["sha256"]), mono=True))
    return lines


def _notice_section(f: ProofFacts) -> list[Line]:
    lines = []
    for e in f.of_type(EventType.NOTICE_APPROVED):
        lines.append(Line("notice_reason", str(e.data.get("reason", "")), term=True))
        if e.actor in f.names:
            lines.append(Line("approved_by", f.names[str(e.actor)]))
        for tried in e.data.get("methods_tried") or []:
            if isinstance(tried, dict):
                text = " · ".join(str(v) for v in tried.values() if v)
                lines.append(Line("method_tried", text))
    published = sorted(f.of_type(EventType.NOTICE_PUBLISHED), key=lambda e: (e.occurred_at, e.seq))
    for e in published:
        place = str(e.data.get("place", ""))
        lines.append(Line("publication", f"{place}|{f.time(e.occurred_at)}", term=True))
        if e.data.get("media_sha256"):
            lines.append(Line("media_sha256", str(e.data["media_sha256"]), mono=True))
    if published:
        lines.append(Line("first_publication", f.time(published[0].occurred_at)))
        lines.append(Line("last_publication", f.time(published[-1].occurred_at)))
        done = f.completing
        if done is not None and done.type == EventType.NOTICE_PUBLISHED and f.served_at is not None:
            # Deemed served the period after the last publication (CPL-95, CPL-INT-138).
            days = round((f.served_at - done.occurred_at).total_seconds() / 86400)
            lines.append(Line("notice_period_days", str(days)))
            deemed = f.served_at.astimezone(f.zone) if f.zone else f.served_at
            lines.append(Line("deemed_date", deemed.date().isoformat()))
    return lines


def _clerk_section(f: ProofFacts) -> list[Line]:
    """CPL-87: the date the recipient wrote on the signed proof (what service is dated by),
    when the clerk recorded it, and the SHA-256 of the scan of the paper."""
    lines = []
    for e in f.of_type(EventType.PROOF_SIGNED):
        written = e.data.get("written_date")
        if written:
            lines.append(Line("proof_written_date", str(written)))
        else:  # recorded before the written date was asked for: dated by the recording
            lines.append(Line("proof_signed", f.time(e.occurred_at)))
        lines.append(Line("proof_recorded_at", f.time(e.recorded_at)))
        # ``attachment``: the uploaded document an earlier record named instead of a scan.
        scan = e.data.get("scan") or e.data.get("attachment")
        if isinstance(scan, dict) and scan.get("sha256"):
            lines.append(Line("attachment_sha256", str(scan["sha256"]), mono=True))
    return lines


# One entry per channel: a later channel adds its own, nothing else changes.
CHANNEL_PROOFS: dict[str, ChannelProof] = {
    Channel.EMAIL: ChannelProof(_email_section),
    Channel.SMS: ChannelProof(_sms_section),
    Channel.POSTAL: ChannelProof(_postal_section, server="carrier"),
    Channel.IN_PERSON: ChannelProof(_in_person_section, server="field_server"),
    Channel.PUBLIC_NOTICE: ChannelProof(_notice_section),
}
# Acts a clerk records on any channel's attempt (CPL-87's signed proof).
CLERK_PROOF = ChannelProof(_clerk_section)
