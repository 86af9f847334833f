"""Access to personal data: each time a member of staff revealed one of a recipient's contacts in
full (docs/decisions/0035). Not evidence of service — it is kept beside the evidence chain, not in
it — and, like the chain, only ever appended to."""

from __future__ import annotations

import sqlalchemy as sa

from delivery.storage.schema.base import ID, UtcDateTime, metadata

contact_reveals = sa.Table(
    "contact_reveals",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dispatch_id", ID, sa.ForeignKey("dispatches.id"), nullable=False, index=True),
    sa.Column("contact_id", ID, sa.ForeignKey("contacts.id"), nullable=False),
    sa.Column("staff_id", ID, sa.ForeignKey("staff_users.id"), nullable=False),
    # The injected clock's time of the reveal: the supervisors' export reads a range of it.
    sa.Column("revealed_at", UtcDateTime, nullable=False, index=True),
)
