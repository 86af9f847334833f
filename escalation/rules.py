"""Completion rules: which recorded event on which channel completes service, and when.

Each rule is a named function of (attempt, event, case facts) that returns a
:class:`Completion` or ``None``. Rule ids follow ``shared/domain.md``; a policy step lists the
rule ids that apply to it, and :data:`RULES` maps each id to its functions.

The receipts the rules read are events with these types (``EventType``, delivery/vocabulary.py;
the channels record them):

- e-mail: ``attempt_sent`` (the court's SMTP server accepted), ``identity_verified`` (read);
- SMS: ``sms_delivered`` (the carrier reported delivery), ``identity_verified``;
- e-mail and SMS: ``reply_received`` {automatic, from_recipient} — a reply to the message;
- post: ``postal_delivered`` {relation, signer_id_recorded}, ``postal_refused`` {refused_by},
  ``postal_returned`` {reason}, ``attempt_sent`` when the shipment was registered with the
  carrier and ``postal_accepted`` when the carrier took the piece (posting);
- in person: ``visit_served`` {relation}, ``visit_refused_left`` {witness, media},
  ``visit_refused_filmed`` {place};
- public notice: ``notice_published`` (one per publication; the last one counts);
- any channel: ``proof_signed`` {written_date, scan} — the signed or sealed proof of service
  came back (CPL-87).

Every rule dates service by the event's own time (``occurred_at``, the provider's or the
recorded act's), or by that time plus the deemed period, never by when Songda learnt it.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from delivery.domain import ELECTRONIC_CHANNELS, Attempt, AttemptState, ContactSource, Event
from delivery.vocabulary import Channel, EventType, SmsKind
from escalation.notice_period import NOTICE_PERIOD, NOTICE_PERIOD_ABROAD, notice_period
from escalation.receivers import may_leave, may_receive

POST_ABROAD_NO_RECEIPT = 3  # months, CPL-283
PM11_RETURN_REASONS = frozenset({"address_wrong", "moved", "unknown_recipient"})


@dataclass(frozen=True)
class CaseFacts:
    """What a rule may need to know about the dispatch beyond the attempt and the event."""

    document_kinds: frozenset[str] = frozenset()
    domicile_in_china: bool = True
    # The notice periods come from the policy (domain.md: 30 days, 60 abroad).
    notice_period: timedelta = NOTICE_PERIOD
    notice_period_abroad: timedelta = NOTICE_PERIOD_ABROAD
    # The court's time zone, for periods counted in calendar months.
    zone: tzinfo = UTC


@dataclass(frozen=True)
class Completion:
    rule_id: str
    attempt_id: str
    channel: str
    served_at: datetime
    event_id: str
    reading: str


Rule = Callable[[Attempt, Event, CaseFacts], Completion | None]


def _done(
    rule_id: str, attempt: Attempt, event: Event, reading: str, after: timedelta = timedelta(0)
) -> Completion:
    return Completion(
        rule_id, attempt.id, attempt.channel, event.occurred_at + after, event.id, reading
    )


def olr31_confirmed_email_accepted(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """OLR-31 read with CPL-INT-135: an e-mail to an address the recipient provided or confirmed
    is served when the court's outgoing mail server accepts it, dated by that acceptance — unless
    a bounce later proved it never arrived."""
    if (
        attempt.channel == Channel.EMAIL
        and attempt.source == ContactSource.RECIPIENT_CONFIRMED
        and attempt.state != AttemptState.BOUNCED
        and event.type == EventType.ATTEMPT_SENT
    ):
        return _done(
            "OLR-31",
            attempt,
            event,
            "recipient-confirmed address; accepted by the court's mail server (CPL-INT-135)",
        )
    return None


def olr31_confirmed_sms_delivered(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """OLR-31: an SMS to a number the recipient provided or confirmed is served when the
    carrier reports it delivered to the handset."""
    if (
        attempt.channel == Channel.SMS
        and attempt.source == ContactSource.RECIPIENT_CONFIRMED
        and event.type == EventType.SMS_DELIVERED
    ):
        return _done("OLR-31", attempt, event, "recipient-confirmed number; carrier: delivered")
    return None


def olr31_read_after_identity_check(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """OLR-31 (and ICP-16 addresses): on any electronic address — and the only way for a
    court-found one — the recipient opening the link and passing the identity check is reading,
    dated then."""
    if attempt.channel in ELECTRONIC_CHANNELS and event.type == EventType.IDENTITY_VERIFIED:
        return _done(
            "OLR-31",
            attempt,
            event,
            f"{attempt.source.value} address; read after the identity check",
        )
    return None


def olr31_replied(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """OLR-31: on any electronic address — court-found ones included — the recipient replying
    to the message from its address is acting on it, dated at the reply. An automatic reply
    (out-of-office, a delivery report), or one from another address, is no act of the recipient:
    evidence, never service (docs/decisions/0042). Nor is an SMS reply whose number's latest
    message was an identity-check code or an address confirmation request (``answers``): it
    acts on that message, not on the notice of service."""
    if (
        attempt.channel in ELECTRONIC_CHANNELS
        and event.type == EventType.REPLY_RECEIVED
        and event.data.get("automatic") is False
        and event.data.get("from_recipient") is True
        and event.data.get("answers", SmsKind.SERVICE) == SmsKind.SERVICE
    ):
        return _done("OLR-31", attempt, event, f"{attempt.source.value} address; recipient replied")
    return None


def cpl87_signed_proof(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-87: a proof of service signed or sealed by the recipient, dated as they wrote it —
    the event's ``occurred_at`` is the start of the written day in the court's zone
    (delivery/services/signed_proof.py), so the service date is the written date."""
    if event.type == EventType.PROOF_SIGNED:
        return _done("CPL-87", attempt, event, "proof of service signed by the recipient")
    return None


