"""The names a person reads for Songda's codes: states, channels, roles, kinds, reasons, events.

A code (``in_progress``, ``no_e_service_consent``) is for machines and the evidence chain; a page,
an e-mail, a PDF or a CLI message shows its label in the reader's language instead. Every label is
a msgid of the message catalogue (templates/i18n.py) with the table's kind as its gettext context,
so "served" as a dispatch state and "served" as a visit outcome can read differently in Chinese.
tests/unit/templates/test_labels.py checks that every value of the vocabulary's enums has one.
"""

from __future__ import annotations

from delivery.vocabulary import EventType
from templates.i18n import N_, ptranslate, translate


def L_(kind: str, msgid: str) -> str:
    """Mark ``msgid`` (with context ``kind``) for the catalogue; translated in :func:`label`."""
    return msgid


LABELS: dict[str, dict[str, str]] = {
    "dispatch_state": {
        "queued": L_("dispatch_state", "queued"),
        "in_progress": L_("dispatch_state", "in progress"),
        "notice_pending": L_("dispatch_state", "public notice"),
        "served": L_("dispatch_state", "served"),
        "failed": L_("dispatch_state", "failed"),
        "cancelled": L_("dispatch_state", "cancelled"),
    },
    "attempt_state": {
        "pending": L_("attempt_state", "pending"),
        "sending": L_("attempt_state", "sending"),
        "sent": L_("attempt_state", "sent"),
        "delivered": L_("attempt_state", "delivered"),
        "read": L_("attempt_state", "read"),
        "failed": L_("attempt_state", "failed"),
        "bounced": L_("attempt_state", "bounced"),
        "returned": L_("attempt_state", "returned"),
        "refused": L_("attempt_state", "refused"),
        "expired": L_("attempt_state", "expired"),
        "cancelled": L_("attempt_state", "cancelled"),
    },
    "channel": {
        "email": L_("channel", "e-mail"),
        "sms": L_("channel", "SMS"),
        "postal": L_("channel", "court express mail"),
        "in_person": L_("channel", "in person"),
        "public_notice": L_("channel", "public notice"),
    },
    "step": {
        "electronic": L_("step", "electronic"),
        "postal": L_("step", "postal"),
        "in_person": L_("step", "in person"),
        "public_notice": L_("step", "public notice"),
    },
    "contact_kind": {
        "email": L_("contact_kind", "e-mail"),
        "phone": L_("contact_kind", "phone"),
        "postal": L_("contact_kind", "postal address"),
    },
    "source": {
        "recipient_confirmed": L_("source", "provided/confirmed by the recipient"),
        "court_found": L_("source", "found by the court"),
        "api": L_("source", "case system"),
        "worker": L_("source", "sender"),
        "escalation": L_("source", "ladder"),
        "clerk": L_("source", "clerk"),
        "recipient": L_("source", "recipient"),
        "certificates": L_("source", "certificate"),
        "field": L_("source", "field server"),
        "twilio": L_("source", "SMS carrier"),
        "bounce": L_("source", "bounce"),
        "email": L_("source", "mail server"),
        "sms": L_("source", "SMS"),
        "postal": L_("source", "postal carrier"),
        "tsa": L_("source", "time-stamping authority"),
    },
    "event": {
        "notice_awaiting_approval": L_("event", "notice awaiting approval"),
        "identity_rejected_locked": L_("event", "identity check refused: link locked"),
        "postal_accepted": L_("event", "taken by the carrier"),
        "postal_delivered": L_("event", "mail delivered"),
        "postal_refused": L_("event", "mail refused"),
        "postal_returned": L_("event", "mail returned"),
        "visit_served": L_("event", "visit: served"),
        "visit_refused_left": L_("event", "refused, left at the residence"),
        "visit_refused_filmed": L_("event", "refused, filmed"),
        "dispatch_created": L_("event", "dispatch created"),
        "owner_assigned": L_("event", "owner assigned"),
        "owner_reassigned": L_("event", "owner reassigned"),
        "step_started": L_("event", "step started"),
        "step_repeated": L_("event", "step repeated"),
        "step_skipped": L_("event", "step skipped"),
        "attempt_created": L_("event", "attempt created"),
        "attempt_sending": L_("event", "sending"),
        "attempt_sent": L_("event", "sent"),
        "attempt_failed": L_("event", "failed"),
        "attempt_bounced": L_("event", "bounced"),
        "attempt_expired": L_("event", "attempt expired"),
        "attempt_cancelled": L_("event", "attempt cancelled"),
        "attempt_waiting": L_("event", "waiting"),
        "attempt_retry_scheduled": L_("event", "retry scheduled"),
        "attempt_channel_unavailable": L_("event", "channel unavailable"),
        "attempt_send_interrupted": L_("event", "sending interrupted"),
        "link_opened": L_("event", "link opened"),
        "identity_verified": L_("event", "identity verified"),
        "identity_failed": L_("event", "identity check failed"),
        "otp_sent": L_("event", "code sent"),
        "otp_send_failed": L_("event", "code not sent"),
        "dispatch_at_risk": L_("event", "at risk: deadline"),
        "dispatch_served": L_("event", "served"),
        "dispatch_unserved": L_("event", "service reversed"),
        "dispatch_failed": L_("event", "failed"),
        "dispatch_cancelled": L_("event", "cancelled"),
        "dispatch_resumed": L_("event", "resumed"),
        "chain_checkpoint": L_("event", "chain signed"),
        "checkpoint_timestamped": L_("event", "third-party time"),
        "certificate_issued": L_("event", "certificate issued"),
        "certificate_blocked": L_("event", "certificate blocked (characters outside the fonts)"),
        "clerk_escalated": L_("event", "escalated by a clerk"),
        "clerk_skipped_step": L_("event", "step skipped by a clerk"),
        "clerk_retried_channel": L_("event", "channel retried by a clerk"),
        "contact_added": L_("event", "contact added"),
        "consent_recorded": L_("event", "e-service consent recorded"),
        "policy_changed": L_("event", "policy changed"),
        "service_rebutted": L_("event", "service rebutted"),
        "proof_signed": L_("event", "proof signed"),
        "notice_drafted": L_("event", "notice drafted"),
        "notice_edited": L_("event", "notice edited"),
        "notice_approved": L_("event", "notice approved"),
        "notice_published": L_("event", "notice published"),
        "media_uploaded": L_("event", "photo/video uploaded"),
        "field_task_opened": L_("event", "field task opened"),
        "field_task_assigned": L_("event", "field server assigned"),
        "visit_failed": L_("event", "visit: not served"),
        "return_card_uploaded": L_("event", "return card uploaded"),
        "sms_delivered": L_("event", "SMS delivered"),
        "sms_receipt_contradicted": L_("event", "SMS receipts contradict"),
        "mail_handed_over": L_("event", "handed to the carrier"),
        "document_downloaded": L_("event", "document downloaded"),
        "link_locked": L_("event", "link locked"),
        "link_reissued": L_("event", "link reissued"),
        "postal_tracking": L_("event", "carrier tracking update"),
        "field_task_unassigned": L_("event", "field server unassigned"),
    },
    "clerk_action": {
        "escalate": L_("clerk_action", "Escalate to the next step"),
        "skip_step": L_("clerk_action", "Skip a step"),
        "retry_channel": L_("clerk_action", "Retry a channel"),
        "record_outcome": L_("clerk_action", "Record an outcome"),
        "add_contact": L_("clerk_action", "Add a contact"),
        "record_consent": L_("clerk_action", "Record e-service consent"),
        "change_policy": L_("clerk_action", "Change the policy"),
        "cancel": L_("clerk_action", "Cancel the dispatch"),
        "record_rebuttal": L_("clerk_action", "Record a rebuttal"),
        "reassign_owner": L_("clerk_action", "Reassign the owner"),
        "assign_field_server": L_("clerk_action", "Assign a field server"),
        "edit_notice": L_("clerk_action", "Edit the notice"),
        "approve_notice": L_("clerk_action", "Review and approve the notice"),
        "record_publication": L_("clerk_action", "Record a publication"),
    },
    "staff_role": {
        "clerk": L_("staff_role", "clerk"),
        "supervisor": L_("staff_role", "supervisor"),
        "field_server": L_("staff_role", "field server"),
        "admin": L_("staff_role", "administrator"),
    },
    "document_kind": {
        "complaint": L_("document_kind", "complaint"),
        "summons": L_("document_kind", "summons"),
        "judgment": L_("document_kind", "judgment"),
        "ruling": L_("document_kind", "ruling"),
        "mediation_statement": L_("document_kind", "mediation statement"),
        "notice": L_("document_kind", "notice"),
        "evidence": L_("document_kind", "evidence"),
        "other": L_("document_kind", "other document"),
    },
    "field_task_state": {
        "open": L_("field_task_state", "open"),
        "done": L_("field_task_state", "done"),
    },
    "notice_state": {
        "draft": L_("notice_state", "draft"),
        "published": L_("notice_state", "published"),
    },
    # Why the ladder skipped a step, closed an attempt, failed or cancelled a dispatch
    # (escalation/decide.py, delivery/services: progress, sending, cancel; channels: email
    # bounce, postal lost, in_person task without a server; the policies' exhausted_reason).
    "reason": {
        "no_e_service_consent": L_("reason", "no consent to e-service"),
        "no_address": L_("reason", "no address for this step"),
        "skipped_by_clerk": L_("reason", "skipped by a clerk"),
        "window_elapsed": L_("reason", "the step's time ran out"),
        "escalated_by_clerk": L_("reason", "escalated by a clerk"),
        "exhausted": L_("reason", "every step tried"),
        "requires_ordinary_procedure": L_("reason", "needs the ordinary procedure"),
        "channel_unavailable": L_("reason", "channel not available"),
        "dispatch_cancelled": L_("reason", "the dispatch was cancelled"),
        "cancelled_by_case_system": L_("reason", "cancelled by the case system"),
        "bounce": L_("reason", "the e-mail bounced"),
        "lost": L_("reason", "lost in the post"),
        "no_field_server_in_court": L_("reason", "the court has no field server"),
        "service_completed": L_("reason", "service completed by another method"),
    },
    # How a new dispatch got its clerk (delivery/services/ownership.py).
    "owner_reason": {
        "named": L_("owner_reason", "named by the case system"),
        "case": L_("owner_reason", "the clerk of the same case"),
        "round_robin": L_("owner_reason", "in turn"),
        "none": L_("owner_reason", "no clerk in the court"),
    },
    # Why the post brought a letter back (channels/postal/outcomes.py RETURN_REASONS).
    "return_reason": {
        "address_wrong": L_("return_reason", "wrong address"),
        "moved": L_("return_reason", "moved without notice"),
        "unknown_recipient": L_("return_reason", "no such recipient"),
        "nobody_home": L_("return_reason", "nobody to sign"),
        "other": L_("return_reason", "other"),
    },
    # The carrier's statuses (channels/postal/outcomes.py, the sandbox carrier).
    "carrier_status": {
        "accepted": L_("carrier_status", "taken by the carrier"),
        "in_transit": L_("carrier_status", "in transit"),
        "delivery_attempted": L_("carrier_status", "delivery attempted"),
        "delivered": L_("carrier_status", "delivered"),
        "refused": L_("carrier_status", "refused"),
        "returned": L_("carrier_status", "returned"),
        "lost": L_("carrier_status", "lost"),
    },
    # Who received, signed or refused, as relation to the recipient (escalation/receivers.py,
    # channels/postal/outcomes.py RELATIONS, channels/in_person/visits.py).
    "relation": {
        "self": L_("relation", "the recipient"),
        "recipient": L_("relation", "the recipient"),
        "guardian": L_("relation", "legal guardian"),
        "family": L_("relation", "adult family member living with them"),
        "family_opposing_party": L_("relation", "family member who is the opposing party"),
        "minor": L_("relation", "minor"),
        "entity_representative": L_("relation", "legal representative or head of the entity"),
        "entity_mailroom": L_("relation", "the entity's mail room"),
        "agent": L_("relation", "litigation agent"),
        "designated_receiver": L_("relation", "designated receiver"),
        "unknown": L_("relation", "unknown"),
    },
    # A field server's visit (channels/in_person/visits.py OUTCOMES, FAILURE_REASONS, places).
    "visit_outcome": {
        "served": L_("visit_outcome", "served"),
        "refused_left": L_("visit_outcome", "refused; left at the residence"),
        "refused_filmed": L_("visit_outcome", "refused to sign; recorded"),
        "failed": L_("visit_outcome", "not served"),
    },
    "visit_failure": {
        "not_found": L_("visit_failure", "nobody found"),
        "moved": L_("visit_failure", "moved away"),
        "no_such_address": L_("visit_failure", "no such address"),
        "refused_not_left": L_("visit_failure", "refused, not left"),
    },
    "refusal_place": {
        "away_from_home": L_("refusal_place", "away from home"),
        "court": L_("refusal_place", "at the court"),
    },
    # Public notice (channels/public_notice/publications.py PLACES and REASONS).
    "notice_place": {
        "court_notice_board": L_("notice_place", "court notice board"),
        "residence": L_("notice_place", "the recipient's residence"),
        "newspaper": L_("notice_place", "newspaper"),
        "court_website": L_("notice_place", "court website"),
    },
    "notice_reason": {
        "whereabouts_unknown": L_("notice_reason", "whereabouts unknown"),
        "other_methods_failed": L_("notice_reason", "every other method failed"),
    },
    # The recipient's role in the case (delivery/vocabulary.py RecipientRole).
    "recipient_role": {
        "plaintiff": L_("recipient_role", "plaintiff"),
        "defendant": L_("recipient_role", "defendant"),
        "third_party": L_("recipient_role", "third party"),
        "appellant": L_("recipient_role", "appellant"),
        "appellee": L_("recipient_role", "appellee"),
        "applicant": L_("recipient_role", "applicant"),
        "respondent": L_("recipient_role", "respondent"),
        "legal_representative": L_("recipient_role", "legal representative"),
        "litigation_agent": L_("recipient_role", "litigation agent"),
    },
    # E-service consent (clerk action record_consent) and a rebuttal's grounds (record_rebuttal).
    "consent_basis": {
        "express": L_("consent_basis", "express consent"),
        "contract": L_("consent_basis", "agreed in a contract"),
        "filing": L_("consent_basis", "given in a filing"),
        "tacit": L_("consent_basis", "tacit consent"),
    },
    "rebuttal": {
        "system_error": L_("rebuttal", "system error"),
        "not_their_address": L_("rebuttal", "not the recipient's address"),
        "read_by_someone_else": L_("rebuttal", "read by someone else"),
    },
    # Who served, on the proof of service (tracking/certificate.py).
    "server": {
        "court_system": L_("server", "court system (e-service)"),
        "carrier": L_("server", "carrier"),
        "field_server": L_("server", "field server"),
    },
    # The names of the event details a timeline line shows (dispatch page SHOWN_DETAILS).
    "detail": {
        "step": L_("detail", "step"),
        "name": L_("detail", "step name"),
        "channel": L_("detail", "channel"),
        "reason": L_("detail", "reason"),
        "basis": L_("detail", "basis"),
        "policy": L_("detail", "policy"),
        "previous": L_("detail", "previous"),
        "legal_basis": L_("detail", "legal basis"),
        "written_date": L_("detail", "date written on the proof"),
        "tsa": L_("detail", "time-stamping authority"),
    },
    # Why an attempt ended, as the public notice's "methods tried" lists it (CPL-95): the codes
    # escalation, the field visit and the postal outcomes record.
    "attempt_reason": {
        "not_found": L_("attempt_reason", "nobody found"),
        "moved": L_("attempt_reason", "moved away"),
        "no_such_address": L_("attempt_reason", "no such address"),
        "refused_not_left": L_("attempt_reason", "refused, not left"),
        "lost": L_("attempt_reason", "lost in the post"),
        "returned: address_wrong": L_("attempt_reason", "returned: wrong address"),
        "returned: moved": L_("attempt_reason", "returned: moved away"),
        "returned: unknown_recipient": L_("attempt_reason", "returned: no such recipient"),
        "returned: nobody_home": L_("attempt_reason", "returned: nobody found"),
        "returned: other": L_("attempt_reason", "returned"),
        "bounce": L_("attempt_reason", "bounced"),
        "channel_unavailable": L_("attempt_reason", "channel not configured"),
        "window_elapsed": L_("attempt_reason", "waiting period elapsed"),
        "escalated_by_clerk": L_("attempt_reason", "escalated by a clerk"),
        "service_completed": L_("attempt_reason", "service completed by another method"),
        "dispatch_cancelled": L_("attempt_reason", "dispatch cancelled"),
    },
}


