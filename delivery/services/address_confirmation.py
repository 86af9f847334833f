"""The recipient's side of the address confirmation form (送达地址确认书, CPL-INT-136).

Behind the link a request issued (delivery/services/confirmation_requests.py) the recipient
passes the identity check (the last 4 characters of their identity number, locked after repeated
failures as the service link is), then confirms or corrects their addresses, says whether they
consent to electronic service, may name a designated receiver, and signs with their typed name.

A valid form is rendered as a PDF and signed by the court — same fonts, PAdES signature and TSA
time as the certificate — outside the dispatch's lock; then one transaction stores it (a media
file), its row in ``address_confirmations`` (the index intake reads), the confirmed addresses as
``recipient_confirmed`` contacts naming the form, consent with basis ``express`` when given, and
``address_confirmed`` with the form's digest into the chain. An open dispatch re-opens its
electronic step on the newly confirmed addresses (as ``record_consent`` does), where an e-mail
is now served when it is sent (OLR-31, CPL-INT-135). The same request answered twice (a double
click, a retried submit) keeps the first form: the second changes nothing.

The form is the recipient's change "in writing" (CPL-INT-137), so in the same transaction a
recipient-confirmed address it replaced becomes court-found (``contact_superseded``), and a
refusal of e-service withdraws the dispatch's consent (``consent_recorded`` with ``given``
false); open attempts there stop resting on the recipient's word (docs/decisions/0043).

The page shows the court's addresses masked (the identity check is only 4 characters): a field
left empty keeps every address of its kind the court has, a value typed replaces them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from delivery.addresses import check_address
from delivery.context import Context
from delivery.domain import (
    ELECTRONIC_CHANNELS,
    OPEN_ATTEMPT_STATES,
    Attempt,
    AttemptState,
    Contact,
    ContactKind,
    ContactSource,
    DispatchState,
    Event,
)
from delivery.identity import address_digest
from delivery.ids import new_id
from delivery.infra.certificate_signing import CertificateSignature, signed_form_pdf
from delivery.services.confirmation_requests import standing_request
from delivery.services.contact_repair import reopen_electronic
from delivery.services.progress import decide_now
from delivery.services.recipient import CheckResult, LinkGone, VisitorInfo
from delivery.services.transactions import dispatch_transaction
from delivery.storage.address_confirmations import (
    AddressConfirmation,
    ConfirmedAddress,
    dispatch_id_hmac,
    insert_confirmation,
)
from delivery.storage.unit_of_work import DispatchNotFound, DispatchTransaction
from delivery.text import text_problem
from delivery.vocabulary import EventType
from escalation.confirmed_addresses import cpl_int137_superseded
from templates.confirmation_form import ConfirmationFormView, DesignatedReceiver, FormAddress
from templates.fonts import MissingGlyphs
from templates.i18n import N_
from tracking.identity_check import LockState, last4_matches, lock_state
from tracking.links import (
    CONFIRMATION,
    BadToken,
    ExpiredToken,
    LinkClaims,
    read_token,
    same_issuance,
)

SOURCE = "recipient"
PURPOSE = "address_confirmation_form"
SESSION_PURPOSE = "confirm-session"
IDENTITY_METHOD = "id_last4"
WITHDRAWN = frozenset({DispatchState.CANCELLED, DispatchState.FAILED})
MAX_NAME = 100
MAX_RELATION = 50
MAX_POSTAL = 300
MAX_POSTCODE = 10
# The form's fields, as the page names them; an error names one of them.
ADDRESS_FIELDS = {
    "phone": ContactKind.PHONE,
    "email": ContactKind.EMAIL,
    "postal": ContactKind.POSTAL,
}
FIELDS = (
    *ADDRESS_FIELDS,
    "postcode",
    "receiver_name",
    "receiver_phone",
    "receiver_relation",
    "consent",
    "signer_name",
    "confirm",
)
OUTSIDE_FONTS = N_(
    "has a character the court's documents cannot print; please write it another way"
)


class FormRejected(Exception):
    """What is wrong with the form, by field (English msgids); nothing was recorded."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


class FormUnavailable(Exception):
    """The form cannot be signed just now (the time-stamping authority did not answer)."""


