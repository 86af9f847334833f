"""The sweep's pages (issue 16, item 5): the due-time indexes of ``dispatches``, ``attempts`` and
``webhook_deliveries`` become (due time, id), so each page of due timers, read after the last
row of the one before (delivery/storage/timers.py), is an index range, not a sort of every
due row.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# (table, due-time column)
TIMERS = (
    ("dispatches", "next_action_at"),
    ("attempts", "next_action_at"),
    ("webhook_deliveries", "next_attempt_at"),
)


def upgrade() -> None:
    for table, column in TIMERS:
        op.create_index(f"ix_{table}_{column}_id", table, [column, "id"], unique=False)
        op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade() -> None:
    for table, column in TIMERS:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
        op.drop_index(f"ix_{table}_{column}_id", table_name=table)
