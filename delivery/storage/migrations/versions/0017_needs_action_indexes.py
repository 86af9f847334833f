"""The queue's "needs action" candidates at a million dispatches (issue 16, item 2): each flag
the candidates query looks for is read from a small partial index holding just the rows that
raise it, so PostgreSQL builds each flag's set of dispatches from that index (a hashed subplan)
instead of reading every event, open attempt, message or delivery (docs/decisions/0051). A
webhook delivery now names its message's dispatch (filled here from the message), so the
failed ones are found without joining each of their messages.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# As in delivery/storage/schema (FLAG_EVENTS, WAITING_ATTEMPTS, FAILED_DELIVERIES,
# UNTIMED_CHECKPOINTS).
FLAG_EVENTS = "type IN ('dispatch_at_risk', 'certificate_blocked', 'certificate_issued')"
WAITING_ATTEMPTS = "reason IS NOT NULL AND state IN ('pending', 'sending', 'sent', 'delivered')"
FAILED_DELIVERIES = "state = 'failed'"
UNTIMED_CHECKPOINTS = "timestamped_at IS NULL"

# (name, table, columns, predicate)
INDEXES = (
    ("ix_events_flags", "events", ["dispatch_id", "type", "seq"], FLAG_EVENTS),
    ("ix_attempts_waiting", "attempts", ["dispatch_id", "reason"], WAITING_ATTEMPTS),
    ("ix_webhook_deliveries_failed", "webhook_deliveries", ["dispatch_id"], FAILED_DELIVERIES),
    (
        "ix_checkpoint_timestamps_untimed",
        "checkpoint_timestamps",
        ["checkpointed_at", "dispatch_id"],
        UNTIMED_CHECKPOINTS,
    ),
)

_DELIVERIES = sa.table(
    "webhook_deliveries", sa.column("message_id", sa.String()), sa.column("dispatch_id")
)
_MESSAGES = sa.table("outbox_messages", sa.column("id", sa.String()), sa.column("dispatch_id"))


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries", sa.Column("dispatch_id", sa.String(length=26), nullable=True)
    )
    message_dispatch = (
        sa.select(_MESSAGES.c.dispatch_id)
        .where(_MESSAGES.c.id == _DELIVERIES.c.message_id)
        .scalar_subquery()
    )
    op.execute(_DELIVERIES.update().values(dispatch_id=message_dispatch))
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("dispatch_id", existing_type=sa.String(length=26), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_webhook_deliveries_dispatch_id_dispatches"),
            "dispatches",
            ["dispatch_id"],
            ["id"],
        )
    for name, table, columns, predicate in INDEXES:
        op.create_index(
            name,
            table,
            columns,
            unique=False,
            postgresql_where=sa.text(predicate),
            sqlite_where=sa.text(predicate),
        )


def downgrade() -> None:
    for name, table, _columns, _predicate in INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_webhook_deliveries_dispatch_id_dispatches"), type_="foreignkey"
        )
        batch_op.drop_column("dispatch_id")
