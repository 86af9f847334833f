"""The proof of service (送达回证 / 电子送达凭证, OLR-31) as data: what the certificate says.

Pure: no storage, no clock, no rendering. :func:`certificate_view` reads a dispatch's record —
documents, attempts and the event chain up to the ``dispatch_served`` event it pins — and returns
a :class:`CertificateView` that ``templates/pdf/certificate.html`` lays out (domain.md, "Proof of
service — fields").

Each channel's own facts come from its own events, through :data:`CHANNEL_PROOFS`: a channel
added later registers one :class:`ChannelProof` (its section of facts and who served by it) and
touches nothing else here. Labels are keys into the template's vocabulary (zh-CN, en); values
are the record's own words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from delivery.domain import Attempt, Dispatch, DocumentRef, Event
from delivery.identity import mask_address
from delivery.vocabulary import Channel, EventType

SERVED_EVENT = EventType.DISPATCH_SERVED
CHECKPOINT_EVENT = EventType.CHAIN_CHECKPOINT
UNSERVED_EVENT = EventType.DISPATCH_UNSERVED
COURT_SYSTEM = "court_system"  # the server of e-service: the court's system, not a person


@dataclass(frozen=True)
class Line:
    """One labelled fact. ``label`` is a vocabulary key; ``mono`` for hashes and ids."""

    label: str
    value: str
    mono: bool = False
    term: bool = False  # the value is itself a vocabulary key (a relation, a place…)


@dataclass(frozen=True)
class Section:
    """A channel's own facts about the service (``title``: the channel, a vocabulary key)."""

    title: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class AttemptRow:
    channel: str
    address: str
    source: str
    state: str
    reason: str | None
    started: str
    ended: str | None


@dataclass(frozen=True)
class Supersedes:
    certificate_id: str
    service_date: date


@dataclass(frozen=True)
class Checkpoint:
    """The court key's signature over the chain head (a ``chain_checkpoint`` event)."""

    key_id: str | None
    alg: str | None
    signature: str | None
    head: str | None
    seq: int | None


@dataclass(frozen=True)
class CertificateView:
    locale: str
    certificate_id: str | None
    preview: bool
    court: str
    case_number: str
    documents: tuple[tuple[str, str], ...]  # (title, SHA-256)
    recipient_name: str
    recipient_role: str
    method: str | None
    address: str | None
    address_source: str | None
    legal_basis: str | None
    reading: str | None
    served_at: str | None
    service_date: str | None
    completing_event: tuple[str, str, str] | None  # (type, id, time)
    server: str | None
    server_is_term: bool
    attempts: tuple[AttemptRow, ...]
    sections: tuple[Section, ...]
    chain_head: str
    chain_seq: int
    checkpoint: Checkpoint | None
    verify_url: str
    zone: str = "UTC"
    supersedes: Supersedes | None = None


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
    return lines


def _sms_section(f: ProofFacts) -> list[Line]:
    lines = [Line("sent", f.time(e.occurred_at)) for e in f.of_type("attempt_sent")]
    lines += [
        Line("sms_delivered", f.time(e.occurred_at)) for e in f.of_type(EventType.SMS_DELIVERED)
    ]
    lines += [
        Line("read_after_identity_check", f.time(e.occurred_at))
        for e in f.of_type(EventType.IDENTITY_VERIFIED)
    ]
    return lines


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


def local_time(zone: tzinfo) -> Callable[[datetime], str]:
    def fmt(value: datetime) -> str:
        local = value.astimezone(zone)
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}"

    return fmt


def served_events(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if e.type == SERVED_EVENT]


def checkpoint_for(events: Sequence[Event], served: Event) -> Checkpoint | None:
    """The court key's checkpoint over the served event's head: recorded right after it."""
    for e in events:
        if e.type != CHECKPOINT_EVENT or e.seq <= served.seq:
            continue
        seq = e.data.get("seq")
        if seq is None or seq == served.seq or e.data.get("head") == served.hash:
            return Checkpoint(
                key_id=_str(e.data.get("key_id")),
                alg=_str(e.data.get("alg")),
                signature=_str(e.data.get("signature")),
                head=_str(e.data.get("head")),
                seq=seq if isinstance(seq, int) else None,
            )
        if e.seq > served.seq + 2:
            break
    return None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _attempt_rows(
    attempts: Sequence[Attempt], events: Sequence[Event], zone: tzinfo
) -> list[AttemptRow]:
    """Each attempt as the chain shows it at the pinned head: its last recorded state (times
    to the minute, in the court's zone, which the table's heading names)."""

    def time(value: datetime) -> str:
        return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"

    rows = []
    for a in attempts:
        state, reason, ended = "pending", None, None
        for e in events:
            if e.attempt_id == a.id and "state" in e.data:
                state, reason, ended = str(e.data["state"]), e.data.get("reason"), e.occurred_at
        rows.append(
            AttemptRow(
                channel=a.channel,
                address="—"
                if a.channel == Channel.PUBLIC_NOTICE
                else mask_address(a.channel, a.address),
                source=a.source.value,
                state=state,
                reason=None if reason is None else str(reason),
                started=time(a.created_at),
                ended=None if ended is None else time(ended),
            )
        )
    return rows


