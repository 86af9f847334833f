"""The names a person reads for Songda's codes: states, channels, roles, kinds, reasons, events.

A code (``in_progress``, ``no_e_service_consent``) is for machines and the evidence chain; a page,
an e-mail, a PDF or a CLI message shows its label in the reader's language instead. Every label is
a msgid of the message catalogue (templates/i18n.py) with the table's kind as its gettext context,
so "served" as a dispatch state and "served" as a visit outcome can read differently in Chinese.
tests/unit/templates/test_labels.py checks that every value of the vocabulary's enums has one.
"""

from __future__ import annotations

from templates.i18n import L_ as L_
from templates.i18n import ptranslate
from templates.reason_labels import REASON_LABELS

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
        "mail": L_("step", "mail"),
        "personal": L_("step", "personal service"),
    },
    # How a recipient was identified before signing an address confirmation form.
    "identity_method": {
        "id_last4": L_("identity_method", "the last 4 characters of the identity number"),
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
        "in_person": L_("source", "field server"),
        "public_notice": L_("source", "public notice"),
        "workspace": L_("source", "clerk workspace"),
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
        "clerk_escalated": L_("event", "escalated by hand"),
        "clerk_skipped_step": L_("event", "step skipped by hand"),
        "clerk_retried_channel": L_("event", "channel retried by hand"),
        "contact_added": L_("event", "contact added"),
        "contact_superseded": L_("event", "confirmed address replaced by the recipient"),
        "confirmed_addresses_applied": L_("event", "confirmed addresses applied (CPL-INT-137)"),
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
        "reply_received": L_("event", "reply received"),
        "mail_handed_over": L_("event", "handed to the carrier"),
        "document_downloaded": L_("event", "document downloaded"),
        "link_locked": L_("event", "link locked"),
        "link_reissued": L_("event", "link reissued"),
        "postal_tracking": L_("event", "carrier tracking update"),
        "field_task_unassigned": L_("event", "field server unassigned"),
        "address_confirmation_requested": L_("event", "address confirmation requested"),
        "address_confirmation_request_sent": L_("event", "address confirmation request sent"),
        "confirmation_identity_verified": L_("event", "identity verified (address confirmation)"),
        "confirmation_identity_failed": L_("event", "identity check failed (address confirmation)"),
        "address_confirmed": L_("event", "addresses confirmed (form signed)"),
    },
    "clerk_action": {
        "escalate": L_("clerk_action", "Escalate to the next step"),
        "skip_step": L_("clerk_action", "Skip a step"),
        "retry_channel": L_("clerk_action", "Retry a channel"),
        "record_outcome": L_("clerk_action", "Record an outcome"),
        "add_contact": L_("clerk_action", "Add a contact"),
        "repair_contact": L_("clerk_action", "Record a repaired contact (ICP-16)"),
        "record_consent": L_("clerk_action", "Record e-service consent"),
        "change_policy": L_("clerk_action", "Change the policy"),
        "cancel": L_("clerk_action", "Cancel the dispatch"),
        "record_rebuttal": L_("clerk_action", "Record a rebuttal"),
        "reassign_owner": L_("clerk_action", "Reassign the owner"),
        "assign_field_server": L_("clerk_action", "Assign a field server"),
        "edit_notice": L_("clerk_action", "Edit the notice"),
        "approve_notice": L_("clerk_action", "Review and approve the notice"),
        "record_publication": L_("clerk_action", "Record a publication"),
        "request_address_confirmation": L_(
            "clerk_action", "Ask the recipient to confirm their addresses"
        ),
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
    **REASON_LABELS,
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
