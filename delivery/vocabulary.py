"""The project's vocabulary: the names the code, the completion rules and the stored data match on.

Every channel, event type, webhook type and state the code compares or records is a member here,
so that a misspelt name fails loudly (mypy, an unknown attribute, or recording an unknown type:
delivery/storage/unit_of_work.py) instead of silently never matching — a rule that waits for
``"postal_deliverd"`` would simply never serve. The members are ``StrEnum``s: each is equal to
its string and serialises to it (JSON, RFC 8785, SQL parameters), so stored rows, webhook bodies
and evidence hashes are the same bytes as before. tests/unit/delivery/test_vocabulary.py fails
when code outside this module compares a bare string with one of these names.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How a document reaches the recipient; a policy step names one or more (escalation/policy)."""

    EMAIL = "email"
    SMS = "sms"
    POSTAL = "postal"
    IN_PERSON = "in_person"
    PUBLIC_NOTICE = "public_notice"


class SmsProvider(StrEnum):
    """The SMS providers the ``sms`` channel can send through, tried in the order the number's
    route names (delivery/services/sms_routing.py; docs/decisions/0044, 0045)."""

    TWILIO = "twilio"
    ALIYUN = "aliyun"


class SmsProviderState(StrEnum):
    """A provider's standing in the failover (docs/decisions/0045): ``active`` takes its place
    in the route, ``demoted`` is tried only after every other, ``probing`` is back in its place
    on trial until its figures say healthy (``active``) or not (``demoted`` again)."""

    ACTIVE = "active"
    DEMOTED = "demoted"
    PROBING = "probing"


class SmsKind(StrEnum):
    """What an SMS Songda sends is: a notice of service (an attempt's), an identity-check code
    or a request to confirm one's addresses. A reply answers the latest message to the number,
    and only a reply to a notice of service can serve (OLR-31; docs/decisions/0042)."""

    SERVICE = "service"
    CODE = "code"
    CONFIRMATION_REQUEST = "confirmation_request"


class ContactSource(StrEnum):
    RECIPIENT_CONFIRMED = "recipient_confirmed"
    COURT_FOUND = "court_found"


class ConsentBasis(StrEnum):
    """Why the recipient's consent to electronic service stands (OLR-29/30)."""

    EXPRESS = "express"  # agreed expressly (an address confirmation form, CPL-INT-136)
    CONTRACT = "contract"  # a clause agreed before the suit
    FILING = "filing"  # an electronic address in their own filing
    TACIT = "tacit"  # acted on an earlier e-service without objecting


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    POSTAL = "postal"


class RecipientRole(StrEnum):
    """The recipient's standing in the case (诉讼地位), as a Chinese civil court names the
    parties and those served for them: the API, the new-dispatch form and CSV batches accept
    only these (delivery/api/case_system/dispatch_request.py); rows stored before the list was
    closed keep whatever role they were given and read as it is (docs/decisions/0031)."""

    PLAINTIFF = "plaintiff"  # 原告
    DEFENDANT = "defendant"  # 被告
    THIRD_PARTY = "third_party"  # 第三人
    APPELLANT = "appellant"  # 上诉人
    APPELLEE = "appellee"  # 被上诉人
    APPLICANT = "applicant"  # 申请人 (also 申请执行人, 再审申请人)
    RESPONDENT = "respondent"  # 被申请人 (also 被执行人)
    LEGAL_REPRESENTATIVE = "legal_representative"  # 法定代理人
    LITIGATION_AGENT = "litigation_agent"  # 诉讼代理人


class DocumentKind(StrEnum):
    """What a served document is: the periods that run from service (escalation/periods.py)
    and the rules of public notice depend on it (CPL-INT-133, CPL-INT-138)."""

    COMPLAINT = "complaint"
    SUMMONS = "summons"
    JUDGMENT = "judgment"
    RULING = "ruling"
    MEDIATION_STATEMENT = "mediation_statement"
    NOTICE = "notice"
    EVIDENCE = "evidence"
    OTHER = "other"