def certificate_view(
    *,
    dispatch: Dispatch,
    documents: Sequence[DocumentRef],
    attempts: Sequence[Attempt],
    events: Sequence[Event],
    served: Event | None,
    names: Mapping[str, str],
    zone: tzinfo,
    verify_base_url: str,
    certificate_id: str | None = None,
    supersedes: Supersedes | None = None,
) -> CertificateView:
    """The certificate of the service ``served`` (a ``dispatch_served`` event), pinned at its
    hash; with ``served`` None, a preview of the record as it stands (not a proof)."""
    time = local_time(zone)
    pinned = [e for e in events if served is None or e.seq <= served.seq]
    head = served or (pinned[-1] if pinned else None)
    created = {e.attempt_id for e in pinned if e.type == EventType.ATTEMPT_CREATED}
    shown = [a for a in attempts if a.id in created]
    data = served.data if served is not None else {}
    completing = next((e for e in pinned if e.id == data.get("completing_event_id")), None)
    method = _str(data.get("channel"))
    served_attempt = next((a for a in shown if a.id == data.get("attempt_id")), None)
    served_at = datetime.fromisoformat(data["served_at"]) if served is not None else None

    sections = []
    for channel in dict.fromkeys(a.channel for a in shown):
        proof = CHANNEL_PROOFS.get(channel)
        of_channel = tuple(a for a in shown if a.channel == channel)
        ids = {a.id for a in of_channel}
        facts = ProofFacts(
            attempts=of_channel,
            events=tuple(e for e in pinned if e.attempt_id in ids),
            completing=completing if completing and completing.attempt_id in ids else None,
            names=names,
            time=time,
            served_at=served_at,
            zone=zone,
        )
        lines = (proof.section(facts) if proof else []) + CLERK_PROOF.section(facts)
        if lines:
            sections.append(Section(channel, tuple(lines)))

    server, server_is_term = None, False
    if served is not None:
        if completing is not None and completing.actor in names:
            server = names[str(completing.actor)]
        else:
            proof = CHANNEL_PROOFS.get(method or "")
            server, server_is_term = (proof.server if proof else COURT_SYSTEM), True
            if server == "carrier" and completing is not None:
                server, server_is_term = str(completing.data.get("carrier") or "carrier"), False

    chain_head = head.hash if head is not None else "0" * 64
    chain_seq = head.seq if head is not None else 0
    return CertificateView(
        locale=dispatch.locale,
        certificate_id=certificate_id,
        preview=served is None,
        court=dispatch.court,
        case_number=dispatch.case_number,
        documents=tuple((d.title, d.sha256) for d in documents),
        recipient_name=dispatch.recipient_name,
        recipient_role=dispatch.recipient_role,
        method=method,
        address=(
            None
            if served_attempt is None or served_attempt.channel == Channel.PUBLIC_NOTICE
            else mask_address(served_attempt.channel, served_attempt.address)
        ),
        address_source=None if served_attempt is None else served_attempt.source.value,
        legal_basis=_str(data.get("legal_basis")),
        reading=_str(data.get("reading")),
        served_at=None if served_at is None else time(served_at),
        service_date=_str(data.get("service_date")),
        completing_event=(
            None
            if completing is None
            else (completing.type, completing.id, time(completing.occurred_at))
        ),
        server=server,
        server_is_term=server_is_term,
        attempts=tuple(_attempt_rows(shown, pinned, zone)),
        zone=str(zone),
        sections=tuple(sections),
        chain_head=chain_head,
        chain_seq=chain_seq,
        checkpoint=checkpoint_for(events, served) if served is not None else None,
        verify_url=f"{verify_base_url.rstrip('/')}/verify/{dispatch.id}?h={chain_head}",
        supersedes=supersedes,
    )
