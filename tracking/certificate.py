"""The proof of service (送达回证 / 电子送达凭证, OLR-31) as data: what the certificate says.

Pure: no storage, no clock, no rendering. :func:`certificate_view` reads a dispatch's record —
documents, attempts and the event chain up to the ``dispatch_served`` event it pins — and returns
a :class:`CertificateView` that ``templates/pdf/certificate.html`` lays out (domain.md, "Proof of
service — fields").

Each channel's own facts come from its own events, through :data:`CHANNEL_PROOFS`
(:mod:`tracking.proof_sections`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from delivery.domain import Attempt, Dispatch, DocumentRef, Event
from delivery.identity import mask_address
from delivery.vocabulary import Channel, EventType
from tracking.proof_sections import (
    CHANNEL_PROOFS,
    CLERK_PROOF,
    COURT_SYSTEM,
    Line,
    ProofFacts,
)
from tracking.verification import certificate_url

SERVED_EVENT = EventType.DISPATCH_SERVED
CHECKPOINT_EVENT = EventType.CHAIN_CHECKPOINT
UNSERVED_EVENT = EventType.DISPATCH_UNSERVED


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
class Repair:
    """A contact found by repair (ICP-16) and its evidence, as the ``contact_added`` event
    recorded it: who supplied it, their reference, the last activity, the reply's SHA-256."""

    contact_id: str
    kind: str
    address: str
    supplied_by: str
    query_reference: str
    active_on: str
    reply_sha256: str


@dataclass(frozen=True)
class AddressForm:
    """The signed address confirmation form a served address was taken from (CPL-INT-136/137),
    as the ``confirmed_addresses_applied`` event recorded it."""

    confirmation_id: str
    confirmed_on: str  # the day the recipient signed, in the court's zone
    form_sha256: str


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
    repairs: tuple[Repair, ...] = ()
    # The repair that found the served address (ICP-16), when one did.
    address_repair: Repair | None = None
    # The form the recipient signed that named the served address, when one did.
    address_form: AddressForm | None = None


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


def _repairs(attempts: Sequence[Attempt], events: Sequence[Event]) -> list[Repair]:
    """The repaired contacts the chain records, each with its masked address where an attempt
    used it (the event keeps only the address's HMAC)."""
    addresses = {a.contact_id: (a.channel, a.address) for a in attempts if a.contact_id}
    repairs = []
    for e in events:
        evidence = e.data.get("repair") if e.type == EventType.CONTACT_ADDED else None
        if not isinstance(evidence, dict):
            continue
        contact_id = str(e.data.get("contact_id"))
        used = addresses.get(contact_id)
        repairs.append(
            Repair(
                contact_id=contact_id,
                kind=str(e.data.get("kind")),
                address="—" if used is None else mask_address(*used),
                supplied_by=str(evidence.get("supplied_by")),
                query_reference=str(evidence.get("query_reference")),
                active_on=str(evidence.get("active_on")),
                reply_sha256=str((evidence.get("reply") or {}).get("sha256")),
            )
        )
    return repairs


def _address_form(
    contact_id: str | None, events: Sequence[Event], zone: tzinfo
) -> AddressForm | None:
    """The confirmation form that gave the contact ``contact_id``, as the chain records it: an
    event names the contact with its ``confirmation_id`` (intake's
    ``confirmed_addresses_applied``, or the ``contact_added`` of a form signed on this
    dispatch), and an event of that form carries its ``form_sha256`` (the same one, or the
    form's own ``address_confirmed``) with when it was signed."""
    if contact_id is None:
        return None
    form_id = next(
        (
            e.data["confirmation_id"]
            for e in events
            if e.data.get("confirmation_id")
            and (
                contact_id == e.data.get("contact_id")
                or contact_id in e.data.get("contact_ids", ())
            )
        ),
        None,
    )
    for e in events:
        if (
            form_id is not None
            and e.data.get("confirmation_id") == form_id
            and "form_sha256" in e.data
        ):
            confirmed_at = e.data.get("confirmed_at")
            signed = datetime.fromisoformat(confirmed_at) if confirmed_at else e.occurred_at
            return AddressForm(
                confirmation_id=str(form_id),
                confirmed_on=signed.astimezone(zone).date().isoformat(),
                form_sha256=str(e.data["form_sha256"]),
            )
    return None


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

    repairs = _repairs(shown, pinned)
    served_contact = None if served_attempt is None else served_attempt.contact_id
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
        verify_url=certificate_url(verify_base_url, dispatch.id, chain_head),
        supersedes=supersedes,
        repairs=tuple(repairs),
        address_repair=next((r for r in repairs if r.contact_id == served_contact), None),
        address_form=_address_form(served_contact, pinned, zone),
    )