@dataclass(frozen=True)
class Signed:
    """A form signed for the standing request: the one just recorded, or the one before."""

    confirmation_id: str
    form_sha256: str
    confirmed_at: datetime


@dataclass(frozen=True)
class ConfirmationPage:
    """What the form's page shows: the case, the lock, the addresses the court has by form
    field (to keep or correct; the page masks them), and the form already signed for this link,
    if one was."""

    court: str
    case_number: str
    recipient_name: str
    locale: str
    claims: LinkClaims
    lock: LockState
    known: dict[str, tuple[Contact, ...]]
    signed: Signed | None


@dataclass(frozen=True)
class Answer:
    addresses: tuple[ConfirmedAddress, ...]
    consent: bool
    receiver: DesignatedReceiver | None
    signer_name: str


def _resolve(ctx: Context, token: str) -> LinkClaims:
    try:
        return read_token(ctx.settings.secret_key, token, ctx.clock.now(), CONFIRMATION)
    except ExpiredToken:
        raise LinkGone from None


async def _request(tx: DispatchTransaction, claims: LinkClaims) -> Event:
    """The standing request the token was issued by, or why the link does not work."""
    request = standing_request(await tx.events())
    if request is None:
        raise BadToken
    if not same_issuance(datetime.fromisoformat(request.data["issued_at"]), claims.issued_at):
        raise LinkGone  # asked again since: only the newest link works
    if tx.dispatch.state in WITHDRAWN:
        raise LinkGone
    return request


async def _lock(tx: DispatchTransaction, request: Event) -> LockState:
    failures = [
        e.recorded_at
        for e in await tx.events()
        if e.type == EventType.CONFIRMATION_IDENTITY_FAILED
        and e.data.get("request_event_id") == request.id
    ]
    return lock_state(failures, tx.now)


async def _signed(tx: DispatchTransaction, request: Event) -> Signed | None:
    done = next(
        (
            e
            for e in await tx.events()
            if e.type == EventType.ADDRESS_CONFIRMED and e.data["request_event_id"] == request.id
        ),
        None,
    )
    if done is None:
        return None
    return Signed(done.data["confirmation_id"], done.data["form_sha256"], done.recorded_at)


def _known(tx: DispatchTransaction) -> dict[str, tuple[Contact, ...]]:
    """Every address the court has, by form field, the recipient-confirmed ones first."""
    known: dict[str, tuple[Contact, ...]] = {}
    for field, kind in ADDRESS_FIELDS.items():
        found = tx.dispatch.contacts_of(kind)
        found.sort(key=lambda c: c.source != ContactSource.RECIPIENT_CONFIRMED)
        if found:
            known[field] = tuple(found)
    return known


async def open_form(ctx: Context, token: str) -> ConfirmationPage:
    """The page behind a genuine link (:class:`BadToken` or :class:`LinkGone` otherwise)."""
    claims = _resolve(ctx, token)
    try:
        async with dispatch_transaction(ctx.engine, ctx.clock, claims.attempt_id) as tx:
            request = await _request(tx, claims)
            await tx.load_contacts()
            page = ConfirmationPage(
                court=tx.dispatch.court,
                case_number=tx.dispatch.case_number,
                recipient_name=tx.dispatch.recipient_name,
                locale=tx.dispatch.locale,
                claims=claims,
                lock=await _lock(tx, request),
                known=_known(tx),
                signed=await _signed(tx, request),
            )
    except DispatchNotFound:
        raise BadToken from None
    return page


async def check_identity(
    ctx: Context, token: str, visitor: VisitorInfo, last4: str
) -> tuple[CheckResult, LockState]:
    """The last 4 characters of the identity number, against the dispatch's; each answer is
    evidence, and failures lock the link as they lock the service link. With the result, the
    link's lock as it stands after the answer (its end says when to try again)."""
    claims = _resolve(ctx, token)
    try:
        async with dispatch_transaction(ctx.engine, ctx.clock, claims.attempt_id) as tx:
            request = await _request(tx, claims)
            data = {"request_event_id": request.id, "method": IDENTITY_METHOD, **visitor.as_data()}
            lock = await _lock(tx, request)
            if lock.locked:
                result = CheckResult.LOCKED
            elif last4_matches(tx.dispatch.id_last4, last4):
                tx.record(EventType.CONFIRMATION_IDENTITY_VERIFIED, source=SOURCE, data=data)
                result = CheckResult.VERIFIED
            else:
                tx.record(EventType.CONFIRMATION_IDENTITY_FAILED, source=SOURCE, data=data)
                lock = await _lock(tx, request)
                result = CheckResult.LOCKED if lock.locked else CheckResult.FAILED
    except DispatchNotFound:
        raise BadToken from None
    return result, lock


