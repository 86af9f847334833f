"""Postal: one piece of court express mail per postal attempt, and the carrier's events."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

postal_pieces = sa.Table(
    "postal_pieces",
    metadata,
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("carrier", sa.String(40), nullable=False),
    sa.Column("tracking_number", sa.String(100), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("handed_over_at", UtcDateTime),
    sa.Column("next_poll_at", UtcDateTime, index=True),
    sa.UniqueConstraint("carrier", "tracking_number", name="uq_postal_pieces_carrier_tracking"),
)

carrier_events = sa.Table(
    "carrier_events",
    metadata,
    # The carrier's own event id: a webhook replayed, or the same event seen again by polling,
    # is recognised here and changes nothing.
    sa.Column("carrier", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), nullable=False, index=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
)
