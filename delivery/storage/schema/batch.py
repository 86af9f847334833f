"""The clerk workspace: CSV batches (one upload = one batch; rows point at their dispatches)."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("court", sa.String(200), nullable=False, index=True),
    sa.Column("created_by", ID, sa.ForeignKey("staff_users.id"), nullable=False, index=True),
    sa.Column("filename", sa.String(300), nullable=False),
    sa.Column("encoding", sa.String(20), nullable=False),
    sa.Column("rows_total", sa.Integer, nullable=False),
    sa.Column("rows_invalid", sa.Integer, nullable=False),
    # [{"row": n, "reference": r, "field": f, "message": m}], in row order
    sa.Column("errors", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

batch_rows = sa.Table(
    "batch_rows",
    metadata,
    # A valid row of a batch and the dispatch it queued (or found again: a re-uploaded row whose
    # reference was already queued points at the first dispatch and creates nothing).
    sa.Column("batch_id", ID, sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("row_no", sa.Integer, primary_key=True),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
)
