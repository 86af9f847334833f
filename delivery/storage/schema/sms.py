"""SMS providers: each send to a provider (the failover's figures and the polls), each
provider's standing, and every switch between them (docs/decisions/0045)."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

sms_sends = sa.Table(
    "sms_sends",
    metadata,
    sa.Column("id", ID, primary_key=True),
    # None for an identity-check code (no attempt).
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), index=True),
    sa.Column("provider", sa.String(20), nullable=False),
    # The number (E.164, as attempts keep it) and what the message was (SmsKind): a reply is
    # matched to the latest message to its number, whatever its kind. None before 0015 for the
    # sends with no attempt.
    sa.Column("address", sa.String(500), index=True),
    sa.Column("kind", sa.String(30)),
    sa.Column("started_at", UtcDateTime, nullable=False, index=True),
    # sending (no answer yet: the worker may have died), accepted, refused_number (the number's
    # fault), failed (the provider's definite refusal), unknown (it may have been sent).
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("provider_ref", sa.String(100), index=True),
    sa.Column("receipt_at", UtcDateTime),
    sa.Column("next_poll_at", UtcDateTime, index=True),
)

sms_provider_states = sa.Table(
    "sms_provider_states",
    metadata,
    sa.Column("provider", sa.String(20), primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("since", UtcDateTime, nullable=False),
)

sms_provider_switches = sa.Table(
    "sms_provider_switches",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("from_state", sa.String(20), nullable=False),
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    # The figures the decision was taken on (JSON): sends, errors, slow receipts, the window.
    sa.Column("figures", sa.Text, nullable=False),
)