# Channels that carry a recipient link and need e-service consent (OLR-29/30).
ELECTRONIC_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})
# The kind of the recipient's address each channel serves (public notice serves none). Keyed by
# ``str`` so that a channel named in a request or a policy file is looked up as it came.
CHANNEL_CONTACTS: dict[str, ContactKind] = {
    Channel.EMAIL: ContactKind.EMAIL,
    Channel.SMS: ContactKind.PHONE,
    Channel.POSTAL: ContactKind.POSTAL,
    Channel.IN_PERSON: ContactKind.POSTAL,
}


class DispatchState(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    NOTICE_PENDING = "notice_pending"
    SERVED = "served"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    BOUNCED = "bounced"
    RETURNED = "returned"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class FieldTaskState(StrEnum):
    """A field server's task (channels/in_person): open until its visit is recorded."""

    OPEN = "open"
    DONE = "done"


class NoticeState(StrEnum):
    """A public notice (channels/public_notice): drafted, then published on approval."""

    DRAFT = "draft"
    PUBLISHED = "published"


class WebhookDeliveryState(StrEnum):
    """One outbox message on its way to one webhook endpoint (delivery/storage/outbox.py)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class EventType(StrEnum):
    """The evidence catalogue: every type an event of a dispatch's chain may have.

    Recording any other type raises (``DispatchTransaction.record``). The clerk workspace labels
    each type in templates/pages/workspace_labels.html.
    """

    # The dispatch: created, owned, changed by a clerk, and its outcome (the outcome events and
    # their reversals are the reports' projection, delivery/domain.py OUTCOME_EVENTS).
    DISPATCH_CREATED = "dispatch_created"
    OWNER_ASSIGNED = "owner_assigned"
    OWNER_REASSIGNED = "owner_reassigned"
    CONTACT_ADDED = "contact_added"
    # A recipient-confirmed address the recipient replaced in a signed form is court-found
    # from then on (CPL-INT-137, PM-11, CPL-INT-135; docs/decisions/0043).
    CONTACT_SUPERSEDED = "contact_superseded"
    # Intake took the recipient's signed address confirmation of the case group (CPL-INT-137).
    CONFIRMED_ADDRESSES_APPLIED = "confirmed_addresses_applied"
    CONSENT_RECORDED = "consent_recorded"
    POLICY_CHANGED = "policy_changed"
    DISPATCH_AT_RISK = "dispatch_at_risk"
    DISPATCH_SERVED = "dispatch_served"
    DISPATCH_UNSERVED = "dispatch_unserved"
    DISPATCH_FAILED = "dispatch_failed"
    DISPATCH_CANCELLED = "dispatch_cancelled"
    DISPATCH_RESUMED = "dispatch_resumed"

    # The ladder (escalation) and a clerk acting on it.
    STEP_STARTED = "step_started"
    STEP_REPEATED = "step_repeated"
    STEP_SKIPPED = "step_skipped"
    NOTICE_AWAITING_APPROVAL = "notice_awaiting_approval"
    CLERK_ESCALATED = "clerk_escalated"
    CLERK_SKIPPED_STEP = "clerk_skipped_step"
    CLERK_RETRIED_CHANNEL = "clerk_retried_channel"
    SERVICE_REBUTTED = "service_rebutted"
    # Any channel: the signed or sealed proof of service came back (CPL-87).
    PROOF_SIGNED = "proof_signed"

    # An attempt's own life, on every channel (``attempt_<state>`` for a state change).
    ATTEMPT_CREATED = "attempt_created"
    ATTEMPT_WAITING = "attempt_waiting"
    ATTEMPT_CHANNEL_UNAVAILABLE = "attempt_channel_unavailable"
    ATTEMPT_SENDING = "attempt_sending"
    ATTEMPT_RETRY_SCHEDULED = "attempt_retry_scheduled"
    ATTEMPT_SEND_INTERRUPTED = "attempt_send_interrupted"
    ATTEMPT_SENT = "attempt_sent"
    ATTEMPT_FAILED = "attempt_failed"
    ATTEMPT_BOUNCED = "attempt_bounced"
    ATTEMPT_EXPIRED = "attempt_expired"
    ATTEMPT_CANCELLED = "attempt_cancelled"

    # The recipient's link (e-mail, SMS, the QR code on a letter) and its identity check.
    LINK_OPENED = "link_opened"
    OTP_SENT = "otp_sent"
    OTP_SEND_FAILED = "otp_send_failed"
    IDENTITY_VERIFIED = "identity_verified"
    IDENTITY_FAILED = "identity_failed"
    IDENTITY_REJECTED_LOCKED = "identity_rejected_locked"
    LINK_LOCKED = "link_locked"
    LINK_REISSUED = "link_reissued"
    DOCUMENT_DOWNLOADED = "document_downloaded"

    # The address confirmation form (送达地址确认书, CPL-INT-136): a clerk's request, each message
    # carrying its link, the recipient's identity check on it and the signed form.
    ADDRESS_CONFIRMATION_REQUESTED = "address_confirmation_requested"
    ADDRESS_CONFIRMATION_REQUEST_SENT = "address_confirmation_request_sent"
    CONFIRMATION_IDENTITY_VERIFIED = "confirmation_identity_verified"
    CONFIRMATION_IDENTITY_FAILED = "confirmation_identity_failed"
    ADDRESS_CONFIRMED = "address_confirmed"

    # SMS receipts (channels/sms).
    SMS_DELIVERED = "sms_delivered"
    SMS_RECEIPT_CONTRADICTED = "sms_receipt_contradicted"

    # The recipient answered an e-mail or SMS (channels/sms, channels/email): ``automatic`` in
    # its data marks an out-of-office or a delivery report, evidence that never serves.
    REPLY_RECEIVED = "reply_received"

    # Post (channels/postal): handed to the carrier, its tracking, the return receipt.
    MAIL_HANDED_OVER = "mail_handed_over"
    POSTAL_ACCEPTED = "postal_accepted"
    POSTAL_TRACKING = "postal_tracking"
    POSTAL_DELIVERED = "postal_delivered"
    POSTAL_REFUSED = "postal_refused"
    POSTAL_RETURNED = "postal_returned"
    RETURN_CARD_UPLOADED = "return_card_uploaded"

    # In person (channels/in_person): the field task and its visit.
    FIELD_TASK_OPENED = "field_task_opened"
    FIELD_TASK_ASSIGNED = "field_task_assigned"
    FIELD_TASK_UNASSIGNED = "field_task_unassigned"
    VISIT_SERVED = "visit_served"
    VISIT_REFUSED_LEFT = "visit_refused_left"
    VISIT_REFUSED_FILMED = "visit_refused_filmed"
    VISIT_FAILED = "visit_failed"

    # Public notice (channels/public_notice).
    NOTICE_DRAFTED = "notice_drafted"
    NOTICE_EDITED = "notice_edited"
    NOTICE_APPROVED = "notice_approved"
    NOTICE_PUBLISHED = "notice_published"
    MEDIA_UPLOADED = "media_uploaded"

    # The evidence itself: the court key signing the chain, a TSA's time for it, the certificate.
    CHAIN_CHECKPOINT = "chain_checkpoint"
    CHECKPOINT_TIMESTAMPED = "checkpoint_timestamped"
    CERTIFICATE_ISSUED = "certificate_issued"
    CERTIFICATE_BLOCKED = "certificate_blocked"


EVENT_TYPES = frozenset(EventType)


class WebhookEventType(StrEnum):
    """The webhook catalogue (shared/design.md, "Webhook event types"), in its order: the
    OpenAPI document and the endpoint form list them so. Each is sent with the event named."""

    DISPATCH_CREATED = "dispatch.created"  # dispatch_created
    DISPATCH_ESCALATED = "dispatch.escalated"  # step_started
    DISPATCH_AT_RISK = "dispatch.at_risk"  # dispatch_at_risk (a flag, not a state)
    # notice_awaiting_approval (the dispatch goes notice_pending)
    DISPATCH_NOTICE_AWAITING_APPROVAL = "dispatch.notice_awaiting_approval"
    DISPATCH_NOTICE_PUBLISHED = "dispatch.notice_published"  # notice_published
    DISPATCH_SERVED = "dispatch.served"  # dispatch_served
    DISPATCH_UNSERVED = "dispatch.unserved"  # dispatch_unserved (a rebuttal or a bounce)
    DISPATCH_FAILED = "dispatch.failed"  # dispatch_failed
    DISPATCH_CANCELLED = "dispatch.cancelled"  # dispatch_cancelled
    ATTEMPT_UPDATED = "attempt.updated"  # every attempt_<state> but attempt_sending
