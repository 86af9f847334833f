"""The queue's counts per state and date ranges at a million dispatches (issue 16, item 2): each
state is counted up to a cap, and the index the counts read, (court, state), becomes (court,
state, owner_id, created_at, served_at) with the id included on PostgreSQL, so the owner and
date filters are checked in the index and the channel filter joins on its id: no dispatch row
is read to count it (docs/decisions/0054). The date indexes include the id (and the court)
too: the ids a closed date range spans are read from them alone, to bound the queue's
newest-first scans.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# As in delivery/storage/schema/dispatch.py (COUNTED_FILTERS).
COUNTED_FILTERS = ["court", "state", "owner_id", "created_at", "served_at"]
# (name, columns, included on PostgreSQL)
DATE_INDEXES = (
    ("ix_dispatches_created_at", ["created_at"], ["id", "court"]),
    ("ix_dispatches_court_served_at", ["court", "served_at"], ["id"]),
)


def upgrade() -> None:
    op.create_index(
        "ix_dispatches_court_state_filters",
        "dispatches",
        COUNTED_FILTERS,
        unique=False,
        postgresql_include=["id"],
    )
    op.drop_index("ix_dispatches_court_state", table_name="dispatches")
    for name, columns, included in DATE_INDEXES:
        op.drop_index(name, table_name="dispatches")
        op.create_index(name, "dispatches", columns, unique=False, postgresql_include=included)


def downgrade() -> None:
    for name, columns, _included in DATE_INDEXES:
        op.drop_index(name, table_name="dispatches")
        op.create_index(name, "dispatches", columns, unique=False)
    op.create_index("ix_dispatches_court_state", "dispatches", ["court", "state"], unique=False)
    op.drop_index("ix_dispatches_court_state_filters", table_name="dispatches")
