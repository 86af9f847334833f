"""The clerk workspace: dispatch ownership, CSV batches, and the indexes the queue and the reports
read with.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The attempts still open (delivery.domain.OPEN_ATTEMPT_STATES), as in schema.OPEN_ATTEMPTS.
OPEN_ATTEMPTS = "state IN ('pending', 'sending', 'sent', 'delivered')"
# The event types the reports read (services.reports), as in schema.OUTCOME_EVENTS/OWNER_EVENTS.
OUTCOME_EVENTS = (
    "type IN ('dispatch_served', 'dispatch_failed', 'dispatch_cancelled', "
    "'dispatch_unserved', 'dispatch_resumed')"
)
OWNER_EVENTS = "type IN ('owner_assigned', 'owner_reassigned')"


def upgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.String(length=26), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_dispatches_owner_id_staff_users"), "staff_users", ["owner_id"], ["id"]
        )
        batch_op.create_index("ix_dispatches_court_id", ["court", "id"], unique=False)
        batch_op.create_index("ix_dispatches_court_served_at", ["court", "served_at"], unique=False)
        batch_op.create_index(
            "ix_dispatches_recipient_name",
            ["recipient_name"],
            unique=False,
            postgresql_ops={"recipient_name": "varchar_pattern_ops"},
        )
        batch_op.create_index(
            "ix_dispatches_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_dispatches_court_state", ["court", "state"], unique=False)
        batch_op.create_index(
            "ix_dispatches_id_filters",
            ["id", "state", "owner_id", "created_at", "served_at"],
            unique=False,
        )
    op.create_index(
        "ix_attempts_open_channel",
        "attempts",
        ["channel", "dispatch_id"],
        unique=False,
        postgresql_where=sa.text(OPEN_ATTEMPTS),
        sqlite_where=sa.text(OPEN_ATTEMPTS),
    )
    op.create_index(
        "ix_attempts_dispatch_id_id",
        "attempts",
        ["dispatch_id", "id"],
        unique=False,
        postgresql_include=["step_index", "channel"],
    )
    op.create_index("ix_events_type_occurred_at", "events", ["type", "occurred_at"], unique=False)
    op.create_index(
        "ix_events_outcomes",
        "events",
        ["occurred_at"],
        unique=False,
        postgresql_include=["dispatch_id", "seq", "type", "data"],
        postgresql_where=sa.text(OUTCOME_EVENTS),
        sqlite_where=sa.text(OUTCOME_EVENTS),
    )
    op.create_index(
        "ix_events_owners",
        "events",
        ["occurred_at"],
        unique=False,
        postgresql_include=["dispatch_id", "seq", "data"],
        postgresql_where=sa.text(OWNER_EVENTS),
        sqlite_where=sa.text(OWNER_EVENTS),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_invalid", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_batches_created_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index(op.f("ix_batches_court"), "batches", ["court"], unique=False)
    op.create_index(op.f("ix_batches_created_by"), "batches", ["created_by"], unique=False)
    op.create_table(
        "batch_rows",
        sa.Column("batch_id", sa.String(length=26), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("dispatch_id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_rows_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"], ["dispatches.id"], name=op.f("fk_batch_rows_dispatch_id_dispatches")
        ),
        sa.PrimaryKeyConstraint("batch_id", "row_no", name=op.f("pk_batch_rows")),
    )
    op.create_index(op.f("ix_batch_rows_dispatch_id"), "batch_rows", ["dispatch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_batch_rows_dispatch_id"), table_name="batch_rows")
    op.drop_table("batch_rows")
    op.drop_index(op.f("ix_batches_created_by"), table_name="batches")
    op.drop_index(op.f("ix_batches_court"), table_name="batches")
    op.drop_table("batches")
    op.drop_index("ix_events_owners", table_name="events")
    op.drop_index("ix_events_outcomes", table_name="events")
    op.drop_index("ix_events_type_occurred_at", table_name="events")
    op.drop_index("ix_attempts_dispatch_id_id", table_name="attempts")
    op.drop_index("ix_attempts_open_channel", table_name="attempts")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatches_id_filters")
        batch_op.drop_index("ix_dispatches_court_state")
        batch_op.drop_index("ix_dispatches_owner_id_created_at")
        batch_op.drop_index("ix_dispatches_recipient_name")
        batch_op.drop_index("ix_dispatches_court_served_at")
        batch_op.drop_index("ix_dispatches_court_id")
        batch_op.drop_constraint(
            batch_op.f("fk_dispatches_owner_id_staff_users"), type_="foreignkey"
        )
        batch_op.drop_column("owner_id")
