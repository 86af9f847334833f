"""In person: one field task per visit (one visit = one attempt)."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

field_tasks = sa.Table(
    "field_tasks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("attempt_id", ID, sa.ForeignKey("attempts.id"), nullable=False, unique=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("assignee_id", ID, sa.ForeignKey("staff_users.id"), index=True),
    sa.Column("visit_no", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("due_at", UtcDateTime),
    sa.Column("assigned_at", UtcDateTime),
    sa.Column("completed_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
