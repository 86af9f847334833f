"""Creating dispatches: validated requests in, one transaction out, idempotent on ``reference``."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from delivery.context import Context
from delivery.domain import Attempt, Contact, ContactKind, ContactSource, Dispatch, DispatchState
from delivery.identity import identity_digest, identity_last4
from delivery.ids import new_id
from delivery.services.confirmations import apply_confirmation
from delivery.services.ownership import Given, choose_owner
from delivery.services.progress import decide_now
from delivery.services.transactions import WEBHOOK_SHAPES, grouped_creation
from delivery.storage import dispatches as stored_dispatches
from delivery.storage.dispatch_batches import Prefetch
from delivery.storage.engine import Connection, UniqueViolation
from delivery.storage.followups import FollowUps
from delivery.storage.intake_reads import IntakeNeed, read_intake_needs
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType, WebhookEventType
from escalation.periods import service_deadline
from tracking.chain import GENESIS, canonical

log = logging.getLogger(__name__)


class IdempotencyConflict(Exception):
    """The reference is taken by a dispatch created from a different request body."""

    def __init__(self, dispatch_id: str) -> None:
        super().__init__(dispatch_id)
        self.dispatch_id = dispatch_id


class UnknownDocuments(Exception):
    def __init__(self, ids: list[str]) -> None:
        super().__init__(", ".join(ids))
        self.ids = ids


@dataclass(frozen=True)
class ContactRequest:
    kind: ContactKind
    value: str
    source: ContactSource
    postcode: str | None = None


@dataclass(frozen=True)
class DispatchRequest:
    court: str
    case_number: str
    reference: str
    policy: str
    document_ids: tuple[str, ...]
    recipient_name: str
    recipient_role: str
    id_number: str
    consent_given: bool
    consent_basis: str | None
    domicile_in_china: bool
    contacts: tuple[ContactRequest, ...]
    locale: str
    hearing_at: datetime | None
    body: dict[str, object]
    clerk: str | None = None  # the owning clerk's username, when the case system names one

    def fingerprint(self, secret: str) -> str:
        """A keyed digest of the request body, to tell a retry from a different request.

        Keyed, because the body holds an identity number and a plain hash could be brute-forced.
        """
        key = hmac.new(secret.encode(), b"songda:request", hashlib.sha256).digest()
        return hmac.new(key, canonical(self.body), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Created:
    """The outcome of a create request: the new dispatch as written, or the id of the first
    dispatch created with the same reference and body (``dispatch`` is then ``None``)."""

    dispatch_id: str
    dispatch: Dispatch | None = None
    attempts: tuple[Attempt, ...] = ()

    @property
    def is_new(self) -> bool:
        return self.dispatch is not None


@dataclass(frozen=True)
class Origin:
    """Who creates the dispatch, as its first events name them: the case system's key
    (``api``), or a staff account in the workspace filing under its court's workspace key."""

    source: str = "api"
    actor: str | None = None  # default: the key, "api_key:<id>"


async def create_dispatch(
    ctx: Context, api_key_id: str, request: DispatchRequest, origin: Origin = Origin()
) -> Created:
    """Create the dispatch; the same request again returns the first one (idempotency).

    The insert is tried first and the unique (key, reference) constraint decides: a retry, or a
    concurrent twin, then finds the stored dispatch and is answered as the first request was.
    Raises :class:`~delivery.services.ownership.UnknownClerk` when the named clerk is not one of
    the court's.
    """
    fingerprint = request.fingerprint(ctx.settings.secret_key)
    try:
        return await _create(ctx, api_key_id, request, fingerprint, origin)
    except UniqueViolation:
        row = await stored_dispatches.by_reference(ctx.engine, api_key_id, request.reference)
        if row is None:
            raise
        if row.request_hash != fingerprint:
            raise IdempotencyConflict(row.id) from None
        return Created(row.id)


async def _create(
    ctx: Context, api_key_id: str, request: DispatchRequest, fingerprint: str, origin: Origin
) -> Created:
    now = ctx.clock.now()
    dispatch_id = new_id()
    id_hmac = identity_digest(ctx.settings.secret_key, request.id_number)

    need = IntakeNeed(api_key_id, request.document_ids, request.court, id_hmac)

    async def creation(
        conn: Connection, earlier: list[DispatchTransaction]
    ) -> tuple[Created, DispatchTransaction]:
        # Built afresh on each run: group commit runs it again alone if its batch fails (and
        # reads ``need`` again first).
        dispatch = _new_dispatch(dispatch_id, request, api_key_id, now)
        given = [
            Given(t.dispatch.court, t.dispatch.case_number, t.dispatch.owner_id)
            for t in earlier
            if t.creates and t.dispatch.owner_id is not None
        ]
        tx = await _creation(ctx, conn, dispatch, request, fingerprint, origin, need, given)
        return Created(dispatch.id, dispatch, tuple(await tx.attempts())), tx

    created, followups = await grouped_creation(
        ctx, dispatch_id, _with_followups(creation), Prefetch(read_intake_needs, need)
    )
    await ctx.queue.after_commit(followups)
    log.info("dispatch created", extra={"dispatch_id": dispatch_id, "api_key_id": api_key_id})
    return created


Creation = Callable[
    [Connection, list[DispatchTransaction]], Awaitable[tuple[Created, DispatchTransaction]]
]


