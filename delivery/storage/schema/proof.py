"""Proof of service: certificates (content-addressed PDFs), the notice codes on messages, and
third-party time — each chain checkpoint waiting for, or holding, its RFC 3161 token."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

UNTIMED_CHECKPOINTS = "timestamped_at IS NULL"

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # The chain head the certificate pins: the hash of the dispatch_served event, and its seq.
    sa.Column("chain_head", sa.String(64), nullable=False),
    sa.Column("chain_seq", sa.Integer, nullable=False),
    sa.Column("served_at", UtcDateTime, nullable=False),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("legal_basis", sa.String(40), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # A service reversed later keeps its certificate, marked superseded by the next one.
    sa.Column("superseded_at", UtcDateTime),
    sa.Column("supersedes_id", ID, sa.ForeignKey("certificates.id")),
    sa.UniqueConstraint("dispatch_id", "chain_seq", name="uq_certificates_dispatch_seq"),
)

notice_codes = sa.Table(
    "notice_codes",
    metadata,
    # The short code printed on every e-mail, SMS and letter: /check tells whether it is genuine.
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

checkpoint_timestamps = sa.Table(
    "checkpoint_timestamps",
    metadata,
    # One row per chain_checkpoint event, written in the transaction that records it when a TSA
    # is configured; the token itself is evidence, in the checkpoint_timestamped event.
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), primary_key=True),
    sa.Column("checkpoint_seq", sa.Integer, primary_key=True),
    sa.Column("checkpoint_hash", sa.String(64), nullable=False),
    sa.Column("checkpointed_at", UtcDateTime, nullable=False),
    sa.Column("tries", sa.Integer, nullable=False, default=0),
    # When to ask the TSA (again); None once the token is recorded.
    sa.Column("next_attempt_at", UtcDateTime, index=True),
    sa.Column("timestamped_at", UtcDateTime),
    # When the missing token was first reported to the operator (logged once).
    sa.Column("flagged_at", UtcDateTime),
    # The checkpoints still without their token (the queue flags the overdue ones).
    sa.Index(
        "ix_checkpoint_timestamps_untimed",
        "checkpointed_at",
        "dispatch_id",
        postgresql_where=sa.text(UNTIMED_CHECKPOINTS),
        sqlite_where=sa.text(UNTIMED_CHECKPOINTS),
    ),
)