def label(locale: str, kind: str, code: object) -> str:
    """The label of ``code`` in the table ``kind``, in ``locale``.

    An unknown code shows as itself rather than breaking the page that shows it; the label
    tests and the page crawl (tests/integration/templates/test_page_crawl.py) fail on it.
    """
    key = str(code)
    msgid = LABELS[kind].get(key)
    if msgid is None:
        return key
    return ptranslate(locale, kind, msgid)


def has_label(kind: str, code: object) -> bool:
    return str(code) in LABELS.get(kind, {})


# The table a reason recorded with an event of these types reads from (else "reason").
REASON_TABLES: dict[str, str] = {
    EventType.OWNER_ASSIGNED: "owner_reason",
    EventType.POSTAL_RETURNED: "return_reason",
    EventType.VISIT_FAILED: "visit_failure",
}
# Reasons written as "<prefix><code>" (channels/postal/outcomes.py, clerk_action_handlers.py):
# the prefix's msgid and the table its code reads from.
_COMPOSED = (
    ("returned: ", N_("returned: %(reason)s"), "return_reason"),
    ("refused by ", N_("refused by %(reason)s"), "relation"),
    ("rebuttal: ", N_("rebuttal: %(reason)s"), "rebuttal"),
)


def reason_label(locale: str, reason: object, event_type: object = None) -> str:
    """A recorded reason (an attempt's, a dispatch's state reason, an event's ``reason``) as a
    person reads it. Reasons are codes, or a code behind a fixed prefix; anything else is a
    provider's own words (an SMTP diagnostic, a carrier's error) and shows as it came."""
    text = str(reason)
    table = REASON_TABLES.get(str(event_type), "reason")
    if has_label(table, text):
        return label(locale, table, text)
    for prefix, msgid, kind in _COMPOSED:
        if text.startswith(prefix) and has_label(kind, text[len(prefix) :]):
            return translate(locale, msgid, reason=label(locale, kind, text[len(prefix) :]))
    code, _, detail = text.partition(": ")
    if not has_label("reason", code):
        return text
    named = label(locale, "reason", code)
    return f"{named}: {detail}" if detail else named