def cpl88_handed_over(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-88: handed to the recipient or an eligible receiver, dated by the signature. A
    mediation statement must reach the party, their legal representative or their designated
    receiver (CPL-INT-133): a family member or a mail room does not serve it."""
    if (
        attempt.channel == Channel.IN_PERSON
        and event.type == EventType.VISIT_SERVED
        and may_receive(event.data.get("relation"), facts.document_kinds)
    ):
        return _done("CPL-88", attempt, event, f"handed to: {event.data['relation']}")
    return None


def cpl_int131_refusal_filmed(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-INT-131: met at the court or away from home, the recipient refuses to sign; the clerk
    notes it and (away from home) it is photographed or filmed — deemed served that day."""
    if (
        attempt.channel == Channel.IN_PERSON
        and event.type == EventType.VISIT_REFUSED_FILMED
        and (event.data.get("place") == "court" or event.data.get("media"))
    ):
        return _done("CPL-INT-131", attempt, event, "refused to sign; recorded")
    return None


def cpl89_left_at_residence(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-89: refused, the documents are left at the residence with a witness or photographed
    or filmed — deemed served the day they were left; never for a mediation statement
    (CPL-INT-133)."""
    if (
        attempt.channel == Channel.IN_PERSON
        and event.type == EventType.VISIT_REFUSED_LEFT
        and (event.data.get("witness") or event.data.get("media"))
        and may_leave(facts.document_kinds)
    ):
        return _done("CPL-89", attempt, event, "left at the residence after a refusal")
    return None


def cpl91_return_receipt(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-91 with PM-7/PM-9: court express mail signed for by an eligible person whose ID
    number is on the receipt, dated by the receipt."""
    if (
        attempt.channel == Channel.POSTAL
        and event.type == EventType.POSTAL_DELIVERED
        and may_receive(event.data.get("relation"))
        and event.data.get("signer_id_recorded") is True
    ):
        return _done(
            "CPL-91", attempt, event, f"return receipt signed by: {event.data['relation']}"
        )
    return None


def pm11_returned_deemed(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """PM-11: refused by the recipient or the designated receiver, or returned because a
    recipient-confirmed address is wrong (or a move was not notified) — deemed served on the
    return date. A refusal by anyone else, a court-found address, or nobody found (PM-6) is not
    service: the step fails and the ladder escalates."""
    if attempt.channel != Channel.POSTAL:
        return None
    refused = event.type == EventType.POSTAL_REFUSED and event.data.get("refused_by") in {
        "recipient",
        "designated_receiver",
    }
    returned = (
        event.type == EventType.POSTAL_RETURNED
        and event.data.get("reason") in PM11_RETURN_REASONS
        and attempt.source == ContactSource.RECIPIENT_CONFIRMED
    )
    if refused or returned:
        return _done("PM-11", attempt, event, f"returned: {event.type.removeprefix('postal_')}")
    return None


def cpl95_notice_period(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-95 with CPL-INT-138: deemed served the policy's period (30 days) after the notice was
    published — the last publication counts (see :func:`earliest_completion`). The date may be
    in the future: the decision then waits for it."""
    period = _notice_period(attempt, event, facts, "CPL-95")
    if period is None:
        return None
    return _done("CPL-95", attempt, event, f"public notice, {period.days} days", period)


def cpl283_notice_abroad(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-283: for a party without domicile in China, the policy's period (60 days) after the
    last publication."""
    period = _notice_period(attempt, event, facts, "CPL-283")
    if period is None:
        return None
    return _done("CPL-283", attempt, event, f"public notice abroad, {period.days} days", period)


def _notice_period(
    attempt: Attempt, event: Event, facts: CaseFacts, rule_id: str
) -> timedelta | None:
    """The period a publication of the notice runs, when ``rule_id`` is the one that sets it
    for this recipient (:func:`escalation.notice_period.notice_period`)."""
    chosen = notice_period(facts, domicile_in_china=facts.domicile_in_china)
    if (
        attempt.channel == Channel.PUBLIC_NOTICE
        and event.type == EventType.NOTICE_PUBLISHED
        and chosen.rule_id == rule_id
    ):
        return chosen.period
    return None


def cpl283_post_abroad(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """CPL-283: post to a party abroad with no receipt — deemed served when three months from
    posting (the carrier taking the piece) end; the decision waits, and a receipt meanwhile
    decides instead. A piece that came back, was lost or was given up on shows no delivery:
    only a piece still out counts."""
    if (
        attempt.channel == Channel.POSTAL
        and attempt.state == AttemptState.SENT
        and event.type == EventType.POSTAL_ACCEPTED
        and not facts.domicile_in_china
    ):
        # Months are counted on the court's calendar (a piece posted on the evening of 31
        # January in Beijing is 30 January in UTC).
        posted = event.occurred_at.astimezone(facts.zone)
        month = posted.month - 1 + POST_ABROAD_NO_RECEIPT
        year, month = posted.year + month // 12, month % 12 + 1
        # The same day three months on, or that month's last day when it is shorter.
        day = min(posted.day, monthrange(year, month)[1])
        deemed = posted.replace(year=year, month=month, day=day)
        return _done(
            "CPL-283", attempt, event, "posted abroad, no receipt in 3 months", deemed - posted
        )
    return None


def frcp5_email_on_sending(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """us-frcp example, FRCP 5(b)(2)(E): e-mail service (with written consent) is complete on
    sending, whatever the address's source."""
    if attempt.channel == Channel.EMAIL and event.type == EventType.ATTEMPT_SENT:
        return _done("FRCP-5(b)(2)(E)", attempt, event, "e-mail service complete on sending")
    return None


def frcp5_mail_on_mailing(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """us-frcp example, FRCP 5(b)(2)(C): service by mail is complete on mailing (the carrier
    taking the piece)."""
    if attempt.channel == Channel.POSTAL and event.type == EventType.POSTAL_ACCEPTED:
        return _done("FRCP-5(b)(2)(C)", attempt, event, "mail service complete on mailing")
    return None


def frcp4e_personal(
    attempt: Attempt, event: Event, facts: CaseFacts = CaseFacts()
) -> Completion | None:
    """us-frcp example, FRCP 4(e)(2): delivered personally, or left at the dwelling with a
    person of suitable age and discretion who resides there."""
    if (
        attempt.channel == Channel.IN_PERSON
        and event.type == EventType.VISIT_SERVED
        and event.data.get("relation") in {"self", "suitable_age_resident"}
    ):
        return _done("FRCP-4(e)", attempt, event, f"personal service: {event.data['relation']}")
    return None


RULES: dict[str, tuple[Rule, ...]] = {
    "OLR-31": (
        olr31_confirmed_email_accepted,
        olr31_confirmed_sms_delivered,
        olr31_read_after_identity_check,
        olr31_replied,
    ),
    "CPL-87": (cpl87_signed_proof,),
    "CPL-88": (cpl88_handed_over,),
    "CPL-INT-131": (cpl_int131_refusal_filmed,),
    "CPL-89": (cpl89_left_at_residence,),
    "CPL-91": (cpl91_return_receipt,),
    "PM-11": (pm11_returned_deemed,),
    "CPL-95": (cpl95_notice_period,),
    "CPL-283": (cpl283_post_abroad, cpl283_notice_abroad),
    "FRCP-5(b)(2)(E)": (frcp5_email_on_sending,),
    "FRCP-5(b)(2)(C)": (frcp5_mail_on_mailing,),
    "FRCP-4(e)": (frcp4e_personal,),
}


def earliest_completion(
    rule_ids: Iterable[str],
    attempts: Sequence[Attempt],
    events: Sequence[Event],
    facts: CaseFacts = CaseFacts(),
) -> Completion | None:
    """The earliest completion by the event's own time (OLR-31), whenever it was learnt.

    A deemed completion may lie in the future (a notice period still running); the caller
    decides whether it has arrived.
    """
    rules = [rule for rule_id in rule_ids for rule in RULES[rule_id]]
    by_id = {a.id: a for a in attempts}
    found: list[Completion] = []
    for event in _superseding_publications(events):
        attempt = by_id.get(event.attempt_id or "")
        if attempt is None:
            continue
        found.extend(c for rule in rules if (c := rule(attempt, event, facts)) is not None)
    return min(found, key=lambda c: (c.served_at, c.event_id), default=None)


def _superseding_publications(events: Sequence[Event]) -> list[Event]:
    """CPL-INT-138: where a notice was published in several places or times, the last
    publication counts — earlier ones of the same notice are not completions of their own."""
    last: dict[str | None, Event] = {}
    for event in events:
        if event.type == EventType.NOTICE_PUBLISHED:
            kept = last.get(event.attempt_id)
            if kept is None or (event.occurred_at, event.seq) >= (kept.occurred_at, kept.seq):
                last[event.attempt_id] = event
    kept_ids = {e.id for e in last.values()}
    return [e for e in events if e.type != EventType.NOTICE_PUBLISHED or e.id in kept_ids]