def _text(form: Mapping[str, str], field: str) -> str:
    return str(form.get(field, "")).strip()


def read_answer(form: Mapping[str, str], known: Mapping[str, Sequence[Contact]]) -> Answer:
    """The form's answer, or :class:`FormRejected` naming every wrong field. A field left empty
    confirms the addresses of its kind the court has (``known``), a value replaces them."""
    errors: dict[str, str] = {}
    addresses: list[ConfirmedAddress] = []
    for field, kind in ADDRESS_FIELDS.items():
        value = _text(form, field)
        if not value:
            addresses.extend(
                ConfirmedAddress(kind, c.value, c.postcode) for c in known.get(field, ())
            )
            continue
        if kind == ContactKind.POSTAL:
            problem = text_problem(value) or (
                N_("at most 300 characters") if len(value) > MAX_POSTAL else None
            )
        else:
            value, problem = check_address(kind, value)
        if problem is not None:
            errors[field] = problem
        else:
            postcode = _text(form, "postcode") if kind == ContactKind.POSTAL else ""
            addresses.append(ConfirmedAddress(kind, value, postcode or None))
    postcode = _text(form, "postcode")
    if postcode and not (postcode.isdigit() and len(postcode) <= MAX_POSTCODE):
        errors["postcode"] = N_("must be digits (6 in mainland China)")
    elif postcode and not _text(form, "postal"):
        errors["postcode"] = N_("a postcode goes with a new postal address")
    if not addresses and not errors:
        errors["phone"] = N_("give at least one address: a mobile number, e-mail or postal address")
    consent = form.get("consent")
    if consent not in ("yes", "no"):
        errors["consent"] = N_("choose whether you agree to electronic service")
    elif (
        consent == "yes"
        and not any(a.kind != ContactKind.POSTAL for a in addresses)
        and not ({"phone", "email"} & errors.keys())
    ):
        errors["consent"] = N_(
            "to be served electronically, give a mobile number or an e-mail address"
        )
    receiver = _receiver(form, errors)
    signer = _text(form, "signer_name")
    if not signer:
        errors["signer_name"] = N_("type your full name to sign")
    elif len(signer) > MAX_NAME or text_problem(signer):
        errors["signer_name"] = N_("at most 100 characters, on one line")
    if form.get("confirm") != "yes":
        errors["confirm"] = N_("confirm that the addresses are correct to sign the form")
    if errors:
        raise FormRejected(errors)
    return Answer(tuple(addresses), consent == "yes", receiver, signer)


def _receiver(form: Mapping[str, str], errors: dict[str, str]) -> DesignatedReceiver | None:
    name, phone, relation = (
        _text(form, f) for f in ("receiver_name", "receiver_phone", "receiver_relation")
    )
    if not (name or phone or relation):
        return None
    if not name:
        errors["receiver_name"] = N_("give the designated receiver's name")
    elif len(name) > MAX_NAME or text_problem(name):
        errors["receiver_name"] = N_("at most 100 characters, on one line")
    if relation and (len(relation) > MAX_RELATION or text_problem(relation)):
        errors["receiver_relation"] = N_("at most 50 characters, on one line")
    if phone:
        phone, problem = check_address(ContactKind.PHONE, phone)
        if problem is not None:
            errors["receiver_phone"] = problem
    return DesignatedReceiver(name, phone or None, relation or None)


def _field_of(path: str) -> str:
    """The form field a text of the form view came from (for a character outside the fonts)."""
    if path.startswith("designated_receiver."):
        return "receiver_" + path.split(".", 1)[1]
    return path if path in FIELDS else "signer_name"


