"""The queue's needs-action candidates checked from the index (issue 16, item 2): the two
indexes a broad filter's newest-first scan and a surname's prefix read, the id's
(ix_dispatches_id_filters) and the recipient name's, include on PostgreSQL the dispatch columns
the candidates' flag conditions read, so their thousands of dispatches are checked without
reading each row (the conditions on other tables are keyed by the id): a surname's page read
~15,000 rows from disk for its count (docs/decisions/0058). Only the chosen candidates' rows
are read. The keys are unchanged, so nothing changes on SQLite (which has no included columns)
but the rebuild.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# As in delivery/storage/schema/dispatch.py (ID_FILTERS, FLAG_COLUMNS).
ID_FILTERS = ["id", "state", "owner_id", "created_at", "served_at"]
FLAG_COLUMNS = [
    "court",
    "state",
    "state_reason",
    "service_deadline_at",
    "step_started_at",
    "next_action_at",
]
NAME_OPS = {"recipient_name": "varchar_pattern_ops"}


def _id_filters(included: list[str]) -> None:
    op.drop_index("ix_dispatches_id_filters", table_name="dispatches")
    op.create_index(
        "ix_dispatches_id_filters", "dispatches", ID_FILTERS, postgresql_include=included
    )


def _recipient_name(included: list[str]) -> None:
    op.drop_index("ix_dispatches_recipient_name", table_name="dispatches")
    op.create_index(
        "ix_dispatches_recipient_name",
        "dispatches",
        ["recipient_name"],
        postgresql_ops=NAME_OPS,
        postgresql_include=included,
    )


def upgrade() -> None:
    _id_filters([c for c in FLAG_COLUMNS if c not in ID_FILTERS])
    _recipient_name(["id", *FLAG_COLUMNS])


def downgrade() -> None:
    _id_filters([])
    _recipient_name([])
