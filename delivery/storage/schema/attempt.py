"""The attempts: one try of one channel at one address."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

OPEN_ATTEMPTS = "state IN ('pending', 'sending', 'sent', 'delivered')"
# Open attempts waiting for a reason (a channel not configured here: the queue flags them).
WAITING_ATTEMPTS = f"reason IS NOT NULL AND {OPEN_ATTEMPTS}"

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(30), nullable=False),
    sa.Column("contact_id", ID, sa.ForeignKey("contacts.id")),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("source", sa.String(30), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("reason", sa.String(500)),
    sa.Column("provider_ref", sa.String(300), index=True),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("next_action_at", UtcDateTime),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("link_issued_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The worker process (``workers.id``) that claimed a ``sending`` attempt: the sweep releases
    # the claim only when that worker has stopped heartbeating (docs/decisions/0024).
    sa.Column("claimed_by", ID),
    # The sweep's pages of due sends, in order, each after the last.
    sa.Index("ix_attempts_next_action_at_id", "next_action_at", "id"),
    # The queue's "needs action" candidates: the open attempts waiting (channel unavailable).
    sa.Index(
        "ix_attempts_waiting",
        "dispatch_id",
        "reason",
        postgresql_where=sa.text(WAITING_ATTEMPTS),
        sqlite_where=sa.text(WAITING_ATTEMPTS),
    ),
)