async def submit(ctx: Context, token: str, visitor: VisitorInfo, form: Mapping[str, str]) -> Signed:
    """Sign and record the recipient's form (see the module's docstring); the form signed
    before when this request was already answered."""
    claims = _resolve(ctx, token)
    try:
        async with dispatch_transaction(ctx.engine, ctx.clock, claims.attempt_id) as tx:
            request = await _request(tx, claims)
            signed = await _signed(tx, request)
            dispatch = tx.dispatch
            await tx.load_contacts()
            known = _known(tx)
    except DispatchNotFound:
        raise BadToken from None
    if signed is not None:
        return signed
    answer = read_answer(form, known)
    view = ConfirmationFormView(
        confirmation_id=new_id(),
        court=dispatch.court,
        case_number=dispatch.case_number,
        recipient_name=dispatch.recipient_name,
        locale=dispatch.locale,
        zone=ctx.settings.time_zone,
        confirmed_at=ctx.clock.now(),
        addresses=tuple(FormAddress(a.kind.value, a.value, a.postcode) for a in answer.addresses),
        consent_given=answer.consent,
        signer_name=answer.signer_name,
        identified_by=IDENTITY_METHOD,
        designated_receiver=answer.receiver,
    )
    signature = CertificateSignature(
        ctx.require_signing_identity(), view.confirmed_at, ctx.timestamper
    )
    try:
        pdf = await signed_form_pdf(view, signature, ctx.settings.fonts)
    except MissingGlyphs as outside:
        raise FormRejected({_field_of(f): OUTSIDE_FONTS for f in outside.fields}) from None
    except TimestampRequestError:
        raise FormUnavailable from None
    stored = await ctx.documents.store_bytes(pdf)
    async with dispatch_transaction(ctx.engine, ctx.clock, claims.attempt_id) as tx:
        request = await _request(tx, claims)
        signed = await _signed(tx, request)
        if signed is None:  # not answered meanwhile (a double click's twin)
            media_id = await tx.add_media(None, PURPOSE, stored, "application/pdf", SOURCE)
            await _record(ctx, tx, request, view, answer, stored.sha256, media_id, visitor)
            signed = Signed(view.confirmation_id, stored.sha256, view.confirmed_at)
    await ctx.queue.after_commit(tx.followups)
    return signed


async def _record(
    ctx: Context,
    tx: DispatchTransaction,
    request: Event,
    view: ConfirmationFormView,
    answer: Answer,
    form_sha256: str,
    media_id: str,
    visitor: VisitorInfo,
) -> None:
    dispatch = tx.dispatch
    await insert_confirmation(
        tx.conn,
        AddressConfirmation(
            id=view.confirmation_id,
            court=dispatch.court,
            case_number=dispatch.case_number,
            dispatch_id=dispatch.id,
            id_hmac=await dispatch_id_hmac(tx.conn, dispatch.id),
            confirmed_at=view.confirmed_at,
            consent_given=answer.consent,
            addresses=answer.addresses,
            signer_name=answer.signer_name,
            form_sha256=form_sha256,
            form_media_id=media_id,
            designated_receiver=None
            if answer.receiver is None
            else {
                k: v
                for k, v in (
                    ("name", answer.receiver.name),
                    ("phone", answer.receiver.phone),
                    ("relation", answer.receiver.relation),
                )
                if v is not None
            },
        ),
    )
    tx.record(
        EventType.ADDRESS_CONFIRMED,
        source=SOURCE,
        data={
            "confirmation_id": view.confirmation_id,
            "request_event_id": request.id,
            "form_sha256": form_sha256,
            "form_media_id": media_id,
            "consent_given": answer.consent,
            "addresses": dict(Counter(a.kind.value for a in answer.addresses)),
            "designated_receiver": answer.receiver is not None,
            **visitor.as_data(),
        },
    )
    await tx.load_contacts()
    known = list(dispatch.contacts)
    confirmed_before = {
        (c.kind, c.value) for c in known if c.source == ContactSource.RECIPIENT_CONFIRMED
    }
    consent_new = answer.consent and not dispatch.consent_given
    if answer.consent:
        dispatch.consent_given, dispatch.consent_basis = True, "express"
        tx.record(
            EventType.CONSENT_RECORDED,
            source=SOURCE,
            data={"basis": "express", "confirmation_id": view.confirmation_id},
        )
    elif dispatch.consent_given:
        await _withdraw_consent(tx, view.confirmation_id)
    added: list[Contact] = []
    for address in answer.addresses:
        contact = Contact(
            new_id(),
            address.kind,
            address.value,
            ContactSource.RECIPIENT_CONFIRMED,
            address.postcode,
            confirmation_id=view.confirmation_id,
        )
        added.append(contact)
        tx.add_contact(contact)
        _contact_event(
            tx,
            EventType.CONTACT_ADDED,
            contact,
            view.confirmation_id,
            address_hmac=address_digest(ctx.settings.secret_key, contact.value),
        )
        fresh = (address.kind, address.value) not in confirmed_before or consent_new
        # A form that refuses e-service re-opens none.
        if dispatch.is_open and answer.consent and fresh:
            reopen_electronic(ctx, tx, contact)
    for replaced in cpl_int137_superseded(added, known):
        await _supersede(tx, replaced, view.confirmation_id)
    await decide_now(ctx, tx)


