"""Public notice: the notice text, its approval and its publications."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), nullable=False, unique=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("case_number", sa.String(100), nullable=False, index=True),
    sa.Column("recipient_name", sa.String(200), nullable=False),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("reason", sa.JSON),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("approved_at", UtcDateTime),
    sa.Column("first_published_at", UtcDateTime),
    sa.Column("last_published_at", UtcDateTime),
    sa.Column("deemed_served_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

notice_publications = sa.Table(
    "notice_publications",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("notice_id", ID, sa.ForeignKey("notices.id"), nullable=False, index=True),
    sa.Column("place", sa.String(40), nullable=False),
    sa.Column("detail", sa.String(500)),
    sa.Column("published_at", UtcDateTime, nullable=False),
    sa.Column("media_id", ID, sa.ForeignKey("media_files.id")),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