def _with_followups(
    creation: Creation,
) -> Callable[
    [Connection, list[DispatchTransaction]],
    Awaitable[tuple[tuple[Created, FollowUps], DispatchTransaction]],
]:
    """The creation, also answering its transaction's follow-ups (for after the commit)."""

    async def run(
        conn: Connection, earlier: list[DispatchTransaction]
    ) -> tuple[tuple[Created, FollowUps], DispatchTransaction]:
        created, tx = await creation(conn, earlier)
        return (created, tx.followups), tx

    return run


async def _creation(
    ctx: Context,
    conn: Connection,
    dispatch: Dispatch,
    request: DispatchRequest,
    fingerprint: str,
    origin: Origin,
    need: IntakeNeed,
    given: list[Given],
) -> DispatchTransaction:
    """The new dispatch's transaction on ``conn``: checked, recorded and decided, not written
    (``need``: what the batch read for it; ``given``: the owners of the batch's new dispatches
    before it)."""
    api_key_id = dispatch.api_key_id
    assert api_key_id is not None
    actor = origin.actor or f"api_key:{api_key_id}"
    served_documents = _check_documents(need)
    applied = await apply_confirmation(conn, dispatch, need.id_hmac) if need.signed_a_form else None
    owner = await choose_owner(
        conn, need.users, dispatch.court, dispatch.case_number, request.clerk, given
    )
    dispatch.owner_id = owner.owner_id
    dispatch.document_kinds = frozenset(d["kind"] for d in served_documents)
    dispatch.service_deadline_at = _service_deadline_at(ctx, dispatch)
    tx = DispatchTransaction(
        conn,
        dispatch,
        seq=0,
        head=GENESIS,
        clock=ctx.clock,
        shapes=WEBHOOK_SHAPES,
        new_row={
            "id": dispatch.id,
            "api_key_id": api_key_id,
            "reference": request.reference,
            "request_hash": fingerprint,
            "court": dispatch.court,
            "case_number": dispatch.case_number,
            "policy": dispatch.policy,
            "recipient_name": dispatch.recipient_name,
            "recipient_role": dispatch.recipient_role,
            "id_hmac": need.id_hmac,
            "id_last4": dispatch.id_last4,
            "consent_given": dispatch.consent_given,
            "consent_basis": dispatch.consent_basis,
            "domicile_in_china": dispatch.domicile_in_china,
            "document_kinds": sorted(dispatch.document_kinds),
            "service_deadline_at": dispatch.service_deadline_at,
            "locale": dispatch.locale,
            "hearing_at": dispatch.hearing_at,
            "created_at": dispatch.created_at,
        },
    )
    tx.add_new_dispatch_rows(request.document_ids)
    tx.record(
        EventType.DISPATCH_CREATED,
        source=origin.source,
        actor=actor,
        data={
            "reference": request.reference,
            "request_fingerprint": fingerprint,
            "documents": served_documents,
            "consent": {"given": dispatch.consent_given, "basis": dispatch.consent_basis},
            "contacts": [_contact_evidence(c) for c in dispatch.contacts],
        },
    )
    if applied is not None:
        tx.record(
            EventType.CONFIRMED_ADDRESSES_APPLIED,
            source=origin.source,
            actor=actor,
            data=applied.evidence(),
        )
    tx.record(
        EventType.OWNER_ASSIGNED,
        source=origin.source,
        actor=actor,
        data={"owner_id": owner.owner_id, "reason": owner.reason},
    )
    tx.notify(WebhookEventType.DISPATCH_CREATED)
    await decide_now(ctx, tx)
    return tx


def _contact_evidence(contact: Contact) -> dict[str, str]:
    """A contact as the creation event names it: never its value (personal data stays out of
    the chain's readable fields), its source and the form it came from."""
    named = {"id": contact.id, "kind": contact.kind.value, "source": contact.source.value}
    if contact.confirmation_id is not None:
        named["confirmation_id"] = contact.confirmation_id
    return named


def _service_deadline_at(ctx: Context, dispatch: Dispatch) -> datetime | None:
    """The end of the last day service may complete for the hearing, in the court's zone."""
    if dispatch.hearing_at is None:
        return None
    zone = ctx.settings.zone
    last_day = service_deadline(
        dispatch.hearing_at.astimezone(zone).date(),
        dispatch.document_kinds,
        domicile_in_china=dispatch.domicile_in_china,
        calendar=ctx.calendar,
    )
    if last_day is None:
        return None
    return datetime.combine(last_day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)


def _new_dispatch(
    dispatch_id: str, request: DispatchRequest, api_key_id: str, now: datetime
) -> Dispatch:
    return Dispatch(
        id=dispatch_id,
        court=request.court,
        case_number=request.case_number,
        reference=request.reference,
        policy=request.policy,
        state=DispatchState.QUEUED,
        recipient_name=request.recipient_name,
        recipient_role=request.recipient_role,
        id_last4=identity_last4(request.id_number),
        consent_given=request.consent_given,
        consent_basis=request.consent_basis,
        domicile_in_china=request.domicile_in_china,
        locale=request.locale,
        created_at=now,
        contacts=[
            Contact(new_id(), c.kind, c.value, c.source, c.postcode) for c in request.contacts
        ],
        hearing_at=request.hearing_at,
        next_action_at=now,
        api_key_id=api_key_id,
    )


def _check_documents(need: IntakeNeed) -> list[dict[str, str]]:
    """Every document must exist and belong to the calling key; returns what the evidence
    chain records of each (id, SHA-256, title, kind), in the request's order."""
    missing = [d for d in need.document_ids if d not in need.documents]
    if missing:
        raise UnknownDocuments(missing)
    return [need.documents[d] for d in need.document_ids]