def _contact_event(
    tx: DispatchTransaction, type: str, contact: Contact, confirmation_id: str, **data: object
) -> None:
    """What the form did to one contact, naming the form (never the address itself)."""
    tx.record(
        type,
        source=SOURCE,
        data={
            "contact_id": contact.id,
            "kind": contact.kind.value,
            "source": contact.source.value,
            "confirmation_id": confirmation_id,
            **data,
        },
    )


def _off_the_recipients_word(attempt: Attempt, tx: DispatchTransaction) -> None:
    """An open attempt that rested on the recipient's word is court-found from now on: no
    return there is deemed service (PM-11), no sending or delivery report serves
    (CPL-INT-135); reading after the identity check or a reply still does (OLR-31)."""
    attempt.source = ContactSource.COURT_FOUND
    tx.touch_attempt(attempt)


async def _supersede(tx: DispatchTransaction, contact: Contact, confirmation_id: str) -> None:
    """CPL-INT-137: the recipient replaced this confirmed address in writing; it stays known
    (court-found) and its open attempts go on, no longer resting on the recipient's word."""
    changed = tx.change_contact_source(contact, ContactSource.COURT_FOUND)
    moved = [
        a
        for a in await tx.attempts()
        if a.contact_id == contact.id
        and a.state in OPEN_ATTEMPT_STATES
        and a.source == ContactSource.RECIPIENT_CONFIRMED
    ]
    for attempt in moved:
        _off_the_recipients_word(attempt, tx)
    _contact_event(
        tx,
        EventType.CONTACT_SUPERSEDED,
        changed,
        confirmation_id,
        attempt_ids=[a.id for a in moved],
    )


async def _withdraw_consent(tx: DispatchTransaction, confirmation_id: str) -> None:
    """OLR-29/30 with CPL-INT-136: a signed refusal of e-service is the recipient's latest word
    and withdraws the consent the dispatch had, whatever its basis (as intake reads a refusing
    form, escalation/confirmed_addresses.py). An electronic message not yet sent is cancelled;
    one already out no longer serves on sending or delivery, only on reading or a reply."""
    dispatch = tx.dispatch
    before = dispatch.consent_basis
    dispatch.consent_given, dispatch.consent_basis = False, None
    tx.record(
        EventType.CONSENT_RECORDED,
        source=SOURCE,
        data={
            "given": False,
            "basis": None,
            "previous_basis": before,
            "confirmation_id": confirmation_id,
        },
    )
    for attempt in await tx.attempts():
        if attempt.channel not in ELECTRONIC_CHANNELS or attempt.state not in OPEN_ATTEMPT_STATES:
            continue
        if attempt.state == AttemptState.PENDING:
            attempt.next_action_at = None
            tx.change_attempt(
                attempt,
                AttemptState.CANCELLED,
                EventType.ATTEMPT_CANCELLED,
                source=SOURCE,
                reason="no_e_service_consent",
            )
        elif attempt.source == ContactSource.RECIPIENT_CONFIRMED:
            _off_the_recipients_word(attempt, tx)
